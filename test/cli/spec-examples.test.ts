import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { loadCedar } from "../../plugins/policy/index.js";
import { OciLayout } from "../../src/oci/layout.js";
import { withPackage } from "../../src/package/open.js";
import { FIXTURES } from "../helpers/build.js";
import { runBin } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { testdir } from "../helpers/testdir.js";

/**
 * The spec's own example agents, as the spec writes them (fixtures/valid/spec-*), through the real CLI: `agentrc
 * lint` exits 0 and `agentrc build` produces a package whose compiled policy grants what the example means.
 */
describe("the spec's code-reviewer example", () => {
  it("lints with exit 0 (warnings only) and builds; the compiled policy uses the full tool ids", async () => {
    const base = await testdir();
    const agent = join(base, "agent");
    await copyTree(join(FIXTURES, "valid/spec-code-reviewer"), agent);
    const env = { AGENTRC_STORE: join(base, "store"), AGENTRC_CACHE: join(base, "cache") };

    const lint = runBin(["lint", agent, "--no-color"], { env });
    assert.equal(lint.code, 0, lint.stderr);
    assert.match(
      lint.stderr,
      /Agentfile:13:53 warning POLICY_UNGUARDED_ATTRIBUTE .*forbid.*context\.path.*without `has`/,
    );
    assert.match(lint.stderr, /hint: write `when \{ context has path && context\.path == "\/" \}`/);
    assert.match(lint.stderr, /Agentfile:6:1 warning TOOL_NOT_PERMITTED TOOL utcp:shell is not permitted/);
    assert.doesNotMatch(lint.stderr, /TOOL utcp:file_read/, "the short-name permit covers utcp:file_read");
    assert.match(lint.stderr, /✔|0 errors, 2 warnings/);

    const layout = join(base, "layout");
    const build = runBin(["build", agent, "-t", "localhost/code-reviewer:1", "--output", layout, "--json"], {
      env,
    });
    assert.equal(build.code, 0, build.stderr);
    const view = await withPackage(`oci:${layout}:1`, {}, async (p) => p);
    const policyLayer = view.manifest.layers.find(
      (l) => l.annotations?.["org.opencontainers.image.title"] === "policy/agent.cedar",
    );
    assert.ok(policyLayer, "the package has a policy layer");
    const policy = (await (await OciLayout.open(layout)).readBlob(policyLayer.digest, 1 << 20)).toString(
      "utf8",
    );
    assert.match(policy, /resource == AgentRC::Tool::"utcp:file_read"/);
    assert.match(policy, /resource == AgentRC::Tool::"utcp:shell"/);
    assert.doesNotMatch(policy, /AgentRC::Tool::"(file_read|shell)"/);

    // What the example means, asked of the real engine: file_read is allowed, shell on "/" is denied, and (the
    // warning's point) shell without a path is not denied by the forbid — only by the absence of a permit.
    const cedar = await loadCedar();
    const ask = (tool: string, context: Record<string, string>) => {
      const answer = cedar.isAuthorized({
        principal: { type: "AgentRC::Agent", id: "code-reviewer" },
        action: { type: "AgentRC::Action", id: "tool.invoke" },
        resource: { type: "AgentRC::Tool", id: tool },
        context,
        policies: { staticPolicies: policy },
        entities: [],
      });
      assert.equal(answer.type, "success");
      return answer.type === "success" ? answer.response.decision : undefined;
    };
    assert.equal(ask("utcp:file_read", { path: "/workspace/a.ts" }), "allow");
    assert.equal(ask("utcp:shell", { path: "/" }), "deny");
  });
});
