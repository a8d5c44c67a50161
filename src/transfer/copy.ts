import { PassThrough, Readable } from "node:stream";
import { IMAGE_MANIFEST_TYPES, type ParsedImageManifest, parseImageManifest } from "../oci/manifest.js";
import { ANNOTATION_TITLE } from "../oci/mediaTypes.js";
import type { Annotations, Descriptor } from "../oci/types.js";
import type { BlobSource } from "../registry/blobs.js";
import { mapLimit } from "../util/mapLimit.js";
import { writeOrWait } from "../util/writeOrWait.js";
import type { BlobResult, BlobStatus, ProgressCallback, ReadTarget, WriteTarget } from "./types.js";

/** Blob transfers in flight at once unless the caller says otherwise. */
export const DEFAULT_CONCURRENCY = 4;

export interface CopyOptions {
  /** Tags to point at the manifest in the target (none: untagged in a layout, by digest in a registry). */
  tags?: readonly string[];
  /** Blobs moving at once (default 4). */
  concurrency?: number;
  onProgress?: ProgressCallback;
  /** Registry targets: mount blobs from this repository of the same registry instead of uploading them. */
  mountFrom?: string;
  /** Layout targets: annotations of the index entries (outside the manifest and its digest). */
  indexAnnotations?: Annotations;
  /** Runs on the parsed manifest before any blob moves; throw to refuse the copy. */
  check?: (manifest: ParsedImageManifest, descriptor: Descriptor) => void | Promise<void>;
  /**
   * Also copy the manifest's referrers (signatures, attestations, and their own referrers) from a source that lists
   * them, after the manifest: untagged in a layout, by digest in a registry (which keeps the `sha256-<hex>` fallback
   * tag when it has no referrers API). Default false.
   */
  referrers?: boolean;
  /** Runs once every blob is in the target, before the manifest is written or tagged; throw to refuse the copy. */
  beforeManifest?: (manifest: ParsedImageManifest, descriptor: Descriptor) => void | Promise<void>;
  /**
   * Reads each blob's bytes as they stream to the target, so that a caller that needs the content (pull's file-index
   * check, `pull -o`) never reads the blob back. Called once for each blob the target reads (not for one it already
   * has), with its first whole read; the bytes are verified only when the transfer ends, so use what it found only
   * after the copy got that far. Every call is settled before `beforeManifest`; a rejection refuses the copy.
   */
  observe?: (descriptor: Descriptor, bytes: Readable) => Promise<void>;
}

export interface CopyResult {
  /** The manifest's descriptor (media type, digest, size; artifactType when the manifest has one). */
  descriptor: Descriptor;
  bytes: Buffer;
  manifest: ParsedImageManifest;
  /** Config first, then layers, in manifest order. */
  blobs: BlobResult[];
  /** With `referrers`: the referrer manifests copied (depth first), each with its subject's digest. */
  referrers: Array<{ descriptor: Descriptor; subject: string }>;
}

/**
 * Copies the image manifest `reference` names in `source`, with its config and layers, to `target` — the one
 * transfer behind push, pull, `build --push`, the layout emitter and the archive writer (oras-go's `Copy`).
 *
 * The manifest is parsed and checked first (`parseImageManifest`: media types, sha256 digests, sizes, limits). Blobs
 * move in parallel (at most `concurrency`), each streamed once from source to target: the target skips what it has
 * (a HEAD, a stat), a registry source verifies digest and size while streaming, a layout target hashes while
 * writing and renames only verified content into place, a registry target has every upload checked. The first
 * failure stops the other transfers (their streams are destroyed, their temporary files removed) and is thrown
 * once they have settled. The manifest is written last, then tagged: a failed copy never leaves a tag pointing at
 * missing content.
 */
export async function copy(
  source: ReadTarget,
  reference: string,
  target: WriteTarget,
  options: CopyOptions = {},
): Promise<CopyResult> {
  const { descriptor, bytes } = await source.resolve(reference);
  const manifest = parseImageManifest(
    bytes,
    descriptor.mediaType,
    `${source.description}:${reference}`,
    source.manifestErrorCode,
  );
  const root: Descriptor = {
    mediaType: descriptor.mediaType,
    digest: descriptor.digest,
    size: descriptor.size,
  };
  if (manifest.artifactType !== undefined) root.artifactType = manifest.artifactType;
  await options.check?.(manifest, root);
  // The referrers are listed before anything is written: a listing that cannot be read (a fallback tag that is not
  // an index) fails the copy before a blob moves or a tag is set, never after the package is stored and tagged.
  const listedReferrers =
    options.referrers === true && source.referrers !== undefined ? await source.referrers(root.digest) : [];
  const all = [manifest.config, ...manifest.layers];
  const seen = new Set<string>();
  const unique = all.filter((d) => !seen.has(d.digest) && seen.add(d.digest));
  const { onProgress } = options;
  const observed: Array<Promise<void>> = [];
  const transfer = async () => {
    const abort = new AbortController();
    const statuses = await mapLimit(
      unique,
      options.concurrency ?? DEFAULT_CONCURRENCY,
      async (d) => {
        const title = d === manifest.config ? "config" : (d.annotations?.[ANNOTATION_TITLE] ?? d.digest);
        const base = { digest: d.digest, size: d.size, title };
        onProgress?.({ ...base, phase: "start", transferred: 0 });
        const whole = blobSource(source, d, abort.signal, (transferred) =>
          onProgress?.({ ...base, phase: "progress", transferred }),
        );
        const content = options.observe ? observedSource(whole, d, options.observe, observed) : whole;
        const status: BlobStatus = await target.pushBlob(
          d,
          content,
          options.mountFrom === undefined ? {} : { mountFrom: options.mountFrom },
        );
        onProgress?.({ ...base, phase: "done", transferred: d.size, status });
        return status;
      },
      abort,
    ).finally(() => Promise.allSettled(observed));
    // The observers' results, once every blob they read was verified; a failure of one refuses the copy.
    await Promise.all(observed);
    const byDigest = new Map(unique.map((d, i) => [d.digest, statuses[i]!]));
    await options.beforeManifest?.(manifest, root);
    await target.pushManifest(
      root,
      bytes,
      options.tags ?? [],
      options.indexAnnotations === undefined ? {} : { indexAnnotations: options.indexAnnotations },
    );
    return byDigest;
  };
  // Leased where the target supports it: a concurrent prune keeps what no index entry names yet.
  const digests = [root.digest, ...unique.map((d) => d.digest)];
  const byDigest = await (target.hold ? target.hold(digests, transfer) : transfer());
  const referrers =
    options.referrers === true
      ? await copyReferrers(source, root.digest, target, options, 1, listedReferrers)
      : [];
  return {
    descriptor: root,
    bytes,
    manifest,
    blobs: all.map((d) => ({ digest: d.digest, size: d.size, status: byDigest.get(d.digest)! })),
    referrers,
  };
}

/** Referrers deeper than this are not followed (a signature of an attestation is depth 2). */
const MAX_REFERRER_DEPTH = 4;

/**
 * Copies the referrers of `subject` that `source` lists (image manifests only: an index referrer is left out, as
 * oras `cp -r` does for types it cannot copy), each by digest and with its own referrers.
 */
async function copyReferrers(
  source: ReadTarget,
  subject: string,
  target: WriteTarget,
  options: CopyOptions,
  depth = 1,
  listed?: Descriptor[],
): Promise<CopyResult["referrers"]> {
  if (source.referrers === undefined || depth > MAX_REFERRER_DEPTH) return [];
  const out: CopyResult["referrers"] = [];
  for (const d of listed ?? (await source.referrers(subject))) {
    if (!IMAGE_MANIFEST_TYPES.includes(d.mediaType)) continue;
    const copied = await copy(source, d.digest, target, {
      ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
      ...(options.mountFrom === undefined ? {} : { mountFrom: options.mountFrom }),
    });
    out.push({ descriptor: copied.descriptor, subject });
    out.push(...(await copyReferrers(source, d.digest, target, options, depth + 1)));
  }
  return out;
}

/**
 * A re-openable view of one blob of `source` (uploads reopen it after a failure, chunked uploads per chunk). Nothing
 * is fetched until the target reads: a stream that fails early always has its consumer attached. Aborting destroys
 * what is open.
 */
export function blobSource(
  source: ReadTarget,
  descriptor: Descriptor,
  signal?: AbortSignal,
  onBytes?: (transferred: number) => void,
): BlobSource {
  async function* bytes(start: number | undefined, end: number | undefined) {
    signal?.throwIfAborted();
    const whole = start === undefined;
    const from = start ?? 0;
    const to = end ?? descriptor.size - 1;
    const stream =
      !whole && source.fetchRange
        ? await source.fetchRange(descriptor, from, to)
        : await source.fetch(descriptor);
    // A source without ranges is read from the start; only bytes start..end are passed on.
    const emulate = !whole && !source.fetchRange;
    const stop = () => stream.destroy(signal?.reason as Error | undefined);
    signal?.addEventListener("abort", stop, { once: true });
    let position = 0;
    let transferred = from;
    try {
      for await (const raw of stream) {
        let chunk = raw as Buffer;
        if (emulate) {
          const begin = position;
          position += chunk.length;
          if (position <= from) continue;
          chunk = chunk.subarray(Math.max(0, from - begin), Math.min(chunk.length, to + 1 - begin));
        }
        if (chunk.length > 0) {
          transferred += chunk.length;
          onBytes?.(transferred);
          yield chunk;
        }
        if (emulate && position > to) break;
      }
    } finally {
      signal?.removeEventListener("abort", stop);
      stream.destroy();
    }
  }
  return {
    digest: descriptor.digest,
    size: descriptor.size,
    open: (start, end) => Readable.from(bytes(start, end), { objectMode: false }),
  };
}

/**
 * `content` with its first whole read also fed to `observe` (backpressure from both sides), whose settlement is
 * pushed onto `pending`. When the observer stops reading (it failed, or needed no more), the rest is discarded for
 * it and the transfer goes on.
 */
function observedSource(
  content: BlobSource,
  descriptor: Descriptor,
  observe: (descriptor: Descriptor, bytes: Readable) => Promise<void>,
  pending: Array<Promise<void>>,
): BlobSource {
  let seen = false;
  return {
    ...content,
    open(start, end) {
      const stream = content.open(start, end);
      if (seen || start !== undefined) return stream;
      seen = true;
      const sink = new PassThrough();
      // A failed download is thrown to the transfer by teeInto; destroying the sink with it must not also become an
      // uncaught 'error' when the observer has already stopped listening (it finished, or failed first).
      sink.on("error", () => {});
      const done = observe(descriptor, sink).finally(() => sink.resume());
      done.catch(() => sink.destroy());
      pending.push(done);
      return Readable.from(teeInto(stream, sink), { objectMode: false });
    },
  };
}

async function* teeInto(stream: Readable, sink: PassThrough): AsyncGenerator<Buffer> {
  try {
    for await (const chunk of stream) {
      if (!sink.destroyed) await writeOrWait(sink, chunk as Buffer);
      yield chunk as Buffer;
    }
    sink.end();
  } catch (err) {
    sink.destroy(err as Error);
    throw err;
  } finally {
    // The target stopped reading early: the observer must not wait for bytes that will never come.
    if (!sink.writableFinished && !sink.writableEnded) sink.destroy(new Error("the transfer stopped"));
  }
}
