import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { lintTree, only } from "./helpers.js";

const count = (text: string, word: string) => text.split(word).length - 1;

describe("shorthands: duplicates are merged, large policies stay linear", () => {
  it("a repeated ALLOW, DENY or URL compiles once, with the @id of its first line", async () => {
    const { policy, diagnostics } = await lintTree({
      Agentfile: [
        "AGENT dup",
        "AUDIT basic",
        "TOOL utcp:a",
        "ALLOW invoke utcp:a",
        "ALLOW invoke utcp:a",
        "ALLOW tool.invoke utcp:a",
        "DENY write /etc",
        "DENY write /etc/",
        "ALLOW egress api.example.com",
        "URL https://api.example.com/v1",
        "URL https://API.example.com/v2",
        "ALLOW invoke utcp:a",
        "",
      ].join("\n"),
    });
    assert.deepEqual(diagnostics, []);
    assert.ok(policy);
    assert.equal(count(policy.text, "permit ("), 2, policy.text);
    assert.equal(count(policy.text, "forbid ("), 1, policy.text);
    assert.match(policy.text, /@id\("Agentfile:4"\)\npermit/);
    assert.match(policy.text, /@id\("Agentfile:7"\)\nforbid/);
    assert.match(policy.text, /@id\("Agentfile:9"\)\npermit/);
    assert.doesNotMatch(policy.text, /Agentfile:(5|6|8|10|11|12)"/);
  });

  it("30,000 ALLOW lines (10,000 distinct) and a DENY deep down: every rule kept, the DENY still named", async () => {
    const lines = Array.from({ length: 30_000 }, (_, i) => `ALLOW invoke utcp:t${i % 10_000}`);
    lines[25_000] = "DENY invoke utcp:t7";
    const { policy, diagnostics } = await lintTree({
      Agentfile: `AGENT many\nAUDIT basic\nTOOL utcp:t7\nTOOL utcp:t9999\n${lines.join("\n")}\n`,
    });
    assert.ok(policy, JSON.stringify(diagnostics.slice(0, 3)));
    assert.equal(count(policy.text, "permit ("), 10_000);
    assert.equal(count(policy.text, "forbid ("), 1);
    const denied = only(diagnostics, "TOOL_NOT_PERMITTED");
    assert.equal(denied.length, 1, JSON.stringify(diagnostics.slice(0, 3)));
    assert.equal(
      denied[0]!.message,
      "TOOL utcp:t7 is forbidden by DENY invoke utcp:t7 at line 25005; deny wins over any permit",
    );
    assert.equal(denied[0]!.location?.line, 3);
  });
});

describe("the merged policy formatted in chunks is byte for byte the one-call format", () => {
  it("files with trailing comments, a POLICY block, then 300 shorthands", async () => {
    const { loadCedar } = await import("../../plugins/policy/index.js");
    const rules = Array.from({ length: 300 }, (_, i) => `ALLOW invoke utcp:t${i}`);
    const { policy, diagnostics } = await lintTree({
      Agentfile: `AGENT chunks\nAUDIT basic\nPOLICY\n// inline\npermit (principal, action, resource);\n// tail\nEND\n${rules.join("\n")}\n`,
      "policy/a.cedar":
        '// a\nforbid (principal, action, resource == AgentRC::Tool::"utcp:none");\n// trailing comment of a\n',
    });
    assert.deepEqual(diagnostics, []);
    assert.ok(policy);
    const cedar = await loadCedar();
    const once = cedar.formatPolicies({ policyText: policy.text, lineWidth: 80, indentWidth: 2 });
    assert.equal(once.type, "success");
    assert.equal(policy.text, once.type === "success" ? once.formatted_policy : "");
    assert.equal(count(policy.text, "permit ("), 301);
    assert.match(policy.text, /\/\/ trailing comment of a\n/);
  });
});
