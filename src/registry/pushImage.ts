import { Transform, type TransformCallback } from "node:stream";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { mapLimit } from "../util/mapLimit.js";
import type { BlobSource } from "./blobs.js";
import type { RegistryClient } from "./client.js";
import { sha256Digest } from "./digest.js";
import type { Reference } from "./reference.js";

/** What happened to one blob of a push or pull. */
export type BlobStatus = "uploaded" | "exists" | "mounted" | "downloaded";

/**
 * Progress of one blob: `start` when work on it begins, `progress` as bytes move (`transferred` counts from 0
 * again when an upload restarts), `done` with its final status.
 */
export interface BlobProgress {
  phase: "start" | "progress" | "done";
  digest: string;
  size: number;
  /** `org.opencontainers.image.title` of the layer, `config` for the config blob, when known. */
  title?: string;
  transferred: number;
  status?: BlobStatus;
}

export type ProgressCallback = (event: BlobProgress) => void;

export interface BlobResult {
  digest: string;
  size: number;
  status: BlobStatus;
}

/** A blob to push, with the title shown in progress. */
export interface NamedBlob {
  source: BlobSource;
  title?: string;
}

export interface PushImageInput {
  /** Exact manifest bytes (what the digest covers). */
  manifest: Uint8Array;
  mediaType: string;
  /** Every blob the manifest references (config first, then layers). */
  blobs: NamedBlob[];
}

export interface PushImageOptions {
  /** Blob uploads in flight at once (default 4). */
  concurrency?: number;
  /** Try cross-repository mounts from this repository (same registry) before uploading. */
  mountFrom?: string;
  onProgress?: ProgressCallback;
}

export interface PushImageResult {
  /** The manifest digest. */
  digest: string;
  mediaType: string;
  size: number;
  /** `registry/repository@digest`. */
  reference: string;
  /** The tag the manifest was pushed under (absent for a push by digest). */
  tag?: string;
  /** Config first, then layers, in manifest order. */
  blobs: BlobResult[];
}

export const DEFAULT_PUSH_CONCURRENCY = 4;

/**
 * Pushes an image (blobs, then the manifest) to `ref`: blobs the registry already has are skipped after a HEAD,
 * the others upload in parallel (bounded); the manifest goes last, under the tag (or the digest when `ref` has
 * only a digest). Nothing is tagged unless every blob is in place, so a failed push leaves the registry
 * consistent (at worst with unreferenced blobs).
 */
export async function pushImage(
  client: RegistryClient,
  ref: Reference,
  input: PushImageInput,
  options: PushImageOptions = {},
): Promise<PushImageResult> {
  const digest = sha256Digest(input.manifest);
  if (ref.digest !== undefined && ref.digest !== digest) {
    throw new AgentrcError(
      "REGISTRY_DIGEST_MISMATCH",
      `cannot push to ${ref}: the manifest's digest is ${digest}`,
      { hint: "Push by tag, or name the digest of the package you push." },
    );
  }
  const seen = new Set<string>();
  const unique = input.blobs.filter((b) => !seen.has(b.source.digest) && seen.add(b.source.digest));
  const onProgress = options.onProgress;
  const results = await mapLimit(
    unique,
    options.concurrency ?? DEFAULT_PUSH_CONCURRENCY,
    async ({ source, title }) => {
      const base = { digest: source.digest, size: source.size, ...(title === undefined ? {} : { title }) };
      onProgress?.({ ...base, phase: "start", transferred: 0 });
      const counted = onProgress ? countingSource(source, (n) => onProgress({ ...base, ...n })) : source;
      const pushed = await client.pushBlob(
        ref.repository,
        counted,
        options.mountFrom === undefined ? {} : { mountFrom: options.mountFrom },
      );
      onProgress?.({ ...base, phase: "done", transferred: source.size, status: pushed.status });
      return { digest: pushed.digest, size: pushed.size, status: pushed.status } satisfies BlobResult;
    },
  );
  const byDigest = new Map(results.map((r) => [r.digest, r]));
  const target = ref.tag ?? digest;
  const put = await client.putManifest(ref.repository, target, input.manifest, input.mediaType);
  const out: PushImageResult = {
    digest: put.digest,
    mediaType: input.mediaType,
    size: put.size,
    reference: `${ref.registry}/${ref.repository}@${put.digest}`,
    blobs: input.blobs.map((b) => byDigest.get(b.source.digest)!),
  };
  if (ref.tag !== undefined) out.tag = ref.tag;
  return out;
}

/** Wraps a source so that bytes read from it are reported (`open(start)` counts from `start`). */
function countingSource(
  source: BlobSource,
  report: (n: { phase: "progress"; transferred: number }) => void,
): BlobSource {
  return {
    digest: source.digest,
    size: source.size,
    open(start, end) {
      let transferred = start ?? 0;
      const stream = source.open(start, end);
      const counter = new Transform({
        transform(chunk: Buffer, _enc, callback: TransformCallback) {
          transferred += chunk.length;
          report({ phase: "progress", transferred });
          callback(null, chunk);
        },
      });
      stream.on("error", (err) => counter.destroy(err));
      counter.on("close", () => {
        if (!stream.destroyed) stream.destroy();
      });
      return stream.pipe(counter);
    },
  };
}
