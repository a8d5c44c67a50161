import assert from "node:assert/strict";
import { appendFile, open, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BlobCache } from "../../src/cache/BlobCache.js";
import { DeflateBlockCache } from "../../src/cache/DeflateBlockCache.js";
import { build } from "../../src/index.js";
import { testdir } from "../helpers/testdir.js";

/** Text that compresses like prose but does not repeat: ~6 MiB over 30 files, so the data layer has several blocks. */
function corpus(): Record<string, string> {
  const words = ["agent", "policy", "tool", "skill", "layer", "digest", "cedar", "lock", "egress", "mount"];
  let x = 0x1234567;
  const files: Record<string, string> = { Agentfile: "AGENT blocks-probe\nAUDIT basic\nINCLUDE data\n" };
  for (let f = 0; f < 30; f++) {
    const parts: string[] = [];
    for (let n = 0; n < 200 * 1024; ) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      const w = `${words[(x >>> 0) % words.length]}${(x >>> 0) % 9973} `;
      parts.push(w);
      n += w.length;
    }
    files[`data/doc-${String(f).padStart(2, "0")}.md`] = parts.join("");
  }
  return files;
}

/** Counts the blocks the cache served (the real cache; only counted). */
function countHits(): { hits: () => number; restore: () => void } {
  const original = DeflateBlockCache.prototype.get;
  let hits = 0;
  DeflateBlockCache.prototype.get = async function (this: DeflateBlockCache, key: string) {
    const bytes = await original.call(this, key);
    if (bytes) hits++;
    return bytes;
  };
  return { hits: () => hits, restore: () => (DeflateBlockCache.prototype.get = original) };
}

describe("deflate block cache", () => {
  it("a layer packed again after a small edit reuses its unchanged blocks and gives a cold build's bytes", async () => {
    const dir = await testdir(corpus());
    const base = await testdir();
    const cache = join(base, "cache");
    const run = (cacheDir: string, output: string) =>
      build({ dir, cacheDir, config: { build: { tags: ["x:1"], output: join(base, output) } } });
    const digestOf = (r: Awaited<ReturnType<typeof run>>) => r.compilation.package!.descriptor.digest;

    await run(cache, "first");
    const entries = (await readdir(join(cache, "deflate"))).filter((n) => n.endsWith(".json"));
    assert.ok(entries.length >= 4, `${entries.length} blocks recorded`);

    await appendFile(join(dir, "data/doc-14.md"), "\none more line\n");
    const counter = countHits();
    let warm: Awaited<ReturnType<typeof run>>;
    try {
      warm = await run(cache, "second");
    } finally {
      counter.restore();
    }
    const cold = await run(join(base, "cold-cache"), "cold");
    assert.equal(digestOf(warm), digestOf(cold));
    assert.ok(counter.hits() >= entries.length - 3, `${counter.hits()} of ${entries.length} blocks reused`);
  });

  it("a damaged cached blob costs a deflate, never a wrong layer; prune drops the entries of deleted blobs", async () => {
    const dir = await testdir(corpus());
    const base = await testdir();
    const cache = join(base, "cache");
    const run = (cacheDir: string, output: string) =>
      build({ dir, cacheDir, config: { build: { tags: ["x:1"], output: join(base, output) } } });

    await run(cache, "first");
    // Overwrite the middle of every cached blob large enough to be the data layer.
    const blobs = join(cache, "blobs", "blobs", "sha256");
    for (const name of await readdir(blobs)) {
      const path = join(blobs, name);
      const bytes = await readFile(path);
      if (bytes.length < 1024 * 1024) continue;
      const handle = await open(path, "r+");
      await handle.write(Buffer.alloc(64 * 1024, 0x55), 0, 64 * 1024, Math.floor(bytes.length / 2));
      await handle.close();
    }
    await appendFile(join(dir, "data/doc-03.md"), "\ngrown\n");
    const counter = countHits();
    let warm: Awaited<ReturnType<typeof run>>;
    try {
      warm = await run(cache, "second");
    } finally {
      counter.restore();
    }
    const cold = await run(join(base, "cold-cache"), "cold");
    assert.equal(warm.compilation.package!.descriptor.digest, cold.compilation.package!.descriptor.digest);
    assert.ok(counter.hits() > 0, "the undamaged blocks are still reused");

    const pruned = await (await BlobCache.open(cache)).prune({ all: true });
    assert.ok(pruned.blockEntries > 0);
    assert.deepEqual(await readdir(join(cache, "deflate")), []);
  });
});
