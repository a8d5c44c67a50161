import type { Readable } from "node:stream";
import type { ManifestErrorCode } from "../oci/manifest.js";
import type { Annotations, Descriptor } from "../oci/types.js";
import type { BlobSource } from "../registry/blobs.js";

/** What happened to one blob of a copy: `downloaded` means written into a local layout (store, --output, archive). */
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

/** A manifest as a source holds it: its descriptor and the exact bytes its digest covers. */
export interface ResolvedManifest {
  descriptor: Descriptor;
  bytes: Buffer;
}

/**
 * Where content is read from (oras-go's `ReadOnlyTarget`): a local store or OCI layout, a registry repository, the
 * files of a build, an oci-archive.
 */
export interface ReadTarget {
  /** Names the target in messages (`local store /home/…/store`, `ghcr.io/acme/reviewer`). */
  readonly description: string;
  /** The error code of a malformed manifest read from here. */
  readonly manifestErrorCode: ManifestErrorCode;
  /** The manifest a tag or digest names now, with its exact bytes (checked against its digest). */
  resolve(reference: string): Promise<ResolvedManifest>;
  /** A blob's bytes as a stream that fails, instead of ending, unless they have the descriptor's digest and size. */
  fetch(descriptor: Descriptor): Promise<Readable>;
  /** Bytes `start..end` (inclusive) of a blob, for uploads that resend a chunk; unverified. Optional. */
  fetchRange?(descriptor: Descriptor, start: number, end: number): Promise<Readable>;
  /**
   * The manifests whose `subject` is `digest` (signatures, attestations), as the referrers API lists them: a
   * registry's referrers API or its `sha256-<hex>` tag fallback, a layout's untagged referrer entries. Optional.
   */
  referrers?(digest: string): Promise<Descriptor[]>;
}

export interface PushBlobOptions {
  /** Registries: try a cross-repository mount from this repository (same registry) before uploading. */
  mountFrom?: string;
}

export interface PushManifestOptions {
  /** Layouts: annotations on the index entries (e.g. run hints), outside the manifest and its digest. */
  indexAnnotations?: Annotations;
}

/** Where content is written to (oras-go's `Pusher` + `Tagger`). */
export interface WriteTarget {
  readonly description: string;
  /**
   * Stores a blob unless the target has it already (`exists`; nothing is read from `content` then). The target
   * checks digest and size of what it stores: a layout hashes while writing, a registry checks every upload.
   */
  pushBlob(descriptor: Descriptor, content: BlobSource, options?: PushBlobOptions): Promise<BlobStatus>;
  /**
   * Stores the manifest bytes unchanged (same digest), then points every tag at it; with no tag, a layout keeps an
   * untagged index entry and a registry stores it by digest. Every tag is checked before anything is written.
   */
  pushManifest(
    descriptor: Descriptor,
    bytes: Buffer,
    tags: readonly string[],
    options?: PushManifestOptions,
  ): Promise<void>;
  /**
   * Runs `work` (the blob writes up to the tags) while the target keeps `digests` although nothing names them yet:
   * a layout leases them against a concurrent `agentrc prune`. Optional.
   */
  hold?<T>(digests: readonly string[], work: () => Promise<T>): Promise<T>;
}

export type Target = ReadTarget & WriteTarget;

/** The result of pushing a package to a registry (`push`, `build --push`). */
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
