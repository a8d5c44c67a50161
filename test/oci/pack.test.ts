import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { chmod, chown, mkdir, readFile, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { test } from "node:test";
import zlib from "node:zlib";
import { DeflatePool } from "../../src/oci/deflatePool.js";
import { sha256Digest } from "../../src/oci/digest.js";
import { GZIP_BLOCK_BOUNDARIES } from "../../src/oci/gzip.js";
import { createLayerStream, packLayer } from "../../src/oci/pack.js";
import { collect, entriesFromDir, expectCode, tempDir } from "./helpers.js";

const GZIP_BLOCK_SIZE = GZIP_BLOCK_BOUNDARIES.max;

const FILES: Array<[string, string, boolean]> = [
  ["SKILL.md", "# Skill\n", false],
  ["tools/run.sh", "#!/bin/sh\necho run\n", true],
  ["tools/lib/helper.py", "print('hi')\n", false],
  ["data/table.csv", "a,b\n1,2\n", false],
  ["data/empty.txt", "", false],
  ["zz/naïve.txt", "unicode name\n", false],
];

async function makeTree(
  root: string,
  order: typeof FILES,
  mtime: number,
  execMode: number,
  owner?: number,
): Promise<void> {
  for (const [path, content, exec] of order) {
    const abs = join(root, path);
    await mkdir(join(abs, ".."), { recursive: true });
    await writeFile(abs, content);
    if (exec) await chmod(abs, execMode);
    await utimes(abs, mtime, mtime);
    if (owner !== undefined) await chown(abs, owner, owner);
  }
  await mkdir(join(root, "emptydir"), { recursive: true });
  for (const d of ["tools/lib", "tools", "data", "zz", "emptydir", "."])
    await utimes(join(root, d), mtime, mtime);
}

test("the same tree packs to identical digests despite order, mtimes, umask, owners and location", async (t) => {
  const base = await tempDir(t);
  const oldUmask = process.umask();
  try {
    process.umask(0o022);
    const a = join(base, "one", "src");
    await makeTree(a, FILES, 1000, 0o755);
    process.umask(0o002);
    const b = join(base, "other", "deeper", "place", "src");
    const isRoot = process.getuid?.() === 0;
    await makeTree(b, [...FILES].reverse(), 2_000_000_000, 0o775, isRoot ? 4242 : undefined);
    // Sanity: the trees really differ on disk.
    assert.notEqual((await stat(join(a, "SKILL.md"))).mode, (await stat(join(b, "SKILL.md"))).mode);
    assert.notEqual((await stat(join(a, "SKILL.md"))).mtimeMs, (await stat(join(b, "SKILL.md"))).mtimeMs);
  } finally {
    process.umask(oldUmask);
  }
  const entriesA = await entriesFromDir(join(base, "one", "src"));
  const entriesB = (await entriesFromDir(join(base, "other", "deeper", "place", "src"))).reverse();
  assert.notDeepEqual(
    entriesA.map((e) => e.path),
    entriesB.map((e) => e.path),
  );
  const ra = await packLayer(entriesA, { epoch: 0, destination: join(base, "a.tgz") });
  const rb = await packLayer(entriesB, { epoch: 0, destination: join(base, "b.tgz") });
  assert.equal(ra.diffId, rb.diffId);
  assert.equal(ra.digest, rb.digest);
  assert.equal(ra.size, rb.size);
  assert.equal(ra.uncompressedSize, rb.uncompressedSize);
  assert.deepEqual(await readFile(join(base, "a.tgz")), await readFile(join(base, "b.tgz")));

  // A different epoch is a different layer (the epoch is really used).
  const rc = await packLayer(entriesA, { epoch: 1_700_000_000, destination: join(base, "c.tgz") });
  assert.notEqual(rc.diffId, ra.diffId);
});

test("one pass yields the compressed digest/size and the diffID/uncompressed size", async (t) => {
  const dir = await tempDir(t);
  const dest = join(dir, "layer.tgz");
  const r = await packLayer(
    [
      { path: "a.txt", kind: "file", content: Buffer.from("alpha\n") },
      { path: "b/c.txt", kind: "file", size: 5, content: () => Readable.from([Buffer.from("gamma")]) },
    ],
    { epoch: 0, destination: dest },
  );
  const blob = await readFile(dest);
  assert.equal(r.digest, sha256Digest(blob));
  assert.equal(r.size, blob.length);
  const tar = zlib.gunzipSync(blob);
  assert.equal(r.diffId, sha256Digest(tar));
  assert.equal(r.uncompressedSize, tar.length);
  assert.equal(tar.length % 512, 0);

  // The same through a Writable destination and through createLayerStream.
  const chunks: Buffer[] = [];
  const sink = new Writable({
    write(c, _e, cb) {
      chunks.push(c);
      cb();
    },
  });
  const r2 = await packLayer([{ path: "a.txt", kind: "file", content: Buffer.from("alpha\n") }], {
    epoch: 0,
    destination: sink,
  });
  assert.equal(r2.digest, sha256Digest(Buffer.concat(chunks)));
  const ls = createLayerStream([{ path: "a.txt", kind: "file", content: Buffer.from("alpha\n") }], {
    epoch: 0,
  });
  const bytes = await collect(ls.stream);
  assert.deepEqual(await ls.result, r2);
  assert.deepEqual(bytes, Buffer.concat(chunks));
});

test("failures leave no destination file; an existing destination is never overwritten", async (t) => {
  const dir = await tempDir(t);
  const dest = join(dir, "layer.tgz");
  await expectCode(
    () =>
      packLayer(
        [{ path: "x", kind: "file", size: 10, content: () => Readable.from([Buffer.from("short")]) }],
        {
          epoch: 0,
          destination: dest,
        },
      ),
    "OCI_TAR_SIZE_MISMATCH",
    /declared 10 bytes but the content has 5/,
  );
  await assert.rejects(stat(dest), { code: "ENOENT" });

  await writeFile(dest, "keep me");
  await assert.rejects(packLayer([{ path: "x", kind: "file" }], { epoch: 0, destination: dest }), {
    code: "EEXIST",
  });
  assert.equal(await readFile(dest, "utf8"), "keep me");
});

test("a multi-block layer packs to the same bytes on 1 or 8 deflate threads or none, and tar/gzip read it", async (t) => {
  const base = await tempDir(t);
  const entries = Array.from({ length: 12 }, (_, i) => {
    const content = Buffer.alloc(GZIP_BLOCK_SIZE / 3 + i * 777, `file ${i} says ${"la".repeat(i)} `);
    for (let j = 0; j < content.length; j += 4096) content[j] = (j * 31 + i) & 0xff;
    return { path: `data/f${String(i).padStart(2, "0")}.txt`, kind: "file" as const, content };
  });
  const one = new DeflatePool(1);
  const eight = new DeflatePool(8);
  try {
    const runs = await Promise.all(
      ([null, one, eight] as const).map((deflatePool, i) =>
        packLayer(entries, { epoch: 0, destination: join(base, `layer${i}.tar.gz`), deflatePool }),
      ),
    );
    assert.ok(runs[0]!.uncompressedSize > 4 * GZIP_BLOCK_SIZE, "several blocks");
    assert.deepEqual(runs[1], runs[0]);
    assert.deepEqual(runs[2], runs[0]);
    const gz = await readFile(join(base, "layer2.tar.gz"));
    assert.equal(sha256Digest(gz), runs[0]!.digest);
    assert.equal(sha256Digest(zlib.gunzipSync(gz)), runs[0]!.diffId);
    const listing = execFileSync("sh", ["-c", `gzip -dc '${join(base, "layer2.tar.gz")}' | tar -tf -`], {
      encoding: "utf8",
    });
    assert.deepEqual(listing.trim().split("\n"), ["data/", ...entries.map((e) => e.path)]);
  } finally {
    await Promise.all([one.close(), eight.close()]);
  }
});
