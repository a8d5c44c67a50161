import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { decodeCedarString, undeclaredEntity } from "../../plugins/policy/entityNames.js";
import { loadCedar, resolveEntityId } from "../../plugins/policy/index.js";
import { lintTree, only, where } from "./helpers.js";

const HEAD = "AGENT demo\nAUDIT basic\n";
const TOOL_INVOKE = 'action == AgentRC::Action::"tool.invoke"';

/** Cedar's decision on `agent` invoking `tool` under the compiled policy text. */
async function decide(policy: string, tool: string, context: Record<string, string> = {}) {
  const cedar = await loadCedar();
  const answer = cedar.isAuthorized({
    principal: { type: "AgentRC::Agent", id: "demo" },
    action: { type: "AgentRC::Action", id: "tool.invoke" },
    resource: { type: "AgentRC::Tool", id: tool },
    context,
    policies: { staticPolicies: policy },
    entities: [],
  });
  assert.equal(answer.type, "success");
  return answer.type === "success" ? answer.response.decision : undefined;
}

describe("short Cedar entity ids", () => {
  it('resolve AgentRC::Tool::"file_read" to the one TOOL named file_read, in scope and in conditions', async () => {
    const { policy, diagnostics } = await lintTree({
      Agentfile: `${HEAD}TOOL utcp:file_read\nTOOL utcp:shell\nPOLICY\n  // why: reading is safe\n  @id("read")\n  permit (principal, ${TOOL_INVOKE}, resource == AgentRC::Tool::"file_read");\n  permit (principal, ${TOOL_INVOKE}, resource)\n    // shell only on a path\n    when { [AgentRC::Tool::"shell"].contains(resource) && context has path };\nEND\n`,
    });
    // The shell permit is conditional (context has path), so lint cannot count it as granted.
    assert.deepEqual(where(diagnostics), ["Agentfile:4:1 TOOL_NOT_PERMITTED"]);
    assert.ok(policy);
    assert.match(
      policy.text,
      /@id\("read"\)\npermit \(\n {2}principal,\n {2}action == AgentRC::Action::"tool\.invoke",\n {2}resource == AgentRC::Tool::"utcp:file_read"\n\);/,
    );
    assert.match(policy.text, /\[AgentRC::Tool::"utcp:shell"\]\.contains\(resource\)/);
    assert.match(policy.text, /\/\/ why: reading is safe/, "comments around a rewritten policy are kept");
    assert.match(policy.text, /\/\/ shell only on a path/, "comments inside a rewritten policy are kept");
    assert.equal(await decide(policy.text, "utcp:file_read"), "allow");
    assert.equal(await decide(policy.text, "utcp:shell", { path: "/x" }), "allow");
  });

  it("resolve an MCP tool by its name after the server, or by <server>.<name>", async () => {
    const { policy, diagnostics } = await lintTree({
      Agentfile: `${HEAD}TOOL mcp:github.get_issue\nTOOL mcp:github.list_issues\nPOLICY\n  permit (principal, ${TOOL_INVOKE}, resource == AgentRC::Tool::"get_issue");\n  forbid (principal, ${TOOL_INVOKE}, resource == AgentRC::Tool::"github.list_issues");\nEND\n`,
    });
    assert.deepEqual(where(diagnostics), ["Agentfile:4:1 TOOL_NOT_PERMITTED"]);
    assert.match(only(diagnostics, "TOOL_NOT_PERMITTED")[0]!.message, /mcp:github\.list_issues is forbidden/);
    assert.ok(policy);
    assert.equal(await decide(policy.text, "mcp:github.get_issue"), "allow");
  });

  it("resolve a function by its symbol", async () => {
    const { policy, diagnostics } = await lintTree({
      Agentfile: `${HEAD}FUNCTION src/triage.py:label\nPOLICY\n  permit (principal, action == AgentRC::Action::"function.invoke", resource == AgentRC::Function::"label");\nEND\n`,
      "src/triage.py": "def label(issue):\n    return 'bug'\n",
    });
    assert.deepEqual(where(diagnostics), []);
    assert.match(policy?.text ?? "", /AgentRC::Function::"src\/triage\.py:label"/);
  });

  it("an ambiguous short id is an error naming the candidates, at the id in a .cedar file", async () => {
    const { policy, diagnostics } = await lintTree({
      Agentfile: `${HEAD}TOOL utcp:get_issue\nTOOL mcp:github.get_issue\n`,
      "policy/agent.cedar": `// tools\n\npermit (\n  principal,\n  ${TOOL_INVOKE},\n  resource == AgentRC::Tool::"get_issue"\n);\n`,
    });
    const [d] = only(diagnostics, "POLICY_NAME_AMBIGUOUS");
    assert.ok(d);
    assert.deepEqual(where([d]), ["policy/agent.cedar:6:15 POLICY_NAME_AMBIGUOUS"]);
    assert.equal(d.severity, "error");
    assert.equal(d.message, 'AgentRC::Tool::"get_issue" could name mcp:github.get_issue or utcp:get_issue');
    assert.equal(
      d.hint,
      'Write the full id: AgentRC::Tool::"mcp:github.get_issue" or AgentRC::Tool::"utcp:get_issue".',
    );
    assert.equal(policy, undefined, "fail closed");
  });

  it("a short id that names no TOOL is a warning (Cedar would never match it); full ids are left alone", async () => {
    const { policy, diagnostics } = await lintTree({
      Agentfile: `${HEAD}TOOL utcp:file_read\nALLOW invoke utcp:file_read\nPOLICY\n  forbid (principal, ${TOOL_INVOKE}, resource == AgentRC::Tool::"shell");\n  forbid (principal, ${TOOL_INVOKE}, resource == AgentRC::Tool::"utcp:other");\nEND\n`,
    });
    assert.deepEqual(where(diagnostics), ["Agentfile:6:76 POLICY_NAME_UNKNOWN"]);
    assert.equal(
      diagnostics[0]!.message,
      'AgentRC::Tool::"shell" names no declared TOOL; Cedar ids of a Tool are <ns>:<name>, so this policy can never apply',
    );
    assert.ok(policy);
    assert.match(policy.text, /AgentRC::Tool::"shell"/);
    assert.match(policy.text, /AgentRC::Tool::"utcp:other"/);
  });

  it("leave annotations, actions and other entity types alone", () => {
    const names = { tools: ["utcp:file_read"], functions: ["a.py:f"] };
    assert.equal(resolveEntityId(names, "AgentRC::Action", "file_read"), undefined);
    assert.equal(resolveEntityId(names, "AgentRC::Skill", "file_read"), undefined);
    assert.equal(resolveEntityId(names, "AgentRC::Tool", "utcp:file_read"), undefined);
    assert.deepEqual(resolveEntityId(names, "AgentRC::Tool", "file_read"), { id: "utcp:file_read" });
    assert.deepEqual(resolveEntityId(names, "AgentRC::Function", "f"), { id: "a.py:f" });
  });

  it("read the id from Cedar's message as Cedar escapes it", () => {
    assert.equal(decodeCedarString('f\\u{e9}\\n\\"x\\\\'), 'fé\n"x\\');
    assert.equal(decodeCedarString("bad\\q"), undefined);
    assert.deepEqual(
      undeclaredEntity(
        'for policy `policy0`: entity `AgentRC::Tool::"f\\u{e9}"` is of an enumerated entity type, but `"f\\u{e9}"` is not declared as a valid eid',
      ),
      { type: "AgentRC::Tool", id: "fé" },
    );
    assert.equal(undeclaredEntity("for policy `policy0`, unable to guarantee safety"), undefined);
  });
});

describe("short-id diagnostics keep their Agentfile location", () => {
  it("in a POLICY block with CRLF line ends, after non-ASCII text, not at an annotation with the same text", async () => {
    const agentfile = [
      "AGENT demo",
      "AUDIT basic",
      "TOOL utcp:get",
      "TOOL mcp:gh.get",
      "POLICY",
      '  @id("get")',
      `  permit (principal, ${TOOL_INVOKE}, resource) when { "é😀" == "é😀" && resource == AgentRC::Tool::"get" };`,
      "END",
      "",
    ].join("\r\n");
    const { diagnostics } = await lintTree({ Agentfile: agentfile });
    const [d] = only(diagnostics, "POLICY_NAME_AMBIGUOUS");
    const line = agentfile.split("\r\n")[6]!;
    assert.deepEqual(where([d!]), [
      `Agentfile:7:${line.indexOf('AgentRC::Tool::"get"') + 1} POLICY_NAME_AMBIGUOUS`,
    ]);
  });
});
