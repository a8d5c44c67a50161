import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { bindsLooserThanAnd, clauseAt, oneLine } from "../../plugins/policy/conditions.js";
import { runCli } from "../helpers/cli.js";
import { agentTree, lintTree, only, where } from "./helpers.js";

const HEAD = "AGENT demo\nAUDIT basic\nTOOL utcp:shell\n";

describe("an optional context attribute read without `has`", () => {
  it("is a warning at the access, saying why it matters for a forbid, with the exact rewrite as hint", async () => {
    const { policy, diagnostics } = await lintTree({
      Agentfile: `${HEAD}POLICY\n  forbid (principal, action, resource == AgentRC::Tool::"utcp:shell")\n    when { context.path == "/" };\nEND\n`,
    });
    const [d] = only(diagnostics, "POLICY_UNGUARDED_ATTRIBUTE");
    assert.ok(d);
    assert.equal(d.severity, "warning");
    assert.deepEqual(where([d]), ["Agentfile:6:12 POLICY_UNGUARDED_ATTRIBUTE"]);
    assert.equal(
      d.message,
      "this forbid reads context.path without `has` (context.path is optional): when the attribute is absent Cedar skips the policy, so the deny does not apply",
    );
    assert.equal(
      d.hint,
      'write `when { context has path && context.path == "/" }` (what Cedar does today, made explicit), or `when { if context has path then context.path == "/" else true }` to deny also when path is absent',
    );
    assert.ok(policy, "the policy is compiled as written");
    assert.match(policy.text, /context\.path == "\/"/);
  });

  it("is a warning for a permit too (the permit does not apply), hint without the deny alternative", async () => {
    const { diagnostics } = await lintTree({
      Agentfile: HEAD,
      "policy/p.cedar":
        'permit (principal, action == AgentRC::Action::"tool.invoke", resource)\nwhen { context.input like "ls*" };\n',
    });
    const [d] = only(diagnostics, "POLICY_UNGUARDED_ATTRIBUTE");
    assert.ok(d);
    assert.deepEqual(where([d]), ["policy/p.cedar:2:8 POLICY_UNGUARDED_ATTRIBUTE"]);
    assert.match(d.message, /^this permit reads context\.input without `has`.*so the permit does not apply$/);
    assert.equal(d.hint, 'write `when { context has input && context.input like "ls*" }`');
  });

  it("parenthesises a body joined by ||, collapses a multi-line body and keeps strings intact", async () => {
    const { diagnostics } = await lintTree({
      Agentfile: HEAD,
      "policy/p.cedar":
        'forbid (principal, action == AgentRC::Action::"tool.invoke", resource)\nwhen {\n  context.path == "/a  b" || // root\n  context.path like "/etc/*"\n};\n',
    });
    const ds = only(diagnostics, "POLICY_UNGUARDED_ATTRIBUTE");
    assert.equal(ds.length, 2, "one per access");
    assert.match(
      ds[0]!.hint ?? "",
      /^write `when \{ context has path && \(context\.path == "\/a {2}b" \|\| context\.path like "\/etc\/\*"\) \}`/,
    );
  });

  it("for unless, keeps Cedar's outcome in the first rewrite (an unless with has is true when absent)", async () => {
    const { diagnostics } = await lintTree({
      Agentfile: HEAD,
      "policy/p.cedar":
        'forbid (principal, action == AgentRC::Action::"tool.invoke", resource)\nunless { context.path like "/workspace/*" };\n',
    });
    const [d] = only(diagnostics, "POLICY_UNGUARDED_ATTRIBUTE");
    assert.equal(
      d?.hint,
      'write `unless { if context has path then context.path like "/workspace/*" else true }` (what Cedar does today, made explicit), or `unless { context has path && context.path like "/workspace/*" }` to deny also when path is absent',
    );
  });

  it("stays an error together with other validation errors of the same source", async () => {
    const { policy, diagnostics } = await lintTree({
      Agentfile: HEAD,
      "policy/p.cedar":
        'forbid (principal, action == AgentRC::Action::"tool.invoke", resource) when { context.path == "/" };\npermit (principal, action == AgentRC::Action::"nope", resource);\n',
    });
    assert.deepEqual(where(diagnostics).sort(), [
      "policy/p.cedar:1:79 POLICY_UNGUARDED_ATTRIBUTE",
      "policy/p.cedar:2:30 POLICY_INVALID",
    ]);
    assert.equal(policy, undefined, "fail closed on the real error");
  });

  it("lint.rules can make it an error (agentrc lint exits 1)", async () => {
    const dir = await agentTree({
      Agentfile: `${HEAD}ALLOW invoke utcp:shell\n`,
      "policy/p.cedar":
        'forbid (principal, action == AgentRC::Action::"tool.invoke", resource) when { context.path == "/" };\n',
      "agentrc.config.json": JSON.stringify({ lint: { rules: { POLICY_UNGUARDED_ATTRIBUTE: "error" } } }),
    });
    const r = await runCli(["lint", dir, "--no-color"]);
    assert.equal(r.code, 1, r.stderr);
    assert.match(
      r.stderr,
      /policy\/p\.cedar:1:79 error POLICY_UNGUARDED_ATTRIBUTE this forbid reads context\.path/,
    );
    const plain = await runCli([
      "lint",
      await agentTree({
        ...{ Agentfile: `${HEAD}ALLOW invoke utcp:shell\n` },
        "policy/p.cedar":
          'forbid (principal, action == AgentRC::Action::"tool.invoke", resource) when { context.path == "/" };\n',
      }),
      "--no-color",
    ]);
    assert.equal(plain.code, 0, plain.stderr);
  });
});

describe("the clause scanner", () => {
  it("finds the clause around an index, skipping strings and comments that hold braces and keywords", () => {
    const text =
      '@id("when {")\nforbid (principal, action, resource) // unless {\nwhen { context.x == "}" && {a: 1} == {a: 1} } unless { true };\npermit (principal, action, resource) when { 1 == 1 };';
    const at = text.indexOf("context.x");
    assert.deepEqual(clauseAt(text, at), {
      effect: "forbid",
      keyword: "when",
      body: 'context.x == "}" && {a: 1} == {a: 1}',
    });
    assert.deepEqual(clauseAt(text, text.indexOf("true")), {
      effect: "forbid",
      keyword: "unless",
      body: "true",
    });
    assert.equal(clauseAt(text, text.indexOf("1 == 1"))?.effect, "permit");
    assert.equal(clauseAt(text, text.indexOf("principal")), undefined);
  });

  it("knows when && needs parentheses", () => {
    assert.equal(bindsLooserThanAnd('a == "||" && b'), false);
    assert.equal(bindsLooserThanAnd("(a || b) && c"), false);
    assert.equal(bindsLooserThanAnd("a || b"), true);
    assert.equal(bindsLooserThanAnd("if a then b else c"), true);
    assert.equal(oneLine('  a ==\n   "x  y" // c\n  '), 'a == "x  y"');
  });
});
