import assert from "node:assert/strict";
import { lstat, mkdir, readFile, readlink, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import zlib from "node:zlib";
import tarStream from "tar-stream";
import { DEFAULT_MAX_ENTRIES, extractTar, safeName } from "../../src/oci/extract.js";
import { createLayerStream } from "../../src/oci/pack.js";
import { collect, expectCode, listTree, tempDir } from "./helpers.js";

type Header = Parameters<tarStream.Pack["entry"]>[0];
type Item = { header: Header; body?: string | Buffer };

/** Builds a tarball with tar-stream, with whatever names, types and modes we ask for. */
async function makeTar(items: Item[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const done = collect(pack as AsyncIterable<Buffer>);
  for (const { header, body } of items) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body === undefined) pack.entry(header, cb);
      else pack.entry(header, body, cb);
    });
  }
  pack.finalize();
  return done;
}

const file = (name: string, body = "x", mode = 0o644): Item => ({ header: { name, mode }, body });
const dir = (name: string): Item => ({ header: { name, type: "directory", mode: 0o755 } });
const sym = (name: string, linkname: string): Item => ({ header: { name, type: "symlink", linkname } });

/** A sandbox with the target inside: `outside` must stay empty whatever the tarball does. */
async function sandbox(t: import("node:test").TestContext) {
  const base = await tempDir(t);
  const outside = join(base, "sandbox");
  await mkdir(outside);
  return { outside, target: join(outside, "target") };
}

async function expectRefused(
  t: import("node:test").TestContext,
  items: Item[],
  code: string,
  message: RegExp,
  options: Parameters<typeof extractTar>[2] = {},
): Promise<void> {
  const { outside, target } = await sandbox(t);
  const tar = await makeTar(items);
  await expectCode(() => extractTar(Readable.from([tar]), target, options), code, message);
  assert.deepEqual(await listTree(outside), [], "nothing outside, and the partial extraction is removed");
  // The gzip form is refused the same way.
  await expectCode(() => extractTar(Readable.from([zlib.gzipSync(tar)]), target, options), code, message);
  assert.deepEqual(await listTree(outside), []);
}

test("extracts files and directories, normalising modes; reads gzip and plain tar", async (t) => {
  const { target } = await sandbox(t);
  const tar = await makeTar([
    dir("./"),
    file("./bin/run", "#!/bin/sh\n", 0o4775), // setuid + group-writable → 0755
    file("doc/readme.md", "hi", 0o666),
    file("doc/private", "p", 0o600),
    dir("empty"),
    sym("doc/link", "readme.md"),
    { header: { name: "doc/hard", type: "link", linkname: "doc/readme.md" } },
  ]);
  const umask = process.umask(0o077); // modes must not depend on the umask
  let r: Awaited<ReturnType<typeof extractTar>>;
  try {
    r = await extractTar(Readable.from([zlib.gzipSync(tar)]), target);
  } finally {
    process.umask(umask);
  }
  assert.deepEqual(r, { entries: 6, bytes: 13 });
  assert.deepEqual(await listTree(target), [
    "bin",
    "bin/run",
    "doc",
    "doc/hard",
    "doc/link",
    "doc/private",
    "doc/readme.md",
    "empty",
  ]);
  const mode = async (p: string) => ((await stat(join(target, p))).mode & 0o7777).toString(8);
  assert.equal(await mode("bin/run"), "755");
  assert.equal(await mode("doc/readme.md"), "644");
  assert.equal(await mode("doc/private"), "644");
  assert.equal(await mode("bin"), "755");
  assert.equal(await mode("empty"), "755");
  assert.equal(await readlink(join(target, "doc/link")), "readme.md");
  assert.equal(await readFile(join(target, "doc/hard"), "utf8"), "hi");

  // An existing empty directory is fine too; and our own layers round-trip.
  const target2 = join(target, "..", "second");
  await mkdir(target2);
  const { stream } = createLayerStream(
    [{ path: "skills/a/SKILL.md", kind: "file", content: Buffer.from("# A\n") }],
    { epoch: 0 },
  );
  await extractTar(stream, target2);
  assert.equal(await readFile(join(target2, "skills/a/SKILL.md"), "utf8"), "# A\n");
});

test("a repeated directory entry, and one for a directory made as a parent, are kept with their content", async (t) => {
  const { target } = await sandbox(t);
  const tar = await makeTar([
    dir("d/"),
    file("d/a", "a"),
    dir("d/"),
    file("p/q/b", "b"),
    dir("p/"),
    dir("p/q"),
    dir("d"),
  ]);
  const umask = process.umask(0o077);
  let r: Awaited<ReturnType<typeof extractTar>>;
  try {
    r = await extractTar(Readable.from([tar]), target);
  } finally {
    process.umask(umask);
  }
  assert.deepEqual(r, { entries: 7, bytes: 2 });
  assert.deepEqual(await listTree(target), ["d", "d/a", "p", "p/q", "p/q/b"]);
  for (const d of ["d", "p", "p/q"])
    assert.equal(((await stat(join(target, d))).mode & 0o7777).toString(8), "755");
  assert.equal(await readFile(join(target, "d/a"), "utf8"), "a");
});

test("refuses `..` entries and absolute paths without writing outside", async (t) => {
  await expectRefused(
    t,
    [file("ok.txt"), file("../escaped")],
    "OCI_EXTRACT_PATH_UNSAFE",
    /"\.\.\/escaped" contains "\.\."/,
  );
  await expectRefused(t, [file("a/../../escaped")], "OCI_EXTRACT_PATH_UNSAFE", /contains "\.\."/);
  await expectRefused(t, [file("/tmp/agentrc-escaped")], "OCI_EXTRACT_PATH_UNSAFE", /is an absolute path/);
  await expectRefused(t, [file("a\\..\\..\\x")], "OCI_EXTRACT_PATH_UNSAFE", /contains a backslash/);
  await expectRefused(t, [file("C:/x")], "OCI_EXTRACT_PATH_UNSAFE", /drive letter/);
  assert.equal(safeName("./a//b/./c/"), "a/b/c");
  assert.equal(safeName("./"), undefined);
});

test("refuses symlinks that escape, directly or through other symlinks", async (t) => {
  await expectRefused(t, [sym("l", "../outside")], "OCI_EXTRACT_LINK_ESCAPE", /points outside/);
  await expectRefused(t, [sym("a/b/l", "../../../x")], "OCI_EXTRACT_LINK_ESCAPE", /points outside/);
  await expectRefused(t, [sym("l", "/etc/passwd")], "OCI_EXTRACT_LINK_ESCAPE", /is absolute/);
  // a/b -> .. stays inside (it is the root); l -> a/b/.. looks like "a" lexically but is the parent of root.
  await expectRefused(
    t,
    [dir("a"), sym("a/b", ".."), sym("l", "a/b/..")],
    "OCI_EXTRACT_LINK_ESCAPE",
    /"l" resolves outside/,
  );
  await expectRefused(t, [sym("x", "y"), sym("y", "x")], "OCI_EXTRACT_LINK_ESCAPE", /loops/);
  await expectRefused(t, [sym("ok", "file")], "OCI_EXTRACT_LINK_ESCAPE", /links are not allowed/, {
    links: "refuse",
  });
});

test("refuses entries written through an extracted symlink", async (t) => {
  await expectRefused(
    t,
    [dir("real"), sym("l", "real"), file("l/x")],
    "OCI_EXTRACT_THROUGH_SYMLINK",
    /"l\/x" lies under the symlink "l"/,
  );
  // The classic attack: a link to the outside, then a file through it.
  await expectRefused(
    t,
    [sym("evil", "."), file("evil/../../x")],
    "OCI_EXTRACT_PATH_UNSAFE",
    /contains "\.\."/,
  );
});

test("refuses hardlinks that do not name a file extracted earlier", async (t) => {
  const hard = (name: string, linkname: string): Item => ({ header: { name, type: "link", linkname } });
  await expectRefused(t, [hard("h", "../../etc/passwd")], "OCI_EXTRACT_LINK_ESCAPE", /contains "\.\."/);
  await expectRefused(t, [hard("h", "/etc/passwd")], "OCI_EXTRACT_LINK_ESCAPE", /absolute path/);
  await expectRefused(
    t,
    [hard("h", "later"), file("later")],
    "OCI_EXTRACT_LINK_ESCAPE",
    /not a file extracted/,
  );
  await expectRefused(
    t,
    [dir("d"), sym("s", "d"), file("d/f"), hard("h", "s/f")],
    "OCI_EXTRACT_LINK_ESCAPE",
    /not a file extracted earlier/,
  );
});

test("refuses devices, FIFOs and duplicates", async (t) => {
  for (const type of ["character-device", "block-device", "fifo"] as const) {
    await expectRefused(
      t,
      [file("ok"), { header: { name: "dev", type, devmajor: 1, devminor: 3 } }],
      "OCI_EXTRACT_SPECIAL_FILE",
      new RegExp(`"dev" is a ${type} entry`),
    );
  }
  await expectRefused(t, [file("a"), file("a")], "OCI_EXTRACT_DUPLICATE_PATH", /holds "a" twice/);
  await expectRefused(t, [file("a"), file("a/b")], "OCI_EXTRACT_DUPLICATE_PATH", /lies under the file "a"/);
  await expectRefused(t, [file("a/b"), sym("a", ".")], "OCI_EXTRACT_DUPLICATE_PATH", /holds "a" twice/);
});

test("limits: entry-count bomb and size bomb", async (t) => {
  assert.equal(DEFAULT_MAX_ENTRIES, 100_000);
  const many = Array.from({ length: 300 }, (_, i) => file(`f${i}`, ""));
  await expectRefused(t, many, "OCI_EXTRACT_TOO_MANY_ENTRIES", /more than 250 entries/, { maxEntries: 250 });
  await expectRefused(t, [file("big", "x".repeat(5000))], "OCI_EXTRACT_TOO_LARGE", /more than 4096 bytes/, {
    maxTotalSize: 4096,
  });
  // 64 MiB of zeros gzip to ~64 KiB: refused once the limit is reached, without inflating it all to disk.
  const { outside, target } = await sandbox(t);
  const zeros = await makeTar([
    { header: { name: "zeros", size: 64 * 1024 * 1024 }, body: Buffer.alloc(64 * 1024 * 1024) },
  ]);
  const bomb = zlib.gzipSync(zeros, { level: 9 });
  assert.ok(bomb.length < 256 * 1024);
  await expectCode(
    () => extractTar(Readable.from([bomb]), target, { maxTotalSize: 1024 * 1024 }),
    "OCI_EXTRACT_TOO_LARGE",
    /more than 1048576 bytes/,
  );
  assert.deepEqual(await listTree(outside), []);
});

test("corrupt input: truncated tar, bad checksum, broken gzip", async (t) => {
  const tar = await makeTar([file("a", "y".repeat(2000))]);
  const { outside, target } = await sandbox(t);
  await expectCode(
    () => extractTar(Readable.from([tar.subarray(0, 1000)]), target),
    "OCI_EXTRACT_CORRUPT",
    /Unexpected end of data/,
  );
  const bad = Buffer.from(tar);
  bad[10] = 0x41; // inside the name: checksum no longer matches
  await expectCode(
    () => extractTar(Readable.from([bad]), target),
    "OCI_EXTRACT_CORRUPT",
    /the tar header at byte 0 has a bad checksum/,
  );
  const gz = zlib.gzipSync(tar);
  gz[gz.length - 20] = (gz[gz.length - 20] ?? 0) ^ 0xff;
  await expectCode(
    () => extractTar(Readable.from([gz]), target, { compression: "gzip" }),
    "OCI_EXTRACT_CORRUPT",
    /The tarball is corrupt/,
  );
  assert.deepEqual(await listTree(outside), []);
});

test("garbage is a bad header checksum, never 'too large', however big the chunk", async (t) => {
  const { outside, target } = await sandbox(t);
  // Deterministic garbage: not a tar header (its checksum field cannot match), 20 MiB in one chunk.
  const garbage = Buffer.alloc(20 * 1024 * 1024);
  for (let i = 0, s = 7; i < garbage.length; i++) {
    s = (s * 1103515245 + 12345) & 0x7fffffff;
    garbage[i] = s >>> 16;
  }
  await expectCode(
    () => extractTar(Readable.from([garbage]), target),
    "OCI_EXTRACT_CORRUPT",
    /the tar header at byte 0 has a bad checksum/,
  );
  await expectCode(
    () => extractTar(Readable.from([zlib.gzipSync(garbage, { level: 1 })]), target),
    "OCI_EXTRACT_CORRUPT",
    /the tar header at byte 0 has a bad checksum/,
  );
  // A good first entry, then garbage where the next header should be.
  const good = await makeTar([file("a", "y".repeat(600))]);
  const header = good.subarray(0, 512 + 1024);
  await expectCode(
    () => extractTar(Readable.from([Buffer.concat([header, garbage])]), target),
    "OCI_EXTRACT_CORRUPT",
    /a tar header has a bad checksum/,
  );
  assert.deepEqual(await listTree(outside), []);
});

test("a directory entry that declares content is corrupt (tar-stream would wait for it for ever)", async (t) => {
  const { outside, target } = await sandbox(t);
  const tar = await makeTar([dir("a/"), file("a/b.txt", "hello")]);
  tar.fill(0, 124, 136);
  tar.write("7", 124, "latin1"); // size 7 on the directory
  tar.fill(0x20, 148, 156);
  let sum = 0;
  for (let i = 0; i < 512; i++) sum += tar[i]!;
  tar.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148, "latin1");
  await expectCode(
    () => extractTar(Readable.from([tar]), target),
    "OCI_EXTRACT_CORRUPT",
    /the directory entry "a" declares 7 bytes of content/,
  );
  assert.deepEqual(await listTree(outside), []);
});

test("the target must be new or empty; an existing empty target is emptied again on failure", async (t) => {
  const { outside, target } = await sandbox(t);
  await mkdir(target);
  await writeFile(join(target, "keep.txt"), "mine");
  await expectCode(
    () => extractTar(Readable.from([Buffer.alloc(1024)]), target),
    "OCI_EXTRACT_TARGET_EXISTS",
    /exists and is not an empty directory/,
  );
  assert.equal(await readFile(join(target, "keep.txt"), "utf8"), "mine");

  const empty = join(outside, "empty");
  await mkdir(empty);
  await expectCode(
    async () => extractTar(Readable.from([await makeTar([file("a"), file("../b")])]), empty),
    "OCI_EXTRACT_PATH_UNSAFE",
    /contains "\.\."/,
  );
  assert.ok((await lstat(empty)).isDirectory());
  assert.deepEqual(await listTree(empty), []);
});
