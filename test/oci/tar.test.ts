import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import tarStream from "tar-stream";
import {
  checkEpoch,
  createTarStream,
  fitsUstar,
  parseSourceDateEpoch,
  planEntries,
  type TarEntry,
} from "../../src/oci/tar.js";
import { collect, expectCode, tempDir } from "./helpers.js";

const EPOCH = 1700000000;

async function tarOf(entries: TarEntry[], epoch = EPOCH): Promise<Buffer> {
  return collect(createTarStream(entries, { epoch }));
}

interface RawHeader {
  name: string;
  mode: number;
  uid: number;
  gid: number;
  size: number;
  mtime: number;
  type: string;
  magic: string;
  uname: string;
  gname: string;
  prefix: string;
}

/** Parses raw 512-byte headers (no library), so the test sees exactly what was written. */
function rawHeaders(tar: Buffer): Array<RawHeader & { body: Buffer }> {
  const out: Array<RawHeader & { body: Buffer }> = [];
  let off = 0;
  const str = (b: Buffer, s: number, l: number) =>
    b
      .subarray(s, s + l)
      .toString("latin1")
      .replace(/\0.*$/s, "");
  const oct = (b: Buffer, s: number, l: number) => Number.parseInt(str(b, s, l).trim() || "0", 8);
  while (off + 512 <= tar.length) {
    const h = tar.subarray(off, off + 512);
    if (h.every((x) => x === 0)) break;
    const size = oct(h, 124, 12);
    const body = tar.subarray(off + 512, off + 512 + size);
    out.push({
      name: str(h, 0, 100),
      mode: oct(h, 100, 8),
      uid: oct(h, 108, 8),
      gid: oct(h, 116, 8),
      size,
      mtime: oct(h, 136, 12),
      type: String.fromCharCode(h[156] ?? 0),
      magic: h.subarray(257, 265).toString("latin1"),
      uname: str(h, 265, 32),
      gname: str(h, 297, 32),
      prefix: str(h, 345, 155),
      body,
    });
    off += 512 + Math.ceil(size / 512) * 512;
  }
  // Two zero blocks end the archive.
  assert.equal(tar.length, off + 1024, "archive ends right after two zero blocks");
  assert.ok(tar.subarray(off).every((x) => x === 0));
  return out;
}

test("entries are sorted by UTF-8 bytes, parents synthesised with a trailing /, no root entry", async () => {
  const entries: TarEntry[] = [
    { path: "é", kind: "file", content: Buffer.from("e") },
    { path: "a/x", kind: "file", content: Buffer.from("x") },
    { path: "B", kind: "file" },
    { path: "a-b", kind: "file" },
    { path: "deep/er/still/f.txt", kind: "file", content: Buffer.from("f") },
    { path: "a", kind: "dir" }, // explicit and also a parent: one entry
    { path: "empty/", kind: "dir" },
    { path: "\u{1F600}", kind: "file" },
    { path: "~", kind: "file" },
  ];
  const names = planEntries(entries).map((e) => e.name);
  assert.deepEqual(names, [
    "B",
    "a-b",
    "a/",
    "a/x",
    "deep/",
    "deep/er/",
    "deep/er/still/",
    "deep/er/still/f.txt",
    "empty/",
    "~",
    "é",
    "\u{1F600}",
  ]);
  // Locale-aware sorting would have put "a-b" after "a/" or "B" after "a"; byte order does not.
  const sorted = [...names].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y)));
  assert.deepEqual(names, sorted);

  // The tar holds the same order (read back with tar-stream, which applies PAX paths).
  const read: string[] = [];
  const ex = tarStream.extract();
  ex.end(await tarOf(entries));
  for await (const e of ex) {
    read.push(e.header.name);
    e.resume();
  }
  assert.deepEqual(read, names);
});

test("headers: ustar, epoch mtime, uid/gid 0, empty names, 0644/0755 modes", async () => {
  const tar = await tarOf([
    { path: "bin/run", kind: "file", executable: true, content: Buffer.from("#!/bin/sh\n") },
    { path: "bin/data.txt", kind: "file", content: Buffer.from("data") },
  ]);
  const hs = rawHeaders(tar);
  assert.deepEqual(
    hs.map((h) => [h.name, h.type, h.mode.toString(8), h.size]),
    [
      ["bin/", "5", "755", 0],
      ["bin/data.txt", "0", "644", 4],
      ["bin/run", "0", "755", 10],
    ],
  );
  for (const h of hs) {
    assert.equal(h.magic, "ustar\u000000");
    assert.equal(h.mtime, EPOCH);
    assert.equal(h.uid, 0);
    assert.equal(h.gid, 0);
    assert.equal(h.uname, "");
    assert.equal(h.gname, "");
  }
  assert.equal(hs[2]?.body.toString(), "#!/bin/sh\n");
});

test("PAX only when a path does not fit ustar, holding nothing but the path", async () => {
  const long = `${"d".repeat(120)}/${"f".repeat(99)}`; // fits with the prefix field
  const tooLong = `${"d".repeat(160)}/f`; // prefix > 155
  const unsplittable = "n".repeat(101);
  const unicode = "café.txt";
  assert.ok(fitsUstar(long));
  assert.ok(!fitsUstar(tooLong));
  assert.ok(!fitsUstar(unsplittable));
  assert.ok(!fitsUstar(unicode));
  assert.ok(!fitsUstar(`${"x".repeat(100)}/`), "a directory whose name part would be empty uses PAX");
  const tar = await tarOf([
    { path: long, kind: "file" },
    { path: tooLong, kind: "file" },
    { path: unsplittable, kind: "file" },
    { path: unicode, kind: "file" },
    { path: "short", kind: "file" },
  ]);
  const hs = rawHeaders(tar);
  const paxRecords = hs.filter((h) => h.type === "x").map((h) => h.body.toString("utf8"));
  const record = (p: string) => {
    const body = ` path=${p}\n`;
    let n = Buffer.byteLength(body) + 1;
    while (String(n).length + Buffer.byteLength(body) !== n) n++;
    return `${n}${body}`;
  };
  // Byte order: café.txt, d×120/ (parent: name part would be empty), d×120/f×99 (ustar with prefix),
  // d×160/ (parent: too long), d×160/f, n×101, short.
  assert.deepEqual(paxRecords, [
    record(unicode),
    record(`${"d".repeat(120)}/`),
    record(`${"d".repeat(160)}/`),
    record(tooLong),
    record(unsplittable),
  ]);
  const plainLong = hs.find((h) => h.type === "0" && h.prefix === "d".repeat(120));
  assert.equal(plainLong?.name, "f".repeat(99));
  for (const h of hs.filter((x) => x.type === "x")) {
    assert.equal(h.mtime, EPOCH);
    assert.equal(h.uid, 0);
  }
  assert.equal(hs.filter((h) => h.type === "x").length, 5);
  assert.ok(hs.some((h) => h.type === "0" && h.name === "short"));
});

test("GNU tar lists uid 0/gid 0, the epoch mtime and the normalised modes", async (t) => {
  const dir = await tempDir(t);
  const file = join(dir, "layer.tar");
  await writeFile(
    file,
    await tarOf([
      { path: "skills/review/SKILL.md", kind: "file", content: Buffer.from("# Review\n") },
      { path: "skills/review/run.sh", kind: "file", executable: true, content: Buffer.from("echo\n") },
    ]),
  );
  const out = execFileSync("tar", ["--numeric-owner", "--full-time", "-tvf", file], {
    env: { ...process.env, TZ: "UTC", LC_ALL: "C" },
    encoding: "utf8",
  });
  const rows = out
    .trim()
    .split("\n")
    .map((l) => l.split(/\s+/));
  assert.deepEqual(
    rows.map((r) => [r[0], r[1], r[3], r[4], r[5]]),
    [
      ["drwxr-xr-x", "0/0", "2023-11-14", "22:13:20", "skills/"],
      ["drwxr-xr-x", "0/0", "2023-11-14", "22:13:20", "skills/review/"],
      ["-rw-r--r--", "0/0", "2023-11-14", "22:13:20", "skills/review/SKILL.md"],
      ["-rwxr-xr-x", "0/0", "2023-11-14", "22:13:20", "skills/review/run.sh"],
    ],
  );
  // And GNU tar reads the contents back.
  assert.equal(
    execFileSync("tar", ["-xOf", file, "skills/review/SKILL.md"], { encoding: "utf8" }),
    "# Review\n",
  );
});

test("streamed contents are opened one at a time, in write order", async () => {
  const log: string[] = [];
  let open = 0;
  const src = (name: string, text: string) => () => {
    log.push(`open ${name}`);
    open++;
    assert.equal(open, 1, "only one content stream is open at a time");
    const r = Readable.from([Buffer.from(text.slice(0, 2)), Buffer.from(text.slice(2))]);
    r.on("end", () => {
      log.push(`end ${name}`);
      open--;
    });
    return r;
  };
  const tar = await tarOf([
    { path: "c", kind: "file", size: 5, content: src("c", "ccccc") },
    { path: "a", kind: "file", size: 3, content: src("a", "aaa") },
    { path: "b", kind: "file", size: 4, content: src("b", "bbbb") },
  ]);
  assert.deepEqual(log, ["open a", "end a", "open b", "end b", "open c", "end c"]);
  assert.deepEqual(
    rawHeaders(tar).map((h) => h.body.toString()),
    ["aaa", "bbbb", "ccccc"],
  );
});

test("bad paths are rejected with specific codes", async () => {
  const cases: Array<[string, "file" | "dir", string, RegExp]> = [
    ["../etc/passwd", "file", "OCI_TAR_PATH_TRAVERSAL", /contains "\.\."/],
    ["a/../../b", "file", "OCI_TAR_PATH_TRAVERSAL", /contains "\.\."/],
    ["/etc/passwd", "file", "OCI_TAR_PATH_ABSOLUTE", /is absolute/],
    ["a\\b", "file", "OCI_TAR_PATH_INVALID", /backslash/],
    ["a\0b", "file", "OCI_TAR_PATH_INVALID", /NUL/],
    ["", "file", "OCI_TAR_PATH_INVALID", /is empty/],
    ["./a", "file", "OCI_TAR_PATH_INVALID", /empty or "\." component/],
    ["a//b", "file", "OCI_TAR_PATH_INVALID", /empty or "\." component/],
    ["dir/", "file", "OCI_TAR_PATH_INVALID", /a file path ends in \//],
    ["/", "dir", "OCI_TAR_PATH_ABSOLUTE", /is absolute/],
  ];
  for (const [path, kind, code, re] of cases) {
    await expectCode(() => planEntries([{ path, kind }]), code, re);
    await expectCode(() => createTarStream([{ path, kind }], { epoch: 0 }), code, re);
  }
});

test("duplicates and file/directory conflicts are rejected", async () => {
  await expectCode(
    () =>
      planEntries([
        { path: "a", kind: "file" },
        { path: "a", kind: "file" },
      ]),
    "OCI_TAR_DUPLICATE_PATH",
    /Duplicate layer path "a"/,
  );
  await expectCode(
    () =>
      planEntries([
        { path: "d", kind: "dir" },
        { path: "d/", kind: "dir" },
      ]),
    "OCI_TAR_DUPLICATE_PATH",
    /Duplicate layer path "d"/,
  );
  await expectCode(
    () =>
      planEntries([
        { path: "a", kind: "file" },
        { path: "a/b", kind: "file" },
      ]),
    "OCI_TAR_DUPLICATE_PATH",
    /"a" is both a file and a directory/,
  );
  await expectCode(
    () =>
      planEntries([
        { path: "a/b", kind: "file" },
        { path: "a", kind: "file" },
      ]),
    "OCI_TAR_DUPLICATE_PATH",
    /"a" is both a file and a directory/,
  );
});

test("sizes: required for streams, checked against buffers and against what the stream yields", async () => {
  await expectCode(
    () => planEntries([{ path: "s", kind: "file", content: () => Readable.from([]) }]),
    "OCI_TAR_SIZE_MISMATCH",
    /is streamed but has no valid size/,
  );
  await expectCode(
    () => planEntries([{ path: "b", kind: "file", size: 3, content: Buffer.from("ab") }]),
    "OCI_TAR_SIZE_MISMATCH",
    /declared size 3 but the content has 2 bytes/,
  );
  await expectCode(
    () =>
      tarOf([{ path: "short", kind: "file", size: 5, content: () => Readable.from([Buffer.from("abc")]) }]),
    "OCI_TAR_SIZE_MISMATCH",
    /declared 5 bytes but the content has 3/,
  );
  await expectCode(
    () =>
      tarOf([{ path: "long", kind: "file", size: 2, content: () => Readable.from([Buffer.from("abc")]) }]),
    "OCI_TAR_SIZE_MISMATCH",
    /declared 2 bytes but the content has more/,
  );
  // A failing content stream fails the tar stream with its error.
  await assert.rejects(
    tarOf([
      {
        path: "boom",
        kind: "file",
        size: 1,
        content: () =>
          new Readable({
            read() {
              this.destroy(new Error("disk on fire"));
            },
          }),
      },
    ]),
    /disk on fire/,
  );
});

test("epochs: SOURCE_DATE_EPOCH parsing is strict", async () => {
  assert.equal(parseSourceDateEpoch(undefined), 0);
  assert.equal(parseSourceDateEpoch(""), 0);
  assert.equal(parseSourceDateEpoch("1700000000"), 1700000000);
  assert.equal(checkEpoch(2 ** 31 - 1), 2 ** 31 - 1);
  for (const bad of ["-1", "1.5", "1e9", " 12", "now", "0x10"]) {
    await expectCode(() => parseSourceDateEpoch(bad), "OCI_EPOCH_INVALID", /is not an integer/);
  }
  await expectCode(() => parseSourceDateEpoch("2147483648"), "OCI_EPOCH_INVALID", /Invalid epoch 2147483648/);
  await expectCode(() => createTarStream([], { epoch: -1 }), "OCI_EPOCH_INVALID", /Invalid epoch -1/);
  await expectCode(() => createTarStream([], { epoch: 1.5 }), "OCI_EPOCH_INVALID", /Invalid epoch 1.5/);
});

test("an empty entry list gives just the end-of-archive blocks", async () => {
  const tar = await tarOf([]);
  assert.equal(tar.length, 1024);
  assert.ok(tar.every((b) => b === 0));
});

test("with a root (the layer title) nothing above it is written and nothing outside it is accepted", async () => {
  const names = (entries: TarEntry[], root: string) => planEntries(entries, root).map((e) => e.name);
  assert.deepEqual(
    names(
      [
        { path: "skills/sum/prompts/short.txt", kind: "file" },
        { path: "skills/sum/SKILL.md", kind: "file" },
      ],
      "skills/sum",
    ),
    ["skills/sum/", "skills/sum/SKILL.md", "skills/sum/prompts/", "skills/sum/prompts/short.txt"],
  );
  // the root may be written explicitly; it is the only entry allowed at the root path
  assert.deepEqual(names([{ path: "data/", kind: "dir" }], "data"), ["data/"]);
  // the same entries without a root get every parent
  assert.deepEqual(
    planEntries([{ path: "skills/sum/SKILL.md", kind: "file" }]).map((e) => e.name),
    ["skills/", "skills/sum/", "skills/sum/SKILL.md"],
  );
  const outside: Array<[string, "file" | "dir", string]> = [
    ["docs/a.md", "file", "data"],
    ["database/x", "file", "data"],
    ["skills/other/SKILL.md", "file", "skills/sum"],
    ["skills/", "dir", "skills/sum"],
    ["data", "file", "data"],
  ];
  for (const [path, kind, root] of outside) {
    const re = new RegExp(`Layer path "${path.replace(/\/$/, "")}" is not below the layer root "${root}"`);
    await expectCode(() => planEntries([{ path, kind }], root), "OCI_TAR_PATH_OUTSIDE_ROOT", re);
    await expectCode(
      () => createTarStream([{ path, kind }], { epoch: 0, root }),
      "OCI_TAR_PATH_OUTSIDE_ROOT",
      re,
    );
  }
  await expectCode(
    () => planEntries([{ path: "a", kind: "file" }], "../x"),
    "OCI_TAR_PATH_TRAVERSAL",
    /"\.\.\/x"/,
  );
});
