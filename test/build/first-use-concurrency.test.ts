import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { build } from "../../src/index.js";
import { testdir } from "../helpers/testdir.js";

const AGENTFILE = "AGENT concurrent\nAUDIT basic\nINCLUDE data\n";

/** Runs `rounds` × 3 concurrent builds; `setup` gives each round its agent directories and shared dirs. */
async function concurrentRounds(
  rounds: number,
  setup: () => Promise<{ dirs: string[]; base: string }>,
): Promise<string[]> {
  const failures: string[] = [];
  for (let round = 0; round < rounds; round++) {
    const { dirs, base } = await setup();
    const results = await Promise.allSettled(
      dirs.map((dir, i) =>
        build({
          dir,
          cacheDir: join(base, "cache"),
          config: { build: { tags: [`localhost/concurrent:${i}`], store: join(base, "store") } },
        }),
      ),
    );
    for (const r of results) {
      if (r.status === "rejected") failures.push(String(r.reason));
      else if (r.value.errorCount > 0) failures.push(r.value.diagnostics.map((d) => d.code).join(","));
    }
  }
  return failures;
}

describe("concurrent builds", () => {
  it("share a cache directory and a store that do not exist yet (first use)", async () => {
    // The window is a few file operations wide: several rounds make a miss very unlikely.
    const failures = await concurrentRounds(8, async () => {
      const dirs = await Promise.all(
        [1, 2, 3].map(() => testdir({ Agentfile: AGENTFILE, "data/a.txt": "a" })),
      );
      return { dirs, base: await testdir() };
    });
    assert.deepEqual(failures, []);
  });

  it("of one agent in one process all write agentrc.lock", async () => {
    const failures = await concurrentRounds(4, async () => {
      const dir = await testdir({ Agentfile: AGENTFILE, "data/a.txt": "a" });
      const base = await testdir();
      await build({ dir, cacheDir: join(base, "cache"), config: { build: { store: join(base, "store") } } });
      await writeFile(join(dir, "data", "a.txt"), "b"); // every build below has a new lock to write
      return { dirs: [dir, dir, dir], base };
    });
    assert.deepEqual(failures, []);
  });
});
