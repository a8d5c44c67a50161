import { open } from "node:fs/promises";
import { pipeline, Readable } from "node:stream";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { isDigest } from "../oci/digest.js";
import type { ManifestErrorCode } from "../oci/manifest.js";
import type { AttachedArtifact } from "../oci/referrers.js";
import type { Descriptor } from "../oci/types.js";
import { VerifyStream } from "../registry/verify.js";
import type { ReadTarget, ResolvedManifest } from "./types.js";

/**
 * A manifest held in memory and its blobs in files (oras-go's `content/memory` + `content/file`): what a build
 * produces before it is emitted or pushed. It resolves its own digest, and any other reference to that manifest.
 */
export class FilesSource implements ReadTarget {
  readonly description: string;
  readonly manifestErrorCode: ManifestErrorCode = "OCI_MANIFEST_INVALID";
  readonly #manifest: ResolvedManifest;
  readonly #files: ReadonlyMap<string, string>;
  readonly #attached: readonly AttachedArtifact[];
  readonly #memory = new Map<string, Buffer>();

  /**
   * `files`: blob digest → absolute path. `attached`: referrers held in memory (the build's provenance and
   * signatures), listed by `referrers` and copied with the package.
   */
  constructor(
    manifest: ResolvedManifest,
    files: ReadonlyMap<string, string>,
    description = "the build",
    attached: readonly AttachedArtifact[] = [],
  ) {
    this.#manifest = manifest;
    this.#files = files;
    this.description = description;
    this.#attached = attached;
    for (const a of attached) for (const [digest, bytes] of a.blobs) this.#memory.set(digest, bytes);
  }

  async resolve(reference: string): Promise<ResolvedManifest> {
    const attached = this.#attached.find((a) => a.descriptor.digest === reference);
    if (attached) return { descriptor: attached.descriptor, bytes: attached.bytes };
    if (isDigest(reference) && reference !== this.#manifest.descriptor.digest) {
      throw new AgentrcError("OCI_REF_NOT_FOUND", `${this.description} has no manifest ${reference}.`);
    }
    return this.#manifest;
  }

  async referrers(digest: string): Promise<Descriptor[]> {
    return this.#attached.filter((a) => a.subject === digest).map((a) => a.descriptor);
  }

  async fetch(descriptor: Descriptor): Promise<Readable> {
    const held = this.#memory.get(descriptor.digest);
    if (held !== undefined) {
      const verify = new VerifyStream(descriptor.digest, descriptor.size, `${this.description}: blob`, "OCI");
      return pipeline(Readable.from([held]), verify, () => {});
    }
    const file = await this.#open(descriptor);
    const verify = new VerifyStream(descriptor.digest, descriptor.size, `${this.description}: blob`, "OCI");
    return pipeline(file.createReadStream(), verify, () => {});
  }

  async fetchRange(descriptor: Descriptor, start: number, end: number): Promise<Readable> {
    const held = this.#memory.get(descriptor.digest);
    if (held !== undefined) return Readable.from([held.subarray(start, end + 1)]);
    return (await this.#open(descriptor)).createReadStream({ start, end });
  }

  async #open(descriptor: Descriptor) {
    const path = this.#files.get(descriptor.digest);
    if (path === undefined) {
      throw new AgentrcError("OCI_BLOB_NOT_FOUND", `${this.description} has no blob ${descriptor.digest}.`);
    }
    try {
      return await open(path, "r");
    } catch (err) {
      throw new AgentrcError("OCI_BLOB_NOT_FOUND", `Blob ${descriptor.digest} (${path}) cannot be read.`, {
        cause: err,
        hint: "The build cache was changed while building; build again.",
      });
    }
  }
}

/** What a build produced (a `BuiltPackage`): its manifest in memory, its blobs as files, its referrers. */
export interface BuiltBlobs {
  descriptor: Descriptor;
  manifestBytes: Buffer;
  config: { descriptor: Descriptor; path: string };
  layers: ReadonlyArray<{ descriptor: Descriptor; path: string }>;
  /** Provenance and signatures made by the build (outside the package and its digest). */
  attached?: readonly AttachedArtifact[];
}

/** A built package as a copy source (for the emitter and the publisher), with its attached referrers. */
export function builtPackageSource(pkg: BuiltBlobs): FilesSource {
  return new FilesSource(
    { descriptor: pkg.descriptor, bytes: pkg.manifestBytes },
    new Map([pkg.config, ...pkg.layers].map((b) => [b.descriptor.digest, b.path])),
    "the build",
    pkg.attached ?? [],
  );
}
