import { createHash, type Hash } from "node:crypto";
import { createReadStream } from "node:fs";
import { Transform, type TransformCallback } from "node:stream";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import type { BlobInfo } from "./types.js";

/** Digest grammar of the image spec: `algorithm ":" encoded`. */
const DIGEST_GRAMMAR = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
/** Encodings of the registered algorithms. */
const REGISTERED: Record<string, RegExp> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};

export interface ParsedDigest {
  algorithm: string;
  encoded: string;
}

/** True when `value` is a well-formed digest of a registered algorithm (sha256 or sha512). */
export function isDigest(value: string): boolean {
  if (!DIGEST_GRAMMAR.test(value)) return false;
  const i = value.indexOf(":");
  const re = REGISTERED[value.slice(0, i)];
  return re?.test(value.slice(i + 1)) ?? false;
}

/** True when `value` is `sha256:` followed by 64 lowercase hex digits. */
export function isSha256Digest(value: string): boolean {
  return value.startsWith("sha256:") && isDigest(value);
}

/** Splits a digest into algorithm and encoded part; throws OCI_DIGEST_INVALID if malformed or unregistered. */
export function parseDigest(value: string): ParsedDigest {
  if (!isDigest(value)) {
    throw new AgentrcError("OCI_DIGEST_INVALID", `Invalid digest ${JSON.stringify(value)}.`);
  }
  const i = value.indexOf(":");
  return { algorithm: value.slice(0, i), encoded: value.slice(i + 1) };
}

/** Throws OCI_DIGEST_INVALID unless `value` is a sha256 digest (the only algorithm agentrc writes). */
export function assertSha256Digest(value: string): string {
  if (!isSha256Digest(value)) {
    throw new AgentrcError("OCI_DIGEST_INVALID", `Invalid sha256 digest ${JSON.stringify(value)}.`, {
      hint: "agentrc addresses content by sha256:<64 lowercase hex digits>.",
    });
  }
  return value;
}

export function sha256Hex(data: Buffer | Uint8Array | string): string {
  return createHash("sha256").update(data).digest("hex");
}

/** `sha256:<hex>` of the bytes (strings are hashed as UTF-8). */
export function sha256Digest(data: Buffer | Uint8Array | string): string {
  return `sha256:${sha256Hex(data)}`;
}

/**
 * A pass-through stream that hashes (sha256) and counts the bytes flowing through it.
 * `digest` and `size` are final once the stream has finished.
 */
export class HashingStream extends Transform {
  readonly #hash: Hash = createHash("sha256");
  readonly #onBytes: ((size: number) => void) | undefined;
  #size = 0;
  #digest: string | undefined;

  /** `onBytes` is told the running byte count after each chunk (progress reporting). */
  constructor(onBytes?: (size: number) => void) {
    super();
    this.#onBytes = onBytes;
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#hash.update(chunk);
    this.#size += chunk.length;
    this.#onBytes?.(this.#size);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    this.#digest = `sha256:${this.#hash.digest("hex")}`;
    callback();
  }

  /** Bytes seen so far. */
  get size(): number {
    return this.#size;
  }

  /** `sha256:<hex>` of everything that passed; throws if the stream has not finished. */
  get digest(): string {
    if (this.#digest === undefined) throw new Error("HashingStream: digest read before the stream finished");
    return this.#digest;
  }

  get result(): BlobInfo {
    return { digest: this.digest, size: this.#size };
  }
}

/** Digest and size of a stream's content, read to the end. */
export async function digestStream(source: AsyncIterable<Buffer | Uint8Array>): Promise<BlobInfo> {
  const hash = createHash("sha256");
  let size = 0;
  for await (const chunk of source) {
    hash.update(chunk);
    size += chunk.length;
  }
  return { digest: `sha256:${hash.digest("hex")}`, size };
}

/** Digest and size of a file, streamed. */
export function digestFile(path: string): Promise<BlobInfo> {
  return digestStream(createReadStream(path));
}
