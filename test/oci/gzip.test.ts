import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { test } from "node:test";
import zlib from "node:zlib";
import { sha256Hex } from "../../src/oci/digest.js";
import {
  COMPRESSOR_ID,
  createGzipStream,
  GOLDEN_GZIP_SHA256,
  GZIP_HEADER,
  goldenInput,
  gzipSelfTest,
  gzipSync,
} from "../../src/oci/gzip.js";
import { collect } from "./helpers.js";

async function gzipStreamed(data: Buffer, chunk: number): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
  const out: Buffer[] = [];
  await pipeline(Readable.from(parts), createGzipStream(), async (s: AsyncIterable<Buffer>) => {
    out.push(await collect(s));
  });
  return Buffer.concat(out);
}

test("header: MTIME 0, no flags/FNAME, XFL 0, OS 0xFF; compressor id", () => {
  assert.deepEqual([...GZIP_HEADER], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  const out = gzipSync(Buffer.from("hello"));
  assert.deepEqual(out.subarray(0, 10), GZIP_HEADER);
  assert.equal(COMPRESSOR_ID, "gzip/zlib-6");
});

test("output equals node:zlib gzip level 6 with only the OS byte changed", () => {
  for (const input of [Buffer.alloc(0), Buffer.from("a"), goldenInput()]) {
    const reference = zlib.gzipSync(input, { level: 6 });
    assert.equal(reference[9], 0x03, "zlib writes the Unix OS byte");
    reference[9] = 0xff;
    assert.deepEqual(gzipSync(input), reference);
  }
});

test("streaming output is independent of input chunking and equals the one-shot output", async () => {
  const input = Buffer.concat([goldenInput(), goldenInput().reverse(), Buffer.alloc(70_000, 7)]);
  const oneShot = gzipSync(input);
  for (const chunk of [1000, 16 * 1024, 64 * 1024, input.length]) {
    assert.deepEqual(await gzipStreamed(input, chunk), oneShot, `chunk ${chunk}`);
  }
  assert.deepEqual(await gzipStreamed(Buffer.alloc(0), 1), gzipSync(Buffer.alloc(0)));
  assert.deepEqual(zlib.gunzipSync(oneShot), input);
});

test("GNU gzip accepts the stream (CRC and ISIZE trailer) and shows no name or time", () => {
  const input = goldenInput();
  const gz = gzipSync(input);
  execFileSync("gzip", ["-t"], { input: gz });
  assert.deepEqual(execFileSync("gzip", ["-dc"], { input: gz, maxBuffer: 1 << 24 }), input);
  const trailer = gz.subarray(gz.length - 8);
  assert.equal(trailer.readUInt32LE(0), zlib.crc32(input));
  assert.equal(trailer.readUInt32LE(4), input.length);
});

test("golden vector: this Node's zlib matches the recorded bytes", () => {
  assert.equal(sha256Hex(gzipSync(goldenInput())), GOLDEN_GZIP_SHA256);
  assert.equal(gzipSelfTest(), true);
});

test("golden vector: a different deflate (canonical zlib, another level) fails the self-test", () => {
  // Canonical (madler) zlib, as a distro-linked Node would use: Python's zlib module.
  const canonical = (data: Buffer) =>
    execFileSync(
      "python3",
      [
        "-c",
        "import sys,zlib;c=zlib.compressobj(6,zlib.DEFLATED,-15,8);d=sys.stdin.buffer.read();sys.stdout.buffer.write(c.compress(d)+c.flush())",
      ],
      { input: data, maxBuffer: 1 << 24 },
    );
  assert.deepEqual(
    zlib.inflateRawSync(canonical(goldenInput())),
    goldenInput(),
    "python produced valid deflate",
  );
  assert.equal(gzipSelfTest(canonical), false);
  assert.equal(
    gzipSelfTest((d) => zlib.deflateRawSync(d, { level: 5 })),
    false,
  );
});
