import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { FileDigestCache } from "../../src/fs/fileDigest.js";
import { build } from "../../src/index.js";
import { BIN } from "../helpers/cli.js";
import { sha256 } from "../helpers/fileTree.js";
import { straceBin } from "../helpers/strace.js";
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

  it("stats each path once per run, however often the run asks; the next run stats it again", async () => {
    const dir = await testdir({ "a.txt": "AAAA", "b.txt": "BB" });
    const a = join(dir, "a.txt");
    const b = join(dir, "b.txt");
    const statted: string[] = [];
    const cache = new FileDigestCache(join(dir, "cache"), {
      stat: (path) => {
        statted.push(relative(dir, path));
        return stat(path, { bigint: true });
      },
    });
    // What one build asks of one file: layer input digests, the file index, packing ahead, the secret scan.
    const asked = await Promise.all([cache.digest(a), cache.digest(a), cache.digest(b)]);
    assert.deepEqual(asked[0], { digest: sha256("AAAA"), size: 4 });
    assert.equal((await cache.peek(a)).digest, sha256("AAAA"));
    assert.deepEqual(await cache.digest(a), { digest: sha256("AAAA"), size: 4 });
    assert.equal((await cache.peek(b)).digest, sha256("BB"));
    assert.deepEqual(statted.sort(), ["a.txt", "b.txt"]);

    await cache.save(); // the run ends
    await writeFile(b, "CCC");
    assert.deepEqual(await cache.digest(b), { digest: sha256("CCC"), size: 3 }, "a new run sees the change");
    await cache.digest(b);
    assert.deepEqual(statted.sort(), ["a.txt", "b.txt", "b.txt"]);

    // A failed stat is not kept: the file that appears later in the same run is found.
    const c = join(dir, "c.txt");
    await assert.rejects(cache.digest(c), { code: "ENOENT" });
    await writeFile(c, "C");
    assert.deepEqual(await cache.digest(c), { digest: sha256("C"), size: 1 });
    cache.endRun();
    await rm(c);
    await assert.rejects(cache.digest(c), { code: "ENOENT" }, "endRun forgets the stats");
  });

  it("a warm rebuild stats each selected file at most twice: the walk, and the digest cache for everyone else", async () => {
    const files: Record<string, string> = {
      Agentfile: "AGENT warm\nAUDIT basic\nINGEST docs/**\nINCLUDE data\n",
    };
    for (let i = 0; i < 6; i++) files[`docs/page-${i}.md`] = `# Page ${i}\n`;
    files["data/table.csv"] = "a,b\n1,2\n";
    const agent = await testdir(files);
    const base = await testdir();
    const env = { ...process.env, AGENTRC_CACHE: join(base, "cache"), AGENTRC_STORE: join(base, "store") };
    const cold = spawnSync(process.execPath, [BIN, "build", agent, "--json"], { encoding: "utf8", env });
    assert.equal(cold.status, 0, cold.stderr);
    const { run: warm, lines } = await straceBin(["build", agent, "--json"], {
      syscalls: "stat,newfstatat,statx",
      traceFile: join(base, "trace"),
      env,
    });
    assert.equal(warm.status, 0, warm.stderr);
    const stats = new Map<string, number>();
    for (const line of lines) {
      // Path-following stats only: lstat and realpath's steps (AT_SYMLINK_NOFOLLOW) are the symlink checks.
      const m = /(?:stat|statx)\((?:AT_FDCWD, )?"([^"]+)"/.exec(line);
      if (!m || line.includes("AT_SYMLINK_NOFOLLOW") || !m[1]!.startsWith(`${agent}/`)) continue;
      const path = relative(agent, m[1]!);
      stats.set(path, (stats.get(path) ?? 0) + 1);
    }
    const selected = [...stats].filter(([p]) => p.startsWith("docs/") || p.startsWith("data/table"));
    assert.equal(selected.length, 7, [...stats.keys()].join(", "));
    assert.deepEqual(
      selected.filter(([, n]) => n > 2),
      [],
      "no selected file is statted more than twice",
    );
  });
});
