import { createHash } from "node:crypto";
import { Transform, type TransformCallback } from "node:stream";
import zlib from "node:zlib";

/**
 * Deterministic gzip over node:zlib (reference/reproducibility.md §5): raw deflate at level 6 with a fixed
 * header (MTIME 0, no FNAME/FCOMMENT/FEXTRA, XFL 0, OS 0xFF) and the standard CRC32/ISIZE trailer.
 * Official Node builds >= 20.10 (through 22, 24, 26) produce identical deflate bytes; `gzipSelfTest()` detects
 * other zlib builds (distro zlib, zlib-ng, Bun, Deno, Node <= 20.9) so the caller can warn.
 */

export const GZIP_LEVEL = 6;
/** Compressor identity recorded in the package config's format version. Bump when the bytes change. */
export const COMPRESSOR_ID = `gzip/zlib-${GZIP_LEVEL}`;
/** Byte 9 of the gzip header: 0xFF "unknown", instead of the host OS that zlib writes. */
export const GZIP_OS_BYTE = 0xff;

/** The 10-byte gzip header: magic, CM=8, FLG=0, MTIME=0, XFL=0 (level 6), OS=0xFF. */
export const GZIP_HEADER: Buffer = Buffer.from([0x1f, 0x8b, 0x08, 0x00, 0, 0, 0, 0, 0x00, GZIP_OS_BYTE]);

const DEFLATE_OPTIONS: zlib.ZlibOptions = {
  level: GZIP_LEVEL,
  windowBits: 15,
  memLevel: 8,
  strategy: zlib.constants.Z_DEFAULT_STRATEGY,
};

function trailer(crc: number, size: number): Buffer {
  const t = Buffer.alloc(8);
  t.writeUInt32LE(crc >>> 0, 0);
  t.writeUInt32LE(size % 2 ** 32, 4);
  return t;
}

/** A streaming Transform producing deterministic gzip. */
export class DeterministicGzip extends Transform {
  readonly #deflate: zlib.DeflateRaw = zlib.createDeflateRaw(DEFLATE_OPTIONS);
  #crc = 0;
  #size = 0;
  #headerSent = false;

  constructor() {
    super({ highWaterMark: 64 * 1024 });
    this.#deflate.on("data", (chunk: Buffer) => this.push(chunk));
    this.#deflate.on("error", (err) => this.destroy(err));
  }

  #header(): void {
    if (this.#headerSent) return;
    this.#headerSent = true;
    this.push(GZIP_HEADER);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#header();
    this.#crc = zlib.crc32(chunk, this.#crc);
    this.#size += chunk.length;
    this.#deflate.write(chunk, (err) => callback(err ?? null));
  }

  override _flush(callback: TransformCallback): void {
    this.#header();
    this.#deflate.once("end", () => {
      this.push(trailer(this.#crc, this.#size));
      callback();
    });
    this.#deflate.end();
  }

  override _destroy(err: Error | null, callback: (error?: Error | null) => void): void {
    this.#deflate.destroy();
    callback(err);
  }
}

export function createGzipStream(): DeterministicGzip {
  return new DeterministicGzip();
}

/** Raw deflate as used by the gzip stream (level 6, window 15, memLevel 8, default strategy). */
export function deflateRawSync(data: Buffer | Uint8Array): Buffer {
  return zlib.deflateRawSync(data, DEFLATE_OPTIONS);
}

/** One-shot deterministic gzip (same bytes as the stream). */
export function gzipSync(
  data: Buffer | Uint8Array,
  deflateRaw: (data: Buffer) => Buffer = deflateRawSync,
): Buffer {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat([GZIP_HEADER, deflateRaw(buf), trailer(zlib.crc32(buf), buf.byteLength)]);
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

/**
 * sha256 of gzipSync(goldenInput()) as produced by official Node 20.10+ builds (zlib "generation B", here
 * recorded from Node 20.20.2, zlib 1.3.1-e00f703, x64).
 */
export const GOLDEN_GZIP_SHA256 = "c0fbb351b69453a86e7c5420f4da17b824fe2f6e78deffa32b650cb023ff9dcc";

/**
 * Compresses the golden input and compares with the recorded digest. Returns false on a zlib whose output
 * differs (compressed digests would then not match other machines; diffIDs still do). Canonical zlib
 * (madler 1.2.x/1.3.x, as linked by distro builds) fails it. `deflateRaw` is for tests.
 */
export function gzipSelfTest(deflateRaw: (data: Buffer) => Buffer = deflateRawSync): boolean {
  const out = gzipSync(goldenInput(), deflateRaw);
  return createHash("sha256").update(out).digest("hex") === GOLDEN_GZIP_SHA256;
}
