import { createHash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import zlib from "node:zlib";
import { type DeflatePool, sharedDeflatePool } from "./deflatePool.js";

/**
 * Deterministic gzip over node:zlib (docs/oci.md, "gzip"), deflated in parallel the way pigz does it: the input is
 * cut into blocks; each block is raw-deflated on its own (level 6, window 15, memLevel 8) with the 32 KiB of input
 * before it as preset dictionary, ending in a sync flush (the last block: a final block), and the pieces are
 * concatenated behind a fixed header (MTIME 0, no FNAME/FCOMMENT/FEXTRA, XFL 0, OS 0xFF) and the CRC32/ISIZE
 * trailer of the whole input. A block's bytes depend only on its input, the 32 KiB before it and whether it is the
 * last, so blocks compress on any number of threads in any order and still give the same stream (libuv's thread
 * pool, see deflatePool.ts) — and a block seen before can be taken from a cache (`DeflateBlockStore`).
 *
 * Block boundaries are content-defined, as in `gzip --rsyncable` and FastCDC: a gear rolling hash over the last 32
 * input bytes cuts a block where its top bits are zero, once the block holds `GZIP_BLOCK_BOUNDARIES.min` bytes, and
 * always at `max`. An edit in the middle of a layer (a file that grew, say) then moves only the boundaries next to
 * it: the blocks after it have the same bytes and dictionaries as before and come from the cache, where fixed-size
 * blocks would all shift and be deflated again. An input below `min` is one block, byte for byte what zlib's gzip
 * writes (bar the OS byte).
 *
 * Official Node builds >= 20.10 (through 22, 24, 26) produce identical deflate bytes; `gzipSelfTest()` detects
 * other zlib builds (distro zlib, zlib-ng, Bun, Deno, Node <= 20.9) so the caller can warn.
 */

export const GZIP_LEVEL = 6;

/** Where blocks end: at the first position >= `min` whose rolling hash has the `mask` bits clear, else at `max`. */
export interface BlockBoundaries {
  min: number;
  max: number;
  /** Bits of the 32-bit gear hash that must be zero for a cut; 0: fixed-size blocks of `max` bytes. */
  mask: number;
}

/**
 * The format's boundaries (they decide the package bytes): blocks of 512 KiB to 2 MiB, a cut after `min` with
 * probability 2^-19 per byte, so about 1 MiB on average.
 */
export const GZIP_BLOCK_BOUNDARIES: Readonly<BlockBoundaries> = {
  min: 512 * 1024,
  max: 2 * 1024 * 1024,
  mask: 0xffffe000 | 0,
};
/** Preset dictionary of each block: the input bytes just before it (deflate's whole window). */
export const GZIP_DICTIONARY_SIZE = 32 * 1024;
/** Compressor identity recorded in the package config's format version. Bump when the bytes change. */
export const COMPRESSOR_ID = `gzip/zlib-${GZIP_LEVEL}/gear-blocks-512KiB-2MiB`;
/** Byte 9 of the gzip header: 0xFF "unknown", instead of the host OS that zlib writes. */
export const GZIP_OS_BYTE = 0xff;

/** The 10-byte gzip header: magic, CM=8, FLG=0, MTIME=0, XFL=0 (level 6), OS=0xFF. */
export const GZIP_HEADER: Buffer = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, GZIP_OS_BYTE]);

/** The gear table: 256 fixed pseudo-random 32-bit words (xorshift32 from 0x2545f491); part of the format. */
const GEAR: Int32Array = (() => {
  const table = new Int32Array(256);
  let x = 0x2545f491;
  for (let i = 0; i < 256; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    table[i] = x;
  }
  return table;
})();

/** The gear hash keeps 32 bits shifted left once per byte, so only the last 32 bytes are in it. */
const GEAR_WINDOW = 32;

/** Finds block boundaries in a stream fed in arbitrary chunks; the cuts depend only on the bytes. */
export class BlockSplitter {
  readonly #boundaries: BlockBoundaries;
  #fill = 0;
  #hash = 0;

  constructor(boundaries: BlockBoundaries = GZIP_BLOCK_BOUNDARIES) {
    if (!(boundaries.min >= 1 && boundaries.max >= boundaries.min)) throw new RangeError("block boundaries");
    this.#boundaries = boundaries;
  }

  get maxBlock(): number {
    return this.#boundaries.max;
  }

  /** How many bytes of `chunk` from `offset` belong to the current block, and whether the block ends after them. */
  take(chunk: Uint8Array, offset: number): { length: number; cut: boolean } {
    const { min, max, mask } = this.#boundaries;
    const limit = Math.min(chunk.length, offset + (max - this.#fill));
    let i = offset;
    let fill = this.#fill;
    if (mask !== 0) {
      // Positions before min - 32 cannot end a block and do not reach the hash at min: skipped, not hashed.
      const hashFrom = Math.max(0, min - GEAR_WINDOW);
      if (fill < hashFrom) {
        const skip = Math.min(hashFrom - fill, limit - i);
        i += skip;
        fill += skip;
        if (fill === hashFrom) this.#hash = 0;
      }
      if (fill >= hashFrom) {
        let h = this.#hash;
        while (i < limit) {
          h = ((h << 1) + GEAR[chunk[i]!]!) | 0;
          i++;
          fill++;
          if (fill >= min && (h & mask) === 0) return this.#end(i - offset);
        }
        this.#hash = h;
      }
    } else {
      fill += limit - i;
      i = limit;
    }
    if (fill === max) return this.#end(i - offset);
    this.#fill = fill;
    return { length: i - offset, cut: false };
  }

  #end(length: number): { length: number; cut: boolean } {
    this.#fill = 0;
    this.#hash = 0;
    return { length, cut: true };
  }
}

/** zlib options of one block; everything but `dictionary` is fixed by the format. */
export function blockDeflateOptions(dictionary: Uint8Array | undefined, last: boolean): zlib.ZlibOptions {
  const options: zlib.ZlibOptions = {
    level: GZIP_LEVEL,
    windowBits: 15,
    memLevel: 8,
    strategy: zlib.constants.Z_DEFAULT_STRATEGY,
    finishFlush: last ? zlib.constants.Z_FINISH : zlib.constants.Z_SYNC_FLUSH,
    // Node's default, pinned: a sync flush that fills the output buffer exactly is repeated by Node, and zlib then
    // writes a second (empty) flush marker, so the bytes may depend on the output buffer size.
    chunkSize: 16 * 1024,
  };
  if (dictionary !== undefined && dictionary.byteLength > 0) options.dictionary = dictionary;
  return options;
}

/** Deflates one block: `dictionary` is the input before it (at most 32 KiB), `last` ends the deflate stream. */
export type BlockDeflater = (block: Buffer, dictionary: Buffer | undefined, last: boolean) => Buffer;

/** One block on this thread. */
export const deflateBlockSync: BlockDeflater = (block, dictionary, last) =>
  zlib.deflateRawSync(block, blockDeflateOptions(dictionary, last));

/** The dictionary of the block after `block`: the last 32 KiB of (the previous dictionary, then `block`). */
function nextDictionary(previous: Buffer | undefined, block: Buffer): Buffer {
  if (block.length >= GZIP_DICTIONARY_SIZE)
    return Buffer.from(block.subarray(block.length - GZIP_DICTIONARY_SIZE));
  const joined = previous ? Buffer.concat([previous, block]) : Buffer.from(block);
  return joined.length > GZIP_DICTIONARY_SIZE
    ? joined.subarray(joined.length - GZIP_DICTIONARY_SIZE)
    : joined;
}

/**
 * The cache key of a block's deflate output: everything its bytes depend on (the compressor, whether it is the
 * last block, its dictionary and its input).
 */
export function deflateBlockKey(
  block: Uint8Array,
  dictionary: Uint8Array | undefined,
  last: boolean,
): string {
  const hash = createHash("sha256").update(
    `${COMPRESSOR_ID}\0${last ? 1 : 0}\0${dictionary?.byteLength ?? 0}\0`,
  );
  if (dictionary) hash.update(dictionary);
  return hash.update(block).digest("hex");
}

/**
 * Deflate outputs of blocks packed before, by `deflateBlockKey`. `get` returns only bytes it has checked against
 * what was recorded (a damaged cache costs a deflate, never a wrong layer); anything else is undefined.
 */
export interface DeflateBlockStore {
  get(key: string): Promise<Buffer | undefined>;
}

/** Where a block's deflate output lies in the gzip stream, for recording in a `DeflateBlockStore`. */
export interface DeflatedBlock {
  key: string;
  /** Byte offset in the gzip stream (after the 10-byte header). */
  offset: number;
  length: number;
  /** sha256 (hex) of the deflate output. */
  sha256: string;
}

function trailer(crc: number, size: number): Buffer {
  const t = Buffer.alloc(8);
  t.writeUInt32LE(crc >>> 0, 0);
  t.writeUInt32LE(size % 2 ** 32, 4);
  return t;
}

export interface GzipOptions {
  /** Deflates blocks off the main thread; default the process-wide pool (one job per core); null: this thread. */
  pool?: DeflatePool | null;
  /** Block boundaries; only the format's `GZIP_BLOCK_BOUNDARIES` give package bytes (others are for tests). */
  boundaries?: BlockBoundaries;
  /** Takes blocks seen before from here instead of deflating them; `blocks` then lists every block for recording. */
  blockStore?: DeflateBlockStore;
}

interface PendingBlock {
  key: string | undefined;
  output: Promise<Buffer>;
}

/**
 * A streaming Transform producing deterministic gzip. At most two blocks per pool slot are in flight; their
 * outputs are pushed in input order.
 */
export class DeterministicGzip extends Transform {
  readonly #pool: DeflatePool | null;
  readonly #splitter: BlockSplitter;
  readonly #store: DeflateBlockStore | undefined;
  readonly #maxInFlight: number;
  readonly #inFlight: PendingBlock[] = [];
  readonly #deflated: DeflatedBlock[] = [];
  #block: Buffer | undefined;
  #fill = 0;
  #complete = false;
  #blocks = 0;
  #dictionary: Buffer | undefined;
  #crc = 0;
  #size = 0;
  #written = GZIP_HEADER.length;
  #headerSent = false;

  constructor(options: GzipOptions = {}) {
    super({ highWaterMark: 64 * 1024 });
    this.#pool = options.pool === undefined ? sharedDeflatePool() : options.pool;
    this.#splitter = new BlockSplitter(options.boundaries);
    this.#store = options.blockStore;
    this.#maxInFlight = this.#pool ? 2 * this.#pool.size : 1;
  }

  /** With a `blockStore`: every block of the stream (once it has ended), else empty. */
  get blocks(): readonly DeflatedBlock[] {
    return this.#deflated;
  }

  #header(): void {
    if (this.#headerSent) return;
    this.#headerSent = true;
    this.push(GZIP_HEADER);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#write(chunk).then(() => callback(), callback);
  }

  override _flush(callback: TransformCallback): void {
    (async () => {
      await this.#submit(true);
      while (this.#inFlight.length > 0) await this.#drainOne();
      this.#header();
      this.push(trailer(this.#crc, this.#size));
    })().then(() => callback(), callback);
  }

  async #write(chunk: Buffer): Promise<void> {
    this.#crc = zlib.crc32(chunk, this.#crc);
    this.#size += chunk.length;
    let offset = 0;
    while (offset < chunk.length) {
      // A complete block is sent only once more input arrives: until then it may be the last one.
      if (this.#complete) await this.#submit(false);
      this.#block ??= Buffer.allocUnsafeSlow(this.#splitter.maxBlock);
      const { length, cut } = this.#splitter.take(chunk, offset);
      chunk.copy(this.#block, this.#fill, offset, offset + length);
      this.#fill += length;
      offset += length;
      this.#complete = cut;
    }
  }

  async #submit(last: boolean): Promise<void> {
    const input = (this.#block ?? Buffer.alloc(0)).subarray(0, this.#fill);
    const dictionary = this.#dictionary;
    if (!last) this.#dictionary = nextDictionary(dictionary, input);
    const key = this.#store ? deflateBlockKey(input, dictionary, last) : undefined;
    // A single-block stream (a small layer) is not worth a thread hop; the bytes are the same either way.
    const pool = last && this.#blocks === 0 ? null : this.#pool;
    const deflate = (): Promise<Buffer> =>
      pool
        ? pool.deflate(input, blockDeflateOptions(dictionary, last))
        : Promise.resolve().then(() => deflateBlockSync(input, dictionary, last));
    const output =
      key !== undefined && this.#store ? this.#store.get(key).then((hit) => hit ?? deflate()) : deflate();
    // Awaited in order by #drainOne; this only keeps a failure behind an earlier one from going unhandled.
    output.catch(() => {});
    this.#inFlight.push({ key, output });
    this.#blocks++;
    this.#block = undefined;
    this.#fill = 0;
    this.#complete = false;
    while (this.#inFlight.length >= this.#maxInFlight) await this.#drainOne();
  }

  async #drainOne(): Promise<void> {
    const head = this.#inFlight[0]!;
    const out = await head.output;
    this.#inFlight.shift();
    if (head.key !== undefined) {
      const sha256 = createHash("sha256").update(out).digest("hex");
      this.#deflated.push({ key: head.key, offset: this.#written, length: out.length, sha256 });
    }
    this.#written += out.length;
    this.#header();
    this.push(out);
  }
}

export function createGzipStream(options: GzipOptions = {}): DeterministicGzip {
  return new DeterministicGzip(options);
}

/** The blocks of a whole input, as the stream cuts them. */
export function splitBlocks(data: Buffer, boundaries: BlockBoundaries = GZIP_BLOCK_BOUNDARIES): Buffer[] {
  const splitter = new BlockSplitter(boundaries);
  const blocks: Buffer[] = [];
  let start = 0;
  for (let offset = 0; offset < data.length; ) {
    const { length, cut } = splitter.take(data, offset);
    offset += length;
    // A cut at the very end is not a block boundary: the last block is the one the input ends in.
    if (cut && offset < data.length) {
      blocks.push(data.subarray(start, offset));
      start = offset;
    }
  }
  blocks.push(data.subarray(start));
  return blocks;
}

/** Raw deflate of a whole input as the gzip stream writes it (blocks deflated in turn on this thread). */
export function deflateRawSync(
  data: Buffer | Uint8Array,
  options: { boundaries?: BlockBoundaries; deflate?: BlockDeflater } = {},
): Buffer {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const deflate = options.deflate ?? deflateBlockSync;
  const blocks = splitBlocks(buf, options.boundaries);
  const parts: Buffer[] = [];
  let dictionary: Buffer | undefined;
  blocks.forEach((block, i) => {
    const last = i === blocks.length - 1;
    parts.push(deflate(block, dictionary, last));
    if (!last) dictionary = nextDictionary(dictionary, block);
  });
  return Buffer.concat(parts);
}

/** One-shot deterministic gzip (same bytes as the stream). */
export function gzipSync(
  data: Buffer | Uint8Array,
  options: { boundaries?: BlockBoundaries; deflate?: BlockDeflater } = {},
): Buffer {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat([GZIP_HEADER, deflateRawSync(buf, options), trailer(zlib.crc32(buf), buf.byteLength)]);
}

/** The fixed self-test input: 96 KiB of pseudo-random words (exercises matching, hashing and Huffman coding). */
export function goldenInput(): Buffer {
  const words = [
    "agent",
    "policy",
    "tool",
    "skill",
    "layer",
    "digest",
    "oci",
    "tar",
    "gzip",
    "cedar",
    "lock",
  ];
  let x = 0x2545f491;
  const parts: string[] = [];
  let len = 0;
  while (len < 96 * 1024) {
    // xorshift32
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    const w = `${words[x % words.length]}${x % 7 === 0 ? String(x % 1000) : ""}${x % 13 === 0 ? "\n" : " "}`;
    parts.push(w);
    len += w.length;
  }
  return Buffer.from(parts.join("").slice(0, 96 * 1024), "latin1");
}

/** Block size of the self-test: small, so that its 96 KiB input crosses dictionaries, sync flushes and a final block. */
export const GOLDEN_BLOCK_SIZE = 32 * 1024;
/** Fixed-size blocks: the self-test checks zlib's bytes, whatever the format's boundaries are. */
const GOLDEN_BOUNDARIES: BlockBoundaries = { min: GOLDEN_BLOCK_SIZE, max: GOLDEN_BLOCK_SIZE, mask: 0 };

/** The self-test's output: `goldenInput()` gzipped in `GOLDEN_BLOCK_SIZE` blocks. `deflate` is for tests. */
export function goldenGzip(deflate: BlockDeflater = deflateBlockSync): Buffer {
  return gzipSync(goldenInput(), { boundaries: GOLDEN_BOUNDARIES, deflate });
}

/**
 * sha256 of goldenGzip() as produced by official Node 20.10+ builds (zlib "generation B", here recorded from
 * Node 20.20.2, zlib 1.3.1-e00f703, x64).
 */
export const GOLDEN_GZIP_SHA256 = "a1eea8fec97a1843e9214b577bf9427a6d2b31112350878dc37c254dfb8868e2";

/**
 * Compresses the golden input and compares with the recorded digest. Returns false on a zlib whose output
 * differs (compressed digests would then not match other machines; diffIDs still do). Canonical zlib
 * (madler 1.2.x/1.3.x, as linked by distro builds) fails it. `deflate` is for tests.
 */
export function gzipSelfTest(deflate: BlockDeflater = deflateBlockSync): boolean {
  return createHash("sha256").update(goldenGzip(deflate)).digest("hex") === GOLDEN_GZIP_SHA256;
}
