import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { test } from "node:test";
import zlib from "node:zlib";
import { DeflatePool } from "../../src/oci/deflatePool.js";
import { sha256Hex } from "../../src/oci/digest.js";
import {
  type BlockDeflater,
  COMPRESSOR_ID,
  createGzipStream,
  GOLDEN_BLOCK_SIZE,
  GOLDEN_GZIP_SHA256,
  GZIP_BLOCK_BOUNDARIES,
  GZIP_HEADER,
  type GzipOptions,
  goldenGzip,
  goldenInput,
  gzipSelfTest,
  gzipSync,
  splitBlocks,
} from "../../src/oci/gzip.js";
import { collect } from "./helpers.js";

async function gzipStreamed(data: Buffer, chunk: number, options: GzipOptions = {}): Promise<Buffer> {
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += chunk) parts.push(data.subarray(i, i + chunk));
  const out: Buffer[] = [];
  await pipeline(Readable.from(parts), createGzipStream(options), async (s: AsyncIterable<Buffer>) => {
    out.push(await collect(s));
  });
  return Buffer.concat(out);
}

test("header: MTIME 0, no flags/FNAME, XFL 0, OS 0xFF; compressor id", () => {
  assert.deepEqual([...GZIP_HEADER], [0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 0xff]);
  const out = gzipSync(Buffer.from("hello"));
  assert.deepEqual(out.subarray(0, 10), GZIP_HEADER);
  assert.equal(COMPRESSOR_ID, "gzip/zlib-6/gear-blocks-512KiB-2MiB");
});

const { min: MIN, max: MAX } = GZIP_BLOCK_BOUNDARIES;

test("an input of one block equals node:zlib gzip level 6 with only the OS byte changed", () => {
  for (const input of [Buffer.alloc(0), Buffer.from("a"), goldenInput(), mixed(MIN)]) {
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

/** Text and incompressible bytes, `size` long: matches across block boundaries, stored and Huffman blocks. */
function mixed(size: number): Buffer {
  const text = goldenInput();
  const out = Buffer.alloc(size);
  let x = 0x9e3779b9;
  for (let i = 0; i < size; ) {
    const n = Math.min(size - i, 40_000 + (i % 7) * 1000);
    if ((i / 40_000) % 5 < 1) {
      for (let j = 0; j < n; j++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        out[i + j] = x & 0xff;
      }
    } else text.copy(out, i, i % (text.length - n), (i % (text.length - n)) + n);
    i += n;
  }
  return out;
}

/** The gear table written out again: xorshift32 from 0x2545f491, 256 words. */
function gearTable(): Int32Array {
  const table = new Int32Array(256);
  let x = 0x2545f491;
  for (let i = 0; i < 256; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    table[i] = x;
  }
  return table;
}

/** Block ends written out independently: the hash of every byte from the block's start, no skipping. */
function referenceCuts(input: Buffer): number[] {
  const gear = gearTable();
  const ends: number[] = [];
  let start = 0;
  let h = 0;
  for (let i = 0; i < input.length; i++) {
    h = ((h << 1) + gear[input[i]!]!) | 0;
    const fill = i + 1 - start;
    if ((fill >= MIN && (h & 0xffffe000) === 0) || fill === MAX) {
      ends.push(i + 1);
      start = i + 1;
      h = 0;
    }
  }
  if (ends.at(-1) === input.length) ends.pop();
  return ends;
}

/** The format written out independently: each block deflated with the 32 KiB before it, sync-flushed, the last finished. */
function reference(input: Buffer): Buffer {
  const parts: Buffer[] = [GZIP_HEADER];
  const bounds = [0, ...referenceCuts(input), input.length];
  for (let b = 0; b + 1 < bounds.length; b++) {
    const [offset, end] = [bounds[b]!, bounds[b + 1]!];
    const last = b + 2 === bounds.length;
    const options: zlib.ZlibOptions = {
      level: 6,
      finishFlush: last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
    };
    if (offset > 0) options.dictionary = input.subarray(Math.max(0, offset - 32 * 1024), offset);
    parts.push(zlib.deflateRawSync(input.subarray(offset, end), options));
  }
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(zlib.crc32(input), 0);
  trailer.writeUInt32LE(input.length, 4);
  return Buffer.concat([...parts, trailer]);
}

test("large inputs: content-defined blocks with the previous 32 KiB as dictionary, the same bytes on 0, 1 or 8 threads", async () => {
  const one = new DeflatePool(1);
  const eight = new DeflatePool(8);
  try {
    for (const size of [MIN + 1, MAX + 1, 6 * MAX + 12_345]) {
      const input = mixed(size);
      const expected = reference(input);
      assert.deepEqual(gzipSync(input), expected, `one-shot, ${size} bytes`);
      const runs = [
        ["this thread", null, 64 * 1024],
        ["pool of 1", one, 64 * 1024],
        ["pool of 8", eight, 64 * 1024],
        ["pool of 8", eight, 1000],
        ["pool of 8", eight, 3 * MAX],
      ] as const;
      for (const [name, pool, chunk] of runs) {
        const out = await gzipStreamed(input, chunk, { pool });
        assert.equal(sha256Hex(out), sha256Hex(expected), `${name}, ${size} bytes in ${chunk}-byte writes`);
      }
      assert.deepEqual(zlib.gunzipSync(expected), input);
      // Parallel blocks must still compress: within 1 % of one zlib stream over the whole input.
      assert.ok(expected.length < zlib.gzipSync(input, { level: 6 }).length * 1.01);
    }
  } finally {
    await Promise.all([one.close(), eight.close()]);
  }
});

test("block boundaries follow the content: some cut by the hash, some at the maximum, none below the minimum", () => {
  const input = mixed(12 * MAX);
  const blocks = splitBlocks(input);
  assert.deepEqual(
    blocks.slice(0, -1).map((b) => b.length),
    referenceCuts(input).map((end, i, all) => end - (all[i - 1] ?? 0)),
  );
  const inner = blocks.slice(0, -1).map((b) => b.length);
  assert.ok(
    inner.every((n) => n >= MIN && n <= MAX),
    "between min and max",
  );
  assert.ok(
    inner.some((n) => n < MAX),
    "at least one cut by the hash",
  );
  assert.ok(Buffer.concat(blocks).equals(input));
  // Zeros never match the cut condition: fixed blocks of max bytes.
  assert.deepEqual(
    splitBlocks(Buffer.alloc(2 * MAX + 5)).map((b) => b.length),
    [MAX, MAX, 5],
  );
});

test("an insertion in the middle changes only the blocks next to it", () => {
  const before = mixed(12 * MAX);
  const at = Math.floor(before.length * 0.4);
  const after = Buffer.concat([
    before.subarray(0, at),
    Buffer.from("\none more line\n"),
    before.subarray(at),
  ]);
  const old = new Set(splitBlocks(before).map((b) => sha256Hex(b)));
  const fresh = splitBlocks(after).filter((b) => !old.has(sha256Hex(b)));
  assert.ok(splitBlocks(after).length > 8);
  assert.ok(fresh.length <= 2, `${fresh.length} new blocks`);
});

test("a block store serves blocks seen before; the stream is the same bytes with or without it", async () => {
  const before = mixed(8 * MAX);
  const at = Math.floor(before.length / 2);
  const after = Buffer.concat([before.subarray(0, at), Buffer.from("grown"), before.subarray(at)]);
  const store = new Map<string, Buffer>();
  let hits = 0;
  const blockStore = {
    get: async (key: string) => {
      const hit = store.get(key);
      if (hit) hits++;
      return hit;
    },
  };
  const first = createGzipStream({ blockStore, pool: null });
  const firstOut = await pipedThrough(before, first);
  assert.deepEqual(firstOut, gzipSync(before));
  for (const b of first.blocks) store.set(b.key, firstOut.subarray(b.offset, b.offset + b.length));
  assert.equal(first.blocks.length, splitBlocks(before).length);
  assert.equal(hits, 0);
  const second = createGzipStream({ blockStore, pool: null });
  assert.deepEqual(await pipedThrough(after, second), gzipSync(after));
  assert.ok(hits >= second.blocks.length - 2, `${hits} of ${second.blocks.length} blocks from the store`);
});

async function pipedThrough(input: Buffer, gzip: ReturnType<typeof createGzipStream>): Promise<Buffer> {
  const out: Buffer[] = [];
  await pipeline(Readable.from([input]), gzip, async (s: AsyncIterable<Buffer>) => {
    out.push(await collect(s));
  });
  return Buffer.concat(out);
}

test("gzip, pigz and zcat read a multi-block stream: CRC and ISIZE of the whole input", () => {
  const input = mixed(3 * MAX + 999);
  const gz = gzipSync(input);
  execFileSync("gzip", ["-t"], { input: gz });
  execFileSync("pigz", ["-t"], { input: gz });
  const unzipped = execFileSync("sh", ["-c", "zcat | sha256sum"], { input: gz, encoding: "utf8" });
  assert.equal(unzipped.split(" ")[0], sha256Hex(input));
  const trailer = gz.subarray(gz.length - 8);
  assert.equal(trailer.readUInt32LE(0), zlib.crc32(input));
  assert.equal(trailer.readUInt32LE(4), input.length);
});

test("a failing block fails the stream with its error", async () => {
  const pool = new DeflatePool(2);
  try {
    await pool.close();
    await assert.rejects(gzipStreamed(mixed(3 * MAX), 64 * 1024, { pool }), /deflate pool is closed/);
  } finally {
    await pool.close();
  }
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
  assert.equal(sha256Hex(goldenGzip()), GOLDEN_GZIP_SHA256);
  assert.equal(
    goldenInput().length / GOLDEN_BLOCK_SIZE,
    3,
    "three blocks: dictionary, sync flush, final block",
  );
  assert.deepEqual(zlib.gunzipSync(goldenGzip()), goldenInput());
  assert.equal(gzipSelfTest(), true);
});

test("golden vector: a different deflate (canonical zlib, another level) fails the self-test", () => {
  // Canonical (madler) zlib, as a distro-linked Node would use: Python's zlib module.
  // argv: dictionary length, last (1/0); stdin: dictionary then block.
  const canonical: BlockDeflater = (block, dictionary, last) =>
    execFileSync(
      "python3",
      [
        "-c",
        [
          "import sys,zlib",
          "n=int(sys.argv[1]);d=sys.stdin.buffer.read()",
          "c=zlib.compressobj(6,zlib.DEFLATED,-15,8,zlib.Z_DEFAULT_STRATEGY,*([d[:n]] if n else []))",
          "sys.stdout.buffer.write(c.compress(d[n:])+c.flush(zlib.Z_FINISH if sys.argv[2]=='1' else zlib.Z_SYNC_FLUSH))",
        ].join("\n"),
        String(dictionary?.length ?? 0),
        last ? "1" : "0",
      ],
      { input: Buffer.concat([dictionary ?? Buffer.alloc(0), block]), maxBuffer: 1 << 24 },
    );
  assert.deepEqual(zlib.gunzipSync(goldenGzip(canonical)), goldenInput(), "python produced valid gzip");
  assert.equal(gzipSelfTest(canonical), false);
  assert.equal(
    gzipSelfTest((block, dictionary, last) =>
      zlib.deflateRawSync(block, {
        level: 5,
        finishFlush: last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
        ...(dictionary ? { dictionary } : {}),
      }),
    ),
    false,
  );
});
