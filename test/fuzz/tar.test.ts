import assert from "node:assert/strict";
import { mkdir, readdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import zlib from "node:zlib";
import fc from "fast-check";
import tarStream from "tar-stream";
import { extractTar } from "../../src/oci/extract.js";
import { testdir } from "../helpers/testdir.js";
import { expectHandled, fuzzParameters } from "./settings.js";

type Header = Parameters<tarStream.Pack["entry"]>[0];

async function tarOf(items: { header: Header; body?: Buffer }[]): Promise<Buffer> {
  const pack = tarStream.pack();
  const chunks: Buffer[] = [];
  const done = (async () => {
    for await (const c of pack as AsyncIterable<Buffer>) chunks.push(c);
  })();
  for (const { header, body } of items) {
    await new Promise<void>((resolve, reject) => {
      const cb = (err?: Error | null) => (err ? reject(err) : resolve());
      if (body === undefined) pack.entry(header, cb);
      else pack.entry(header, body, cb);
    });
  }
  pack.finalize();
  await done;
  return Buffer.concat(chunks);
}

/** Starting points: ordinary layers, and the shapes extraction must refuse (links out, devices, long pax names). */
const BASES = await Promise.all([
  tarOf([
    { header: { name: "a/", type: "directory", mode: 0o755 } },
    { header: { name: "a/b.txt", mode: 0o644 }, body: Buffer.from("hello\n") },
    { header: { name: "a/run.sh", mode: 0o755 }, body: Buffer.from("#!/bin/sh\n") },
  ]),
  tarOf([
    { header: { name: "x", mode: 0o644 }, body: Buffer.alloc(3000, 1) },
    { header: { name: "hard", type: "link", linkname: "x" } },
    { header: { name: "soft", type: "symlink", linkname: "x" } },
    { header: { name: "up", type: "symlink", linkname: "../../etc" } },
  ]),
  tarOf([
    { header: { name: `${"deep/".repeat(40)}file`, mode: 0o644 }, body: Buffer.from("pax") },
    { header: { name: "dev", type: "character-device", devmajor: 1, devminor: 3 } },
    { header: { name: "../escape", mode: 0o644 }, body: Buffer.from("no") },
  ]),
]);

/** Recomputes a header's checksum, so that a mutated header gets past the checksum into the deeper checks. */
function fixChecksum(buf: Buffer, at: number): void {
  if (at + 512 > buf.length) return;
  buf.fill(0x20, at + 148, at + 156);
  let sum = 0;
  for (let i = at; i < at + 512; i++) sum += buf[i]!;
  buf.write(`${sum.toString(8).padStart(6, "0")}\0 `, at + 148, "latin1");
}

const mutation = fc.oneof(
  fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), value: fc.integer({ min: 0, max: 255 }) }),
  fc.record({
    kind: fc.constant("field" as const),
    header: fc.nat(8),
    // name, mode, size, mtime, typeflag, linkname, magic, prefix
    field: fc.constantFrom(
      [0, 100],
      [100, 8],
      [124, 12],
      [136, 12],
      [156, 1],
      [157, 100],
      [257, 6],
      [345, 155],
    ),
    text: fc.oneof(
      fc.string({ unit: "binary-ascii", maxLength: 12 }),
      fc.constantFrom(
        "77777777777",
        "-1",
        "\x80\0\0\0\0\0\0\0\0\0\0\x01",
        "../../x",
        "/abs",
        "3",
        "4",
        "5",
        "6",
        "7",
        "g",
        "x",
        "L",
        "K",
      ),
    ),
    fix: fc.boolean(),
  }),
  fc.record({ kind: fc.constant("truncate" as const), at: fc.nat() }),
  fc.record({ kind: fc.constant("append" as const), bytes: fc.uint8Array({ maxLength: 2048 }) }),
  fc.record({ kind: fc.constant("duplicate" as const), from: fc.nat(), length: fc.nat(4096) }),
);

type MutationCase = typeof mutation extends fc.Arbitrary<infer T> ? T : never;

function apply(base: Buffer, mutations: readonly MutationCase[]): Buffer {
  let buf = Buffer.from(base);
  for (const m of mutations) {
    if (buf.length === 0) break;
    switch (m.kind) {
      case "flip":
        buf[m.at % buf.length] = m.value;
        break;
      case "field": {
        const at = (m.header * 512) % buf.length;
        const [offset, width] = m.field as [number, number];
        if (at + offset + width <= buf.length) {
          buf.fill(0, at + offset, at + offset + width);
          buf.write(m.text.slice(0, width), at + offset, "latin1");
          if (m.fix) fixChecksum(buf, at);
        }
        break;
      }
      case "truncate":
        buf = buf.subarray(0, m.at % buf.length);
        break;
      case "append":
        buf = Buffer.concat([buf, Buffer.from(m.bytes)]);
        break;
      case "duplicate": {
        const from = m.from % buf.length;
        buf = Buffer.concat([buf, buf.subarray(from, from + m.length)]);
        break;
      }
    }
  }
  return buf;
}

const hostileTar = fc.record({
  base: fc.nat(BASES.length - 1),
  mutations: fc.array(mutation, { maxLength: 5 }),
  gzip: fc.boolean(),
  chunk: fc.constantFrom(1, 7, 512, 4096, 1 << 20),
  links: fc.constantFrom("inside" as const, "refuse" as const),
});

/** A hang is a failure too: a promise that never settles (with nothing left to wait for) is reported as one. */
function settlesWithin<T>(promise: Promise<T>, ms = 10_000): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const hang = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`did not settle within ${ms} ms (a hang)`)), ms);
  });
  return Promise.race([promise, hang]).finally(() => clearTimeout(timer));
}

describe("fuzz: hostile tar streams through extraction", () => {
  it("every stream is extracted inside the target or refused with an OCI_EXTRACT_* code", async () => {
    const base = await testdir();
    let n = 0;
    await fc.assert(
      fc.asyncProperty(hostileTar, async (c) => {
        const tar = apply(BASES[c.base]!, c.mutations);
        const bytes = c.gzip ? zlib.gzipSync(tar) : tar;
        const sandbox = join(base, String(n++));
        await mkdir(sandbox);
        const target = join(sandbox, "target");
        const chunks: Buffer[] = [];
        for (let i = 0; i < bytes.length; i += c.chunk) chunks.push(bytes.subarray(i, i + c.chunk));
        const code = await expectHandled(
          () =>
            settlesWithin(
              extractTar(Readable.from(chunks), target, { links: c.links, maxTotalSize: 1 << 20 }),
            ),
          () => JSON.stringify({ ...c, tar: tar.toString("base64") }),
          ["OCI_EXTRACT_", "FS_"],
        );
        const left = await readdir(sandbox);
        // Nothing escapes the target; a refused stream leaves nothing behind.
        assert.deepEqual(left, code === undefined ? ["target"] : [], `${code}: ${left.join(", ")}`);
        await rm(sandbox, { recursive: true, force: true });
      }),
      fuzzParameters(500),
    );
  });
});
