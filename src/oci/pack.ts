import { createHash } from "node:crypto";
import { type FileHandle, open, rm } from "node:fs/promises";
import { PassThrough, type Readable, type Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { withFilePath } from "../diagnostics/fsError.js";
import type { DeflatePool } from "./deflatePool.js";
import { HashingStream } from "./digest.js";
import { createGzipStream, type DeflateBlockStore, type DeflatedBlock } from "./gzip.js";
import { createTarStream, type TarEntry, type TarOptions } from "./tar.js";
import type { BlobInfo } from "./types.js";

/** The result of packing one layer: compressed digest/size (the blob) and uncompressed digest/size. */
export interface PackedLayer extends BlobInfo {
  /** sha256 of the uncompressed tar (the diffID; `io.deis.oras.content.digest`). */
  diffId: string;
  /** Byte size of the uncompressed tar. */
  uncompressedSize: number;
  /** With a `blockStore`: where each deflate block lies in the blob, for recording in the store. */
  blocks?: readonly DeflatedBlock[];
}

export interface PackLayerOptions {
  /** mtime of every entry, seconds since 1970 (SOURCE_DATE_EPOCH or 0). */
  epoch: number;
  /** The layer's title: every entry lies below it, nothing above it is written (see TarOptions.root). */
  root?: string;
  /** Where the blocks of a large layer are deflated: default the process-wide pool; null: this thread. */
  deflatePool?: DeflatePool | null;
  /** Told the uncompressed tar bytes written so far, after every chunk. */
  onProgress?: (tarBytes: number) => void;
  /** Blocks deflated before (by an earlier pack of a similar layer) are taken from here. */
  blockStore?: DeflateBlockStore;
}

/** A running layer pack: read `stream` (the tar+gzip bytes); `result` settles once it has been read to the end. */
export interface LayerStream {
  stream: Readable;
  result: Promise<PackedLayer>;
}

/**
 * Starts packing entries as tar → gzip, hashing both stages in the same pass. Nothing is buffered beyond the
 * streams' high-water marks; the consumer's pace drives the packing.
 */
export function createLayerStream(entries: readonly TarEntry[], options: PackLayerOptions): LayerStream {
  const tar = createTarStream(
    entries,
    options.root === undefined ? { epoch: options.epoch } : { epoch: options.epoch, root: options.root },
  );
  const diff = new HashingStream(options.onProgress);
  const blob = new HashingStream();
  const out = new PassThrough({ highWaterMark: 64 * 1024 });
  const gzip = createGzipStream({
    ...(options.deflatePool === undefined ? {} : { pool: options.deflatePool }),
    ...(options.blockStore ? { blockStore: options.blockStore } : {}),
  });
  const done = pipeline(tar, diff, gzip, blob, out);
  const result = done.then(
    (): PackedLayer => ({
      digest: blob.digest,
      size: blob.size,
      diffId: diff.digest,
      uncompressedSize: diff.size,
      ...(options.blockStore ? { blocks: gzip.blocks } : {}),
    }),
  );
  // Errors reach the consumer through `out`; avoid an unhandled rejection when only the stream is used.
  result.catch(() => {});
  return { stream: out, result };
}

/**
 * Packs entries into `destination`: a file path (created exclusively; removed on failure) or a Writable.
 * Returns both digests and sizes, computed in the same single pass.
 */
export async function packLayer(
  entries: readonly TarEntry[],
  options: PackLayerOptions & { destination: string | Writable },
): Promise<PackedLayer> {
  const { stream, result } = createLayerStream(entries, options);
  const dest = options.destination;
  if (typeof dest !== "string") {
    await pipeline(stream, dest);
    return result;
  }
  let handle: FileHandle;
  try {
    handle = await open(dest, "wx");
  } catch (err) {
    stream.destroy();
    throw withFilePath(err, dest);
  }
  try {
    await pipeline(stream, handle.createWriteStream());
    return await result;
  } catch (err) {
    await rm(dest, { force: true });
    throw withFilePath(err, dest);
  }
}

/**
 * The diffID a layer of `entries` would have (the sha256 of its deterministic tar) without compressing it: what a
 * layer fetched from a shared build cache must decompress to (src/cache/RegistryCache.ts).
 */
export async function tarDigest(entries: readonly TarEntry[], options: TarOptions): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createTarStream(entries, options)) hash.update(chunk as Buffer);
  return `sha256:${hash.digest("hex")}`;
}
