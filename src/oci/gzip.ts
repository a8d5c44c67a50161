import { createHash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import zlib from "node:zlib";
import { type DeflatePool, sharedDeflatePool } from "./deflatePool.js";

/**
 * Deterministic gzip over node:zlib (docs/oci.md, "gzip"), deflated in parallel the way pigz does it:
 * the input is cut into fixed blocks of `GZIP_BLOCK_SIZE` bytes; each block is raw-deflated on its own (level 6,
 * window 15, memLevel 8) with the 32 KiB of input before it as preset dictionary, ending in a sync flush (the last
 * block: a final block), and the pieces are concatenated behind a fixed header (MTIME 0, no FNAME/FCOMMENT/FEXTRA,
 * XFL 0, OS 0xFF) and the CRC32/ISIZE trailer of the whole input. A block's bytes depend only on its input and
 * the 32 KiB before it, so the blocks can compress on any number of threads in any order and still give the same
 * stream (blocks are deflated on libuv's thread pool, see deflatePool.ts). An input of one block is plain raw deflate, byte for byte what zlib's gzip writes (bar the OS byte).
 * Official Node builds >= 20.10 (through 22, 24, 26) produce identical deflate bytes; `gzipSelfTest()` detects
 * other zlib builds (distro zlib, zlib-ng, Bun, Deno, Node <= 20.9) so the caller can warn.
 */

export const GZIP_LEVEL = 6;
/** Input bytes per independently deflated block (part of the format: another size gives other bytes). */
export const GZIP_BLOCK_SIZE = 1 << 20;
/** Preset dictionary of each block: the input bytes just before it (deflate's whole window). */
export const GZIP_DICTIONARY_SIZE = 32 * 1024;
/** Compressor identity recorded in the package config's format version. Bump when the bytes change. */
export const COMPRESSOR_ID = `gzip/zlib-${GZIP_LEVEL}/blocks-1MiB`;
/** Byte 9 of the gzip header: 0xFF "unknown", instead of the host OS that zlib writes. */
export const GZIP_OS_BYTE = 0xff;

/** The 10-byte gzip header: magic, CM=8, FLG=0, MTIME=0, XFL=0 (level 6), OS=0xFF. */
export const GZIP_HEADER: Buffer = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, GZIP_OS_BYTE]);

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

function trailer(crc: number, size: number): Buffer {
  const t = Buffer.alloc(8);
  t.writeUInt32LE(crc >>> 0, 0);
  t.writeUInt32LE(size % 2 ** 32, 4);
  return t;
}

export interface GzipOptions {
  /** Deflates blocks off the main thread; default the process-wide pool (one job per core); null: this thread. */
  pool?: DeflatePool | null;
  /** Block size; only the format's `GZIP_BLOCK_SIZE` gives package bytes (other sizes are for tests). */
  blockSize?: number;
}

interface PendingBlock {
  output: Promise<Buffer>;
}

/**
 * A streaming Transform producing deterministic gzip. At most two blocks per pool slot are in flight; their
 * outputs are pushed in input order.
 */
export class DeterministicGzip extends Transform {
  readonly #pool: DeflatePool | null;
  readonly #blockSize: number;
  readonly #maxInFlight: number;
  readonly #inFlight: PendingBlock[] = [];
  #block: Buffer | undefined;
  #fill = 0;
  #blocks = 0;
  #dictionary: Buffer | undefined;
  #crc = 0;
  #size = 0;
  #headerSent = false;

  constructor(options: GzipOptions = {}) {
    super({ highWaterMark: 64 * 1024 });
    this.#pool = options.pool === undefined ? sharedDeflatePool() : options.pool;
    this.#blockSize = options.blockSize ?? GZIP_BLOCK_SIZE;
    this.#maxInFlight = this.#pool ? 2 * this.#pool.size : 1;
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
      // A full block is sent only once more input arrives: until then it may be the last one.
      if (this.#fill === this.#blockSize) await this.#submit(false);
      this.#block ??= Buffer.allocUnsafeSlow(this.#blockSize);
      const n = Math.min(chunk.length - offset, this.#blockSize - this.#fill);
      chunk.copy(this.#block, this.#fill, offset, offset + n);
      this.#fill += n;
      offset += n;
    }
  }

  async #submit(last: boolean): Promise<void> {
    const whole = this.#block ?? Buffer.alloc(0);
    const input = this.#fill === whole.length ? whole : whole.subarray(0, this.#fill);
    const dictionary = this.#dictionary;
    if (!last) this.#dictionary = nextDictionary(dictionary, input);
    // A single-block stream (a small layer) is not worth a thread hop; the bytes are the same either way.
    const output =
      this.#pool && !(last && this.#blocks === 0)
        ? this.#pool.deflate(input, blockDeflateOptions(dictionary, last))
        : Promise.resolve().then(() => deflateBlockSync(input, dictionary, last));
    // Awaited in order by #drainOne; this only keeps a failure behind an earlier one from going unhandled.
    output.catch(() => {});
    this.#inFlight.push({ output });
    this.#blocks++;
    this.#block = undefined;
    this.#fill = 0;
    while (this.#inFlight.length >= this.#maxInFlight) await this.#drainOne();
  }

  async #drainOne(): Promise<void> {
    const head = this.#inFlight[0]!;
    const out = await head.output;
    this.#inFlight.shift();
    this.#header();
    this.push(out);
  }
}

export function createGzipStream(options: GzipOptions = {}): DeterministicGzip {
  return new DeterministicGzip(options);
}

/** Raw deflate of a whole input as the gzip stream writes it (blocks deflated in turn on this thread). */
export function deflateRawSync(
  data: Buffer | Uint8Array,
  options: { blockSize?: number; deflate?: BlockDeflater } = {},
): Buffer {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  const size = options.blockSize ?? GZIP_BLOCK_SIZE;
  const deflate = options.deflate ?? deflateBlockSync;
  const parts: Buffer[] = [];
  let dictionary: Buffer | undefined;
  for (let offset = 0; ; offset += size) {
    const block = buf.subarray(offset, offset + size);
    const last = offset + size >= buf.length;
    parts.push(deflate(block, dictionary, last));
    if (last) break;
    dictionary = nextDictionary(dictionary, block);
  }
  return Buffer.concat(parts);
}

/** One-shot deterministic gzip (same bytes as the stream). */
export function gzipSync(
  data: Buffer | Uint8Array,
  options: { blockSize?: number; deflate?: BlockDeflater } = {},
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

/** The self-test's output: `goldenInput()` gzipped in `GOLDEN_BLOCK_SIZE` blocks. `deflate` is for tests. */
export function goldenGzip(deflate: BlockDeflater = deflateBlockSync): Buffer {
  return gzipSync(goldenInput(), { blockSize: GOLDEN_BLOCK_SIZE, deflate });
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
