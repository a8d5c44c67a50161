import assert from "node:assert/strict";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { build } from "../../src/index.js";
import { testdir } from "../helpers/testdir.js";

const AGENTFILE = "AGENT digest-cache\nAUDIT basic\nINCLUDE data\n";

type Entries = Record<string, { key: string; digest: string; at: number }>;

/**
 * Rewrites file-digests.json so the entry of `file` carries the file's current stat key, as a filesystem with
 * coarse timestamps (1 s on ext2/ext3 and HFS+, 2 s on FAT) leaves it after a same-size rewrite within one
 * granule. The key format is the cache's: size, mtime (ns), ctime (ns), inode.
 */
async function patchEntry(
  cacheDir: string,
  file: string,
  change: (e: Entries[string]) => void,
): Promise<void> {
  const path = join(cacheDir, "file-digests.json");
  const entries = JSON.parse(await readFile(path, "utf8")) as Entries;
  const s = await stat(file, { bigint: true });
  const entry = entries[file]!;
  entry.key = `${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}`;
  change(entry);
  await writeFile(path, JSON.stringify(entries));
}

describe("file digest cache", () => {
  it("does not reuse a digest taken within the timestamp granularity of the file's last change", async () => {
    const dir = await testdir({ Agentfile: AGENTFILE, "data/a.txt": "AAAA" });
    const base = await testdir();
    const file = join(dir, "data", "a.txt");
    const cacheDir = join(base, "cache");
    const run = (cache: string, out: string) =>
      build({ dir, cacheDir: cache, config: { build: { tags: ["x:1"], output: join(base, out) } } });

    await run(cacheDir, "out1");
    await writeFile(file, "BBBB"); // same size, same second
    await patchEntry(cacheDir, file, () => {}); // the stat key did not move
    const warm = await run(cacheDir, "out2");
    const cold = await run(join(base, "cold"), "out3");
    assert.deepEqual(warm.diagnostics, []);
    assert.equal(warm.compilation.package!.descriptor.digest, cold.compilation.package!.descriptor.digest);
  });

  it("still trusts a digest taken well after the file last changed (a warm rebuild does not re-hash)", async () => {
    const dir = await testdir({ Agentfile: AGENTFILE, "data/a.txt": "AAAA" });
    const base = await testdir();
    const file = join(dir, "data", "a.txt");
    const cacheDir = join(base, "cache");
    await build({ dir, cacheDir, config: { build: { tags: ["x:1"], output: join(base, "out1") } } });
    // A digest the cache must take on trust: the file is not read again before packing, where the check catches it.
    const bogus = `sha256:${"0".repeat(64)}`;
    await patchEntry(cacheDir, file, (e) => {
      e.digest = bogus;
      e.at = Date.now() + 10_000;
    });
    const err = await build({
      dir,
      cacheDir,
      config: { build: { tags: ["x:1"], output: join(base, "out2") } },
    }).then(
      () => undefined,
      (e: { code?: string; message?: string }) => e,
    );
    assert.equal(err?.code, "PACK_INPUT_CHANGED");
    assert.match(err?.message ?? "", new RegExp(`no longer hashes to ${bogus}`));
  });
});
