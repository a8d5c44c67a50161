import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, rm, symlink } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { agentrcCedarSchema, loadCedar } from "../../plugins/policy/index.js";
import { lint } from "../../src/index.js";
import { initAgent } from "../../src/scaffold/init.js";
import { agentTree, lintTree, only, where } from "./helpers.js";

const HEAD = "AGENT demo\nAUDIT basic\n";
const sha256 = (text: string) => `sha256:${createHash("sha256").update(text, "utf8").digest("hex")}`;

describe("the agentrc Cedar schema", () => {
  it("parses with Cedar and declares the agentrc entity types and actions", async () => {
    const cedar = await loadCedar();
    const json = cedar.schemaToJson(agentrcCedarSchema());
    assert.equal(json.type, "success");
    if (json.type !== "success") return;
    const ns = json.json.AgentRC!;
    assert.deepEqual(Object.keys(ns.entityTypes).sort(), [
      "Agent",
      "Credential",
      "Function",
      "Host",
      "Path",
      "Skill",
      "Tool",
    ]);
    assert.deepEqual(Object.keys(ns.actions).sort(), [
      "agent.delegate",
      "cred.resolve",
      "filesystem.read",
      "filesystem.write",
      "function.invoke",
      "network.egress",
      "skill.invoke",
      "tool.invoke",
    ]);
    assert.deepEqual(ns.actions["tool.invoke"]?.appliesTo?.resourceTypes, ["Tool"]);
    assert.deepEqual(ns.actions["network.egress"]?.appliesTo?.resourceTypes, ["Host"]);
  });
});

describe("merging, formatting and hashing", () => {
  it("merges POLICY blocks (source order), policy/*.cedar (path bytes), then shorthands (source order)", async () => {
    const { policy, diagnostics } = await lintTree({
      Agentfile: `${HEAD}TOOL utcp:a
ALLOW invoke utcp:a
POLICY
// marker-block-1
permit (principal == AgentRC::Agent::"demo", action == AgentRC::Action::"skill.invoke", resource);
END
URL https://api.github.com/repos
POLICY
// marker-block-2
permit (principal == AgentRC::Agent::"demo", action == AgentRC::Action::"function.invoke", resource);
END
`,
      // written in a different order than they are merged: B (0x42) < _ (0x5f) < a (0x61)
      "policy/a.cedar":
        '// marker-file-a\nforbid (principal, action, resource == AgentRC::Tool::"utcp:z");\n',
      "policy/_x.cedar": "// marker-file-_x\n",
      "policy/B.cedar": "// marker-file-B\n",
      "policy/notes.txt": "not a policy",
      "policy/sub/ignored.cedar": "this is not read",
    });
    assert.deepEqual(diagnostics, []);
    assert.ok(policy);
    const order = [
      "marker-block-1",
      "marker-block-2",
      "marker-file-B",
      "marker-file-_x",
      "marker-file-a",
      '@id("Agentfile:4")',
      '@id("Agentfile:9")',
    ].map((m) => policy.text.indexOf(m));
    assert.ok(
      order.every((p, i) => p >= 0 && (i === 0 || p > order[i - 1]!)),
      `${order.join(",")}\n${policy.text}`,
    );
    assert.ok(policy.text.includes("// Agentfile:5 POLICY block\n"), policy.text);
    assert.ok(policy.text.includes("// policy/a.cedar\n"), policy.text);
    assert.ok(!policy.text.includes("not read"), policy.text);
    assert.equal(policy.hash, sha256(policy.text));
    const cedar = await loadCedar();
    const again = cedar.formatPolicies({ policyText: policy.text, lineWidth: 80, indentWidth: 2 });
    assert.deepEqual(again, { type: "success", formatted_policy: policy.text });
  });

  it("gives the same hash whatever the file creation order and the source layout", async () => {
    const agentfile = `${HEAD}TOOL utcp:a\nALLOW invoke utcp:a\n`;
    const a = 'permit(principal,action == AgentRC::Action::"skill.invoke",resource);';
    const b = 'forbid (principal, action, resource == AgentRC::Tool::"utcp:z");\n';
    const first = await lintTree({ Agentfile: agentfile, "policy/a.cedar": a, "policy/b.cedar": b });
    const second = await lintTree({ "policy/b.cedar": b, "policy/a.cedar": a, Agentfile: agentfile });
    const reformatted = await lintTree({
      Agentfile: agentfile,
      "policy/b.cedar": b,
      "policy/a.cedar":
        'permit (\n    principal,\n    action == AgentRC::Action::"skill.invoke",\n    resource\n);\n',
    });
    assert.ok(first.policy && second.policy && reformatted.policy);
    assert.match(first.policy.hash, /^sha256:[0-9a-f]{64}$/);
    assert.equal(second.policy.hash, first.policy.hash);
    assert.equal(second.policy.text, first.policy.text);
    assert.equal(reformatted.policy.hash, first.policy.hash);
  });

  it("compiles an agent without any policy to an empty policy set", async () => {
    const { policy, diagnostics } = await lintTree({ Agentfile: HEAD });
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(policy, { text: "", hash: sha256(""), ratelimits: [] });
  });

  it("records RATELIMIT beside the Cedar text, never in it", async () => {
    const { policy, diagnostics } = await lintTree({
      Agentfile: `${HEAD}TOOL utcp:a\nALLOW invoke utcp:a\nRATELIMIT utcp:a 10/minute\nRATELIMIT utcp:a 100/h\n`,
    });
    assert.deepEqual(diagnostics, []);
    assert.ok(policy);
    assert.deepEqual(policy.ratelimits, [
      { tool: "utcp:a", count: 10, unit: "minute" },
      { tool: "utcp:a", count: 100, unit: "hour" },
    ]);
    assert.ok(!/ratelimit|minute/i.test(policy.text), policy.text);
  });

  it("compiles shorthands with an @id naming their Agentfile line", async () => {
    const { policy, diagnostics } = await lintTree({
      Agentfile: `${HEAD}DENY egress *\nALLOW read /workspace/\nURL https://API.example.org:443/x\n`,
    });
    assert.deepEqual(diagnostics, []);
    assert.ok(policy);
    const flat = policy.text.replace(/\s+/g, " ");
    assert.ok(
      flat.includes(
        '@id("Agentfile:3") forbid ( principal == AgentRC::Agent::"demo", action == AgentRC::Action::"network.egress", resource is AgentRC::Host );',
      ),
      policy.text,
    );
    assert.ok(flat.includes('@id("Agentfile:4") permit ('), policy.text);
    assert.ok(flat.includes('resource in AgentRC::Path::"/workspace" );'), policy.text);
    assert.ok(flat.includes('@id("Agentfile:5") permit ('), policy.text);
    assert.ok(flat.includes('resource == AgentRC::Host::"api.example.org" );'), policy.text);
  });
});

describe("Cedar errors point at the exact source", () => {
  it("maps a syntax error in an Agentfile POLICY block to Agentfile line and UTF-16 column", async () => {
    const { policy, diagnostics } = await lintTree({
      Agentfile: `${HEAD}POLICY\npermit (\n  principal,\n  action,\n  resource\n) when { "é😀" == };\nEND\n`,
    });
    assert.equal(policy, undefined);
    assert.deepEqual(where(diagnostics), ["Agentfile:8:19 POLICY_SYNTAX"]);
    assert.match(diagnostics[0]!.message, /^Cedar: unexpected token `}`/);
    assert.equal(diagnostics[0]!.severity, "error");
  });

  it("keeps Agentfile lines right with CRLF line ends", async () => {
    const { diagnostics } = await lintTree({
      Agentfile:
        "AGENT demo\r\nAUDIT basic\r\n\r\nPOLICY\r\npermit (principal, action, resource)\r\nwhen { 1 + };\r\nEND\r\n",
    });
    assert.deepEqual(where(diagnostics), ["Agentfile:6:12 POLICY_SYNTAX"]);
  });

  it("maps a syntax error in policy/x.cedar to that file", async () => {
    const { diagnostics } = await lintTree({
      Agentfile: HEAD,
      "policy/agent.cedar": "// line 1\npermit (principal, action, resource)\nwhen { context.x == };\n",
    });
    assert.deepEqual(where(diagnostics), ["policy/agent.cedar:3:21 POLICY_SYNTAX"]);
    assert.match(diagnostics[0]!.message, /unexpected token `}`/);
  });

  it("refuses a policy file that is not UTF-8 or that escapes the context through a symlink", async () => {
    const outside = await agentTree({ "secret.cedar": "permit (principal, action, resource);\n" });
    const dir = await agentTree({
      Agentfile: HEAD,
      "policy/latin1.cedar": new Uint8Array([0x2f, 0x2f, 0x20, 0xe9, 0x0a]),
    });
    await symlink(join(outside, "secret.cedar"), join(dir, "policy", "linked.cedar"));
    const result = await lint({ dir });
    assert.deepEqual(where(result.diagnostics), [
      "policy/latin1.cedar:1:1 POLICY_SYNTAX",
      "policy/linked.cedar:1:1 PATH_ESCAPE",
    ]);
    assert.equal(result.diagnostics[0]!.message, "policy/latin1.cedar is not UTF-8 text");
    assert.match(result.diagnostics[1]!.message, /resolves through a symlink to outside the build context/);
    assert.equal(result.compilation.policy, undefined);
  });

  it("reports a policy template at its first slot", async () => {
    const { diagnostics } = await lintTree({
      Agentfile: HEAD,
      "policy/t.cedar": "permit (principal == ?principal, action, resource);\n",
    });
    assert.deepEqual(where(diagnostics), ["policy/t.cedar:1:22 POLICY_SYNTAX"]);
    assert.match(diagnostics[0]!.message, /policy template/);
  });

  it("maps an unknown entity type in a file and an unknown action in a block (validation)", async () => {
    const { policy, diagnostics } = await lintTree({
      Agentfile: `${HEAD}POLICY\npermit (principal, action == AgentRC::Action::"tool.run", resource);\nEND\n`,
      "policy/agent.cedar": 'permit (principal == AgentRC::Agnt::"demo", action, resource);\n',
    });
    assert.equal(policy, undefined);
    assert.deepEqual(where(diagnostics), [
      "Agentfile:4:30 POLICY_INVALID",
      "policy/agent.cedar:1:22 POLICY_INVALID",
    ]);
    assert.match(diagnostics[0]!.message, /unrecognized action `AgentRC::Action::"tool.run"`/);
    assert.match(diagnostics[1]!.message, /unrecognized entity type `AgentRC::Agnt`/);
    assert.equal(diagnostics[1]!.hint, "did you mean `AgentRC::Agent`?");
  });

  it("warns (not errors) about an optional context attribute read without `has`", async () => {
    const { policy, diagnostics } = await lintTree({
      Agentfile: HEAD,
      "policy/agent.cedar":
        'forbid (principal, action == AgentRC::Action::"tool.invoke", resource)\nwhen { context.path == "/" };\n',
    });
    assert.deepEqual(where(diagnostics), ["policy/agent.cedar:2:8 POLICY_UNGUARDED_ATTRIBUTE"]);
    assert.equal(diagnostics[0]!.severity, "warning");
    assert.ok(policy, "the policy compiles as written");
  });

  it("warns about an impossible policy, once", async () => {
    const { policy, diagnostics } = await lintTree({
      Agentfile: HEAD,
      "policy/agent.cedar":
        'permit (principal, action == AgentRC::Action::"tool.invoke", resource == AgentRC::Path::"/x");\n',
    });
    assert.deepEqual(where(diagnostics), ["policy/agent.cedar:1:1 POLICY_WARNING"]);
    assert.equal(diagnostics[0]!.severity, "warning");
    assert.ok(policy, "warnings do not stop compilation");
  });

  it("reports a shorthand that can never match at its argument", async () => {
    const { policy, diagnostics } = await lintTree({
      Agentfile: `${HEAD}ALLOW invoke file_read\nDENY read workspace\n`,
    });
    assert.equal(policy, undefined);
    assert.deepEqual(where(diagnostics), ["Agentfile:3:14 POLICY_INVALID", "Agentfile:4:11 POLICY_INVALID"]);
    assert.match(diagnostics[0]!.message, /^ALLOW: "file_read" is not a tool reference/);
  });
});

describe("TOOL_NOT_PERMITTED asks Cedar", () => {
  it("is quiet for a tool permitted by ALLOW or by a Cedar permit", async () => {
    const { diagnostics } = await lintTree({
      Agentfile: `${HEAD}TOOL utcp:a\nTOOL mcp:github.get_issue\nALLOW invoke utcp:a\n`,
      "policy/agent.cedar":
        'permit (principal == AgentRC::Agent::"demo", action == AgentRC::Action::"tool.invoke", resource == AgentRC::Tool::"mcp:github.get_issue");\n',
    });
    assert.deepEqual(diagnostics, []);
  });

  it("warns at the TOOL directive when no policy permits it", async () => {
    const { diagnostics } = await lintTree({
      Agentfile: `${HEAD}TOOL utcp:a\nALLOW invoke utcp:b\n  TOOL utcp:b\nTOOL utcp:c\n`,
    });
    assert.deepEqual(where(diagnostics), [
      "Agentfile:3:1 TOOL_NOT_PERMITTED",
      "Agentfile:6:1 TOOL_NOT_PERMITTED",
    ]);
    assert.equal(diagnostics[0]!.severity, "warning");
    assert.match(diagnostics[0]!.message, /^TOOL utcp:a is not permitted: no policy permits/);
  });

  it("denies when ALLOW and DENY name the same tool (deny wins)", async () => {
    const { diagnostics } = await lintTree({
      Agentfile: `${HEAD}TOOL utcp:shell\nALLOW invoke utcp:shell\nDENY invoke utcp:shell\n`,
    });
    assert.deepEqual(where(diagnostics), ["Agentfile:3:1 TOOL_NOT_PERMITTED"]);
    assert.equal(
      diagnostics[0]!.message,
      "TOOL utcp:shell is forbidden by DENY invoke utcp:shell at line 5; deny wins over any permit",
    );
  });

  it("names a forbidding policy file", async () => {
    const { diagnostics } = await lintTree({
      Agentfile: `${HEAD}TOOL utcp:shell\nALLOW invoke *\n`,
      "policy/agent.cedar": 'forbid (principal, action, resource == AgentRC::Tool::"utcp:shell");\n',
    });
    assert.deepEqual(where(diagnostics), ["Agentfile:3:1 TOOL_NOT_PERMITTED"]);
    assert.match(diagnostics[0]!.message, /forbidden by policy\/agent\.cedar;/);
  });

  it("is not asked when the policy has errors", async () => {
    const { diagnostics } = await lintTree({
      Agentfile: `${HEAD}TOOL utcp:a\nPOLICY\npermit (\nEND\n`,
    });
    assert.deepEqual(only(diagnostics, "TOOL_NOT_PERMITTED"), []);
    assert.equal(only(diagnostics, "POLICY_SYNTAX").length, 1);
  });
});

describe("agentrc init", () => {
  it("scaffolds a policy that validates and lints clean", async () => {
    const dir = await mkdtemp(join(tmpdir(), "agentrc-policy-init-"));
    after(() => rm(dir, { recursive: true, force: true }));
    await initAgent(join(dir, "my-agent"));
    const result = await lint({ dir: join(dir, "my-agent") });
    assert.deepEqual(result.diagnostics, []);
    const text = result.compilation.policy?.text ?? "";
    assert.ok(text.includes('resource == AgentRC::Tool::"utcp:shell"'), text);
    assert.ok(text.includes('resource == AgentRC::Tool::"utcp:file_read"'), text);
  });
});
