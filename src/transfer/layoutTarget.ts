import { createReadStream } from "node:fs";
import type { Readable } from "node:stream";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { assertRefName, MAX_MANIFEST_SIZE, type OciLayout } from "../oci/layout.js";
import { withLease } from "../oci/lease.js";
import type { ManifestErrorCode } from "../oci/manifest.js";
import { listReferrers } from "../oci/referrers.js";
import type { Descriptor } from "../oci/types.js";
import type { BlobSource } from "../registry/blobs.js";
import type { BlobStatus, PushManifestOptions, ResolvedManifest, Target } from "./types.js";

export interface LayoutTargetOptions {
  /** Names the layout in messages (default: its directory). */
  description?: string;
  /** How references resolve (default: the layout's tags and digests); the local store also takes `name@digest`. */
  resolveReference?: (reference: string) => Promise<Descriptor>;
}

/**
 * An OCI image layout as a copy source and target (oras-go's `content/oci`): the local store, a `--output`
 * layout, the staging layout of an oci-archive, the blob cache.
 */
export class LayoutTarget implements Target {
  readonly layout: OciLayout;
  readonly description: string;
  readonly manifestErrorCode: ManifestErrorCode = "OCI_MANIFEST_INVALID";
  readonly #resolve: (reference: string) => Promise<Descriptor>;

  constructor(layout: OciLayout, options: LayoutTargetOptions = {}) {
    this.layout = layout;
    this.description = options.description ?? layout.root;
    this.#resolve = options.resolveReference ?? ((reference) => layout.resolve(reference));
  }

  async resolve(reference: string): Promise<ResolvedManifest> {
    const descriptor = await this.#resolve(reference);
    return { descriptor, bytes: await this.layout.readBlob(descriptor.digest, MAX_MANIFEST_SIZE) };
  }

  async fetch(descriptor: Descriptor): Promise<Readable> {
    await this.#checkSize(descriptor);
    return this.layout.getBlob(descriptor.digest, { verify: true });
  }

  async fetchRange(descriptor: Descriptor, start: number, end: number): Promise<Readable> {
    await this.#checkSize(descriptor);
    return createReadStream(this.layout.blobPath(descriptor.digest), { start, end });
  }

  referrers(digest: string): Promise<Descriptor[]> {
    return listReferrers(this.layout, digest);
  }

  async pushBlob(descriptor: Descriptor, content: BlobSource): Promise<BlobStatus> {
    if (
      (await this.layout.hasBlob(descriptor.digest)) &&
      (await this.layout.blobSize(descriptor.digest)) === descriptor.size
    ) {
      return "exists";
    }
    await this.layout.putBlob(() => content.open(), { digest: descriptor.digest, size: descriptor.size });
    return "downloaded";
  }

  async pushManifest(
    descriptor: Descriptor,
    bytes: Buffer,
    tags: readonly string[],
    options: PushManifestOptions = {},
  ): Promise<void> {
    // Every tag is checked before anything is written: a bad second tag must not leave the first one behind.
    for (const tag of tags) assertRefName(tag);
    const stored = await this.layout.putManifest(bytes, { mediaType: descriptor.mediaType });
    const entry = options.indexAnnotations ? { ...stored, annotations: options.indexAnnotations } : stored;
    for (const tag of tags) await this.layout.tag(tag, entry);
    if (tags.length === 0) {
      // Untagged, like `docker build` without -t: an index entry without a name keeps the manifest listed and
      // reachable by digest instead of leaving an orphan blob.
      await this.layout.updateIndex((index) => {
        if (!index.manifests.some((d) => d.digest === entry.digest)) index.manifests.push(entry);
      });
    }
  }

  hold<T>(digests: readonly string[], work: () => Promise<T>): Promise<T> {
    return withLease(this.layout, digests, work);
  }

  async #checkSize(descriptor: Descriptor): Promise<void> {
    const size = await this.layout.blobSize(descriptor.digest);
    if (size !== descriptor.size) {
      throw new AgentrcError(
        "OCI_SIZE_MISMATCH",
        `blob ${descriptor.digest} in ${this.description} has ${size} bytes; the manifest says ${descriptor.size}`,
        { hint: "The layout is damaged: build or pull the package again." },
      );
    }
  }
}
