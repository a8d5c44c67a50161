import type { Readable } from "node:stream";
import type { ManifestErrorCode } from "../oci/manifest.js";
import type { Descriptor } from "../oci/types.js";
import type { BlobSource } from "../registry/blobs.js";
import type { RegistryClient } from "../registry/client.js";
import type { BlobStatus, PushBlobOptions, ResolvedManifest, Target } from "./types.js";

/**
 * One repository of a registry as a copy source and target (oras-go's `registry/remote.Repository`), on a
 * `RegistryClient` the caller owns (one connection pool and token cache for many repositories).
 */
export class RegistryTarget implements Target {
  readonly client: RegistryClient;
  readonly repository: string;
  readonly description: string;
  readonly manifestErrorCode: ManifestErrorCode = "REGISTRY_MANIFEST_INVALID";

  constructor(client: RegistryClient, repository: string) {
    this.client = client;
    this.repository = repository;
    this.description = `${client.registry}/${repository}`;
  }

  /** One GET: the client caps the size and checks the bytes against the requested digest and Docker-Content-Digest. */
  async resolve(reference: string): Promise<ResolvedManifest> {
    const m = await this.client.getManifest(this.repository, reference);
    return { descriptor: { mediaType: m.mediaType, digest: m.digest, size: m.size }, bytes: m.bytes };
  }

  fetch(descriptor: Descriptor): Promise<Readable> {
    return this.client.getBlob(this.repository, descriptor.digest, descriptor.size);
  }

  async referrers(digest: string): Promise<Descriptor[]> {
    return (await this.client.listReferrers(this.repository, digest)).manifests;
  }

  async pushBlob(
    _descriptor: Descriptor,
    content: BlobSource,
    options: PushBlobOptions = {},
  ): Promise<BlobStatus> {
    const pushed = await this.client.pushBlob(
      this.repository,
      content,
      options.mountFrom === undefined ? {} : { mountFrom: options.mountFrom },
    );
    return pushed.status;
  }

  async pushManifest(descriptor: Descriptor, bytes: Buffer, tags: readonly string[]): Promise<void> {
    for (const reference of tags.length > 0 ? tags : [descriptor.digest]) {
      await this.client.putManifest(this.repository, reference, bytes, descriptor.mediaType);
    }
  }
}
