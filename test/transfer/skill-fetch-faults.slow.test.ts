import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { build, type LintResult, lock } from "../../src/index.js";
import { type FaultProxy, startFaultProxy } from "../helpers/faultProxy.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { testdir } from "../helpers/testdir.js";

const errors = (r: LintResult) => r.diagnostics.filter((d) => d.severity === "error");

/**
 * The `SKILL oci://` fetcher reads its layer through the same registry target as pull: a layer body that arrives
 * short (chunked, no length) or is reset half-way is a SKILL_RESOLVE_FAILED diagnostic on the directive, never an
 * unhandled stream error that kills the process.
 */
describe("SKILL oci:// with a damaged layer download", () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  let skillRef: string;
  let layerDigest: string;

  before(async () => {
    registry = await startRegistry({ mode: "open" });
    proxy = await startFaultProxy(registry.port);
    const dir = await testdir({
      Agentfile: "AGENT summarize-skill\nSKILL summarize\nAUDIT basic\n",
      "skills/summarize/SKILL.md": `# Summarize\n${"Summarise the input. ".repeat(4000)}\n`,
    });
    const published = await build({
      dir,
      cacheDir: join(dir, ".cache"),
      config: { build: { tags: [`${registry.host}/skills/summarize:1`], output: join(dir, ".layout") } },
      push: {},
    });
    assert.deepEqual(errors(published), []);
    const layer = published.compilation.package!.layers.find(
      (l) => l.descriptor.annotations?.["org.opencontainers.image.title"] === "skills/summarize",
    )!;
    layerDigest = layer.descriptor.digest;
    skillRef = `${proxy.host}/skills/summarize:1`;
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
  });

  const lockThrough = async () => {
    const dir = await testdir({ Agentfile: `AGENT app\nSKILL oci://${skillRef}\nAUDIT basic\n` });
    return lock({ dir, cacheDir: await testdir() });
  };

  for (const [name, action, message] of [
    [
      "a short body without a length",
      {
        kind: "rewrite" as const,
        transform: (reply: {
          status: number;
          headers: Record<string, string | string[] | undefined>;
          body: Buffer;
        }) => ({
          ...reply,
          body: reply.body.subarray(0, 100),
          chunked: true,
        }),
      },
      /received 100 bytes, expected \d+/,
    ],
    ["a reset half-way", { kind: "cut" as const, afterBytes: 200 }, /connection lost while reading the blob/],
  ] as const) {
    test(name, async () => {
      proxy.rules([
        {
          match: (req) => req.method === "GET" && req.url.includes(`/blobs/${layerDigest}`),
          times: Number.POSITIVE_INFINITY,
          action,
        },
      ]);
      const r = await lockThrough();
      assert.ok(proxy.fired.length >= 1, "the fault fired");
      assert.deepEqual(
        errors(r).map((d) => [d.code, d.location?.line, d.location?.column]),
        [["SKILL_RESOLVE_FAILED", 2, 7]],
      );
      assert.match(errors(r)[0]!.message, message);
    });
  }
});
