import assert from "node:assert/strict";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { type AgentrcPlugin, build, diagnostic, lock } from "../../src/index.js";
import { testdir } from "../helpers/testdir.js";

const exists = (path: string) =>
  stat(path).then(
    () => true,
    () => false,
  );

describe("agentrc.lock writes", () => {
  it("is not written when a lock tap reported an error", async () => {
    const dir = await testdir({ Agentfile: "AGENT lock-probe\nAUDIT basic\n" });
    const base = await testdir();
    const failing: AgentrcPlugin = {
      name: "org-resolver",
      apply(compiler) {
        compiler.hooks.compilation.tap("org-resolver", (compilation) => {
          compilation.hooks.lock.tapPromise("org-resolver", async (lockfile) => {
            compilation.report(
              diagnostic(
                "PLUGIN_FAILED",
                "cannot resolve the toolset",
                { file: "Agentfile", line: 1, column: 1 },
                { plugin: "org-resolver" },
              ),
            );
            return lockfile;
          });
        });
      },
    };
    for (const run of [lock, build]) {
      const r = await run({
        dir,
        cacheDir: join(base, "cache"),
        plugins: [failing],
        config: { build: { tags: ["x:1"], output: join(base, "out") } },
      });
      assert.equal(r.errorCount, 1);
      assert.equal(await exists(join(dir, "agentrc.lock")), false, `${run.name} wrote agentrc.lock`);
    }
  });

  it("converges when agentrc.lock is itself selected (BIND .): later builds neither rewrite it nor change digest", async () => {
    const dir = await testdir({ Agentfile: "AGENT lock-probe\nAUDIT basic\nBIND . /app ro\n", "x.txt": "x" });
    const base = await testdir();
    const run = (i: number, frozen = false) =>
      build({
        dir,
        cacheDir: join(base, "cache"),
        config: {
          build: {
            tags: ["x:1"],
            output: join(base, `out${i}`),
            ...(frozen ? { frozenLockfile: true } : {}),
          },
        },
      });
    await run(1); // creates agentrc.lock; the next build also packs it in the data layer
    const second = await run(2);
    const written = await readFile(join(dir, "agentrc.lock"), "utf8");
    const third = await run(3, true);
    assert.deepEqual(third.diagnostics, []);
    assert.equal(await readFile(join(dir, "agentrc.lock"), "utf8"), written);
    assert.equal(third.compilation.package!.descriptor.digest, second.compilation.package!.descriptor.digest);

    // A real input change still refreshes the lock, and the packed copy is the new one.
    await writeFile(join(dir, "x.txt"), "y");
    const changed = await run(4);
    assert.deepEqual(changed.diagnostics, []);
    const refreshed = await readFile(join(dir, "agentrc.lock"), "utf8");
    assert.notEqual(refreshed, written);
    const data = changed.compilation.layerPlan.find((l) => l.title === "data");
    const packedLock =
      data?.kind === "tar" ? data.entries.find((e) => e.path === "data/agentrc.lock") : undefined;
    const lockLayer = changed.compilation.layerPlan.find((l) => l.title === "agentrc.lock");
    assert.equal(lockLayer?.kind === "blob" ? lockLayer.bytes.toString() : undefined, refreshed);
    assert.equal(packedLock?.size, Buffer.byteLength(refreshed));
  });

  it("--frozen-lockfile accepts a current lock whose bytes differ only in form (CRLF line ends from a checkout)", async () => {
    const dir = await testdir({ Agentfile: "AGENT lock-probe\nAUDIT basic\n" });
    const base = await testdir();
    await lock({ dir, cacheDir: join(base, "cache") });
    const crlf = (await readFile(join(dir, "agentrc.lock"), "utf8")).replaceAll("\n", "\r\n");
    await writeFile(join(dir, "agentrc.lock"), crlf);
    const r = await build({
      dir,
      cacheDir: join(base, "cache"),
      config: { build: { tags: ["x:1"], output: join(base, "out"), frozenLockfile: true } },
    });
    assert.deepEqual(r.diagnostics, []);
    assert.equal(await readFile(join(dir, "agentrc.lock"), "utf8"), crlf, "the lock was rewritten");
  });

  it("pins tool and function digests whether their paths are written with ./ or not", async () => {
    const files = { "tools/lint.sh": "#!/bin/sh\necho lint\n", "functions/x.py": "def f():\n  pass\n" };
    const plain = await testdir({
      Agentfile: "AGENT lock-probe\nAUDIT basic\nTOOL local:lint tools/lint.sh\nFUNCTION functions/x.py:f\n",
      ...files,
    });
    const dotted = await testdir({
      Agentfile:
        "AGENT lock-probe\nAUDIT basic\nTOOL local:lint ./tools/lint.sh\nFUNCTION ./functions/x.py:f\n",
      ...files,
    });
    const base = await testdir();
    for (const dir of [plain, dotted]) await lock({ dir, cacheDir: join(base, "cache") });
    const a = JSON.parse(await readFile(join(plain, "agentrc.lock"), "utf8"));
    const b = JSON.parse(await readFile(join(dotted, "agentrc.lock"), "utf8"));
    assert.match(a.tools[0].digest, /^sha256:[0-9a-f]{64}$/);
    assert.match(a.functions[0].digest, /^sha256:[0-9a-f]{64}$/);
    assert.equal(b.tools[0].digest, a.tools[0].digest);
    assert.equal(b.functions[0].digest, a.functions[0].digest);
  });
});
