import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { cedarString, compileRule, compileUrl, hostOf } from "../../plugins/policy/shorthand.js";

const scope = (text: string) => text.replace(/\s+/g, " ");

describe("shorthand compilation", () => {
  it("maps each action word to its Cedar action and resource type", () => {
    const cases: Array<[string, string, string]> = [
      [
        "invoke",
        "utcp:file_read",
        'action == AgentRC::Action::"tool.invoke", resource == AgentRC::Tool::"utcp:file_read"',
      ],
      [
        "call",
        "src/a.py:run",
        'action == AgentRC::Action::"function.invoke", resource == AgentRC::Function::"src/a.py:run"',
      ],
      [
        "use",
        "summarize",
        'action == AgentRC::Action::"skill.invoke", resource == AgentRC::Skill::"summarize"',
      ],
      [
        "resolve",
        "github_token",
        'action == AgentRC::Action::"cred.resolve", resource == AgentRC::Credential::"github_token"',
      ],
      [
        "egress",
        "api.github.com",
        'action == AgentRC::Action::"network.egress", resource == AgentRC::Host::"api.github.com"',
      ],
      [
        "read",
        "/workspace",
        'action == AgentRC::Action::"filesystem.read", resource in AgentRC::Path::"/workspace"',
      ],
      [
        "write",
        "/tmp/out/",
        'action == AgentRC::Action::"filesystem.write", resource in AgentRC::Path::"/tmp/out"',
      ],
      ["tool.invoke", "mcp:github.get_issue", 'resource == AgentRC::Tool::"mcp:github.get_issue"'],
      [
        "agent.delegate",
        "helper",
        'action == AgentRC::Action::"agent.delegate", resource == AgentRC::Agent::"helper"',
      ],
    ];
    for (const [action, resource, expected] of cases) {
      const r = compileRule("permit", action, resource, "demo", "Agentfile:3");
      assert.ok(r.ok, `${action} ${resource}`);
      assert.ok(scope(r.text).includes(expected), `${action} ${resource}: ${r.text}`);
      assert.ok(r.text.startsWith('@id("Agentfile:3")\npermit ('), r.text);
      assert.ok(r.text.includes('principal == AgentRC::Agent::"demo"'), r.text);
    }
  });

  it("compiles DENY to forbid and a lone * to every resource of the type", () => {
    const r = compileRule("forbid", "egress", "*", "demo", "Agentfile:9");
    assert.ok(r.ok);
    assert.equal(
      r.text,
      '@id("Agentfile:9")\nforbid (\n  principal == AgentRC::Agent::"demo",\n' +
        '  action == AgentRC::Action::"network.egress",\n  resource is AgentRC::Host\n);',
    );
  });

  it("takes the host of URL and of an egress URL, dropping default ports and case", () => {
    const r = compileUrl("https://API.GitHub.com:443/repos/x?y=1", "demo", "Agentfile:4");
    assert.ok(r.ok);
    assert.ok(r.text.includes('resource == AgentRC::Host::"api.github.com"'), r.text);
    assert.equal(hostOf("https://example.org:8443/a"), "example.org:8443");
    assert.equal(hostOf("Example.org:8080"), "example.org:8080");
    assert.equal(hostOf("bad host"), undefined);
  });

  it("rejects resources that can never match, pointing at the argument", () => {
    const tool = compileRule("permit", "invoke", "file_read", "demo", "Agentfile:2");
    assert.deepEqual(
      tool.ok ? undefined : [tool.pointer, /not a tool reference <ns>:<name>/.test(tool.message)],
      ["/resource", true],
    );
    const path = compileRule("permit", "read", "workspace", "demo", "Agentfile:2");
    assert.ok(!path.ok && path.pointer === "/resource" && /not an absolute sandbox path/.test(path.message));
    const glob = compileRule("permit", "egress", "*.github.com", "demo", "Agentfile:2");
    assert.ok(!glob.ok && glob.pointer === "/resource" && /only a lone \*/.test(glob.message));
    const action = compileRule("permit", "tool.explode", "utcp:x", "demo", "Agentfile:2");
    assert.ok(
      !action.ok && action.pointer === "/action" && /unknown action "tool.explode"/.test(action.message),
    );
  });

  it("escapes Cedar string literals", () => {
    assert.equal(cedarString('a"b\\c'), '"a\\"b\\\\c"');
    assert.equal(cedarString("x\ny"), '"x\\u{a}y"');
  });
});
