import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type AgentrcPlugin, build } from "../../src/index.js";
import { testdir } from "../helpers/testdir.js";

const AGENTFILE = "AGENT cache-probe\nAUDIT basic\nINCLUDE data\n";

/**
 * A plugin that rewrites a file once, after its digest was taken (layer plan) and before the layer is packed. With
 * `retitle`, it also renames the tar layers' media type, so that the layers the packer packed ahead during `check`
 * no longer match the plan and are packed again from disk.
 */
function editAfterPlan(file: string, content: string, retitle = false): AgentrcPlugin {
  let done = false;
  return {
    name: "edit-after-plan",
    apply(compiler) {
      compiler.hooks.compilation.tap("edit-after-plan", (compilation) => {
        compilation.hooks.layers.tapPromise({ name: "edit-after-plan", stage: 10 }, async (plan) => {
          if (!done) {
            done = true;
            await writeFile(file, content);
          }
          return retitle
            ? plan.map((l) => (l.kind === "tar" ? { ...l, mediaType: `${l.mediaType}+edited` } : l))
            : plan;
        });
      });
    },
  };
}

describe("layer cache integrity", () => {
  it("a file rewritten between digesting and packing fails the build and poisons no cache entry", async () => {
    const dir = await testdir({ Agentfile: AGENTFILE, "data/a.txt": "AAAA" });
    const base = await testdir();
    const file = join(dir, "data", "a.txt");
    const cache = join(base, "cache");
    const run = (cacheDir: string, output: string, plugins: AgentrcPlugin[] = []) =>
      build({ dir, cacheDir, plugins, config: { build: { tags: ["x:1"], output: join(base, output) } } });

    // Packed ahead (during check, in the same read that digested and scanned it): the package holds the bytes that
    // were read, whatever happens to the file afterwards.
    const ahead = await run(join(base, "ahead-cache"), "out0", [editAfterPlan(file, "BBBB")]);
    assert.deepEqual(ahead.diagnostics, []);
    const index = ahead.compilation.package!.config;
    assert.ok(index);
    const config = JSON.parse(await readFile(index.path, "utf8")) as {
      files: Array<{ path: string; sha256: string }>;
    };
    assert.deepEqual(
      config.files.filter((f) => f.path === "data/a.txt").map((f) => f.sha256),
      [`sha256:${createHash("sha256").update("AAAA").digest("hex")}`],
    );
    await writeFile(file, "AAAA");

    // Packed from disk after planning: same size, other bytes; the tar size check cannot notice, the digest must.
    const failed = await run(cache, "out1", [editAfterPlan(file, "BBBB", true)]).then(
      () => undefined,
      (e: { code?: string; message?: string }) => e,
    );
    assert.equal(failed?.code, "PACK_INPUT_CHANGED");
    assert.match(failed?.message ?? "", /data\/a\.txt changed while the package was being built/);

    // Whatever happened above, the warm cache must give what a cold cache gives for the same content.
    await writeFile(file, "BBBB");
    await run(cache, "out2");
    await writeFile(file, "AAAA");
    const warm = await run(cache, "out3");
    const cold = await run(join(base, "cold-cache"), "out4");
    assert.deepEqual(warm.diagnostics, []);
    assert.equal(warm.compilation.package!.descriptor.digest, cold.compilation.package!.descriptor.digest);
  });
});
