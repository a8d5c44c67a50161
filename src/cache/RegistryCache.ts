import { createHash } from "node:crypto";
import { type Readable, Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { AgentrcError, isAgentrcError } from "../diagnostics/AgentrcError.js";
import { sha256Digest } from "../oci/digest.js";
import {
  EMPTY_JSON_DIGEST,
  EMPTY_JSON_SIZE,
  MEDIA_TYPE_OCI_EMPTY,
  MEDIA_TYPE_OCI_MANIFEST,
} from "../oci/mediaTypes.js";
import type { Descriptor } from "../oci/types.js";
import { bytesBlob, fileBlob } from "../registry/blobs.js";
import { RegistryClient, type RegistryClientOptions } from "../registry/client.js";
import { parseReference, type Reference } from "../registry/reference.js";
import { schemaValidator } from "../schema/validate.js";
import { canonicalJson } from "../util/canonicalJson.js";
import { mapLimit } from "../util/mapLimit.js";
import type { BlobCache, CachedLayer } from "./BlobCache.js";

/** The artifactType of a shared build cache manifest (`agentrc build --cache-to`). */
export const ARTIFACT_TYPE_BUILD_CACHE = "application/vnd.agentrc.build-cache.v1";
/** The media type of its first layer: the layer cache index (schemas/build-cache-index.schema.json). */
export const MEDIA_TYPE_BUILD_CACHE_INDEX = "application/vnd.agentrc.build-cache.index.v1+json";
/** Entries kept in one index; the oldest go first (a registry cache is a cache, not an archive). */
export const MAX_CACHE_ENTRIES = 4096;

/** One layer in the shared cache: what the local layer cache records, plus the layer's media type. */
export interface SharedCacheEntry extends CachedLayer {
  mediaType: string;
}

/** The layer cache index: layer input key (src/compiler/layerInputs.ts, oci-packager's `layerKey`) → packed blob. */
export interface SharedCacheIndex {
  schemaVersion: 1;
  /** Oldest first. */
  entries: Array<{ key: string } & SharedCacheEntry>;
}

/** A layer this build packed or reused, offered to the shared cache. */
export interface SharedCacheOffer extends SharedCacheEntry {
  key: string;
  /** The blob on disk (in the local blob cache). */
  path: string;
}

/** Why an entry of the shared cache was not used (the layer is packed locally instead). */
export interface RejectedEntry {
  key: string;
  ref: string;
  reason: string;
}

const MAX_INDEX_BYTES = 16 * 1024 * 1024;
const MAX_WRITE_ATTEMPTS = 10;

/**
 * A build cache shared by many machines on a registry, as BuildKit's `type=registry` cache: one repository holds a
 * manifest of artifactType `application/vnd.agentrc.build-cache.v1` at a tag, whose first layer is the layer cache
 * index (input key → blob digest) and whose other layers are the cached blobs themselves, so that the registry's
 * garbage collection keeps them and `skopeo copy`/`oras copy` move the cache whole.
 *
 * Nothing read from it is trusted: an entry is used only when its recorded diffID is the one this build computed
 * from its own files, and the blob fetched for it has the recorded digest and size and decompresses to that diffID
 * (`restore`). A poisoned entry costs a download and is then packed locally; it never changes a package's content.
 *
 * Writers (`publish`) upload blobs before the index that names them, and rewrite the index by read, merge, write,
 * read back: a writer that finds another's index in place of its own merges again, so concurrent builds converge on
 * the union of their entries and the tag never names an index with a missing blob.
 */
export class RegistryLayerCache {
  readonly ref: string;
  readonly #reference: Reference;
  readonly #client: RegistryClient;
  #index: Promise<Map<string, SharedCacheEntry>> | undefined;

  private constructor(ref: string, reference: Reference, client: RegistryClient) {
    this.ref = ref;
    this.#reference = reference;
    this.#client = client;
  }

  static open(ref: string, options: RegistryClientOptions = {}): RegistryLayerCache {
    const reference = parseReference(ref);
    if (reference.tag === undefined) {
      throw new AgentrcError("BUILD_CACHE_REF_INVALID", `the build cache ${ref} names a digest, not a tag`, {
        hint: "Name the cache by tag (host/repo:buildcache): writers move the tag as the cache grows.",
      });
    }
    return new RegistryLayerCache(ref, reference, new RegistryClient(reference.registry, options));
  }

  /** The entries of the index at the tag (read once; a missing tag is an empty cache). */
  async entries(): Promise<Map<string, SharedCacheEntry>> {
    // One read for every layer asking at once; a failure is the same failure for all of them.
    this.#index ??= this.#read().then(({ index }) => new Map(index.entries.map(({ key, ...e }) => [key, e])));
    return this.#index;
  }

  /**
   * Brings the layer for `key` into the local blob cache when the shared cache has a trustworthy entry for it: the
   * entry's diffID and media type must be `expected`'s, the blob must have the entry's digest and size and must
   * decompress to that diffID. Returns the entry (recorded in `local` under `key`), undefined on a miss, or the
   * reason for refusing a poisoned entry.
   */
  async restore(
    key: string,
    expected: { diffId: string; mediaType: string },
    local: BlobCache,
  ): Promise<SharedCacheEntry | RejectedEntry | undefined> {
    const entry = (await this.entries()).get(key);
    if (entry === undefined) return undefined;
    const reject = (reason: string): RejectedEntry => ({ key, ref: this.ref, reason });
    if (entry.mediaType !== expected.mediaType) {
      return reject(`it is a ${entry.mediaType} layer, this one is ${expected.mediaType}`);
    }
    if (entry.diffId !== expected.diffId) {
      return reject(`it unpacks to ${entry.diffId}, these files to ${expected.diffId}`);
    }
    let diffId: string;
    try {
      diffId = await local.importBlob(
        async () => this.#client.getBlob(this.#reference.repository, entry.digest, entry.size),
        { digest: entry.digest, size: entry.size },
        uncompressedDigest,
      );
    } catch (err) {
      const what = isAgentrcError(err) ? `${err.code} ${err.message}` : (err as Error).message;
      return reject(`its blob ${entry.digest} could not be read: ${what}`);
    }
    if (diffId !== entry.diffId) {
      return reject(`its blob ${entry.digest} unpacks to ${diffId}, not the recorded ${entry.diffId}`);
    }
    await local.record(key, {
      digest: entry.digest,
      size: entry.size,
      diffId: entry.diffId,
      uncompressedSize: entry.uncompressedSize,
    });
    return entry;
  }

  /**
   * Adds `offers` to the shared cache: every blob the registry lacks is uploaded, then the index is merged with the
   * one at the tag and written, until the tag names an index holding every offer. Returns how many blobs were
   * uploaded and whether the index had to be written.
   */
  async publish(offers: readonly SharedCacheOffer[]): Promise<{ uploaded: number; written: boolean }> {
    const repo = this.#reference.repository;
    const unique = [...new Map(offers.map((o) => [o.digest, o])).values()];
    const statuses = await mapLimit(unique, 4, (o) =>
      this.#client.pushBlob(repo, fileBlob(o.path, o.digest, o.size)),
    );
    const uploaded = statuses.filter((r) => r.status === "uploaded").length;
    await this.#client.pushBlob(repo, bytesBlob(Buffer.from("{}")));
    let written = false;
    for (let attempt = 1; attempt <= MAX_WRITE_ATTEMPTS; attempt++) {
      const current = await this.#read();
      const merged = new Map(current.index.entries.map(({ key, ...e }) => [key, e]));
      const missing = offers.filter((o) => merged.get(o.key)?.digest !== o.digest);
      if (missing.length === 0) {
        if (!written) return { uploaded, written };
        // Ours is in place: look again a moment later, as a writer that read before our write may overwrite it.
        await delay(100 + Math.floor(Math.random() * 200));
        const settled = await this.#read();
        const after = new Set(settled.index.entries.map((e) => `${e.key} ${e.digest}`));
        if (offers.every((o) => after.has(`${o.key} ${o.digest}`))) return { uploaded, written };
        continue;
      }
      for (const { key, path: _path, ...entry } of missing) {
        merged.delete(key); // re-inserted last: the newest entries are the ones a cap keeps
        merged.set(key, entry);
      }
      const { indexBytes, manifest } = cacheManifest([...merged].slice(-MAX_CACHE_ENTRIES));
      await this.#client.pushBlob(repo, bytesBlob(indexBytes));
      // The tag moved since we read it: merge what the other writer added instead of writing over it.
      if ((await this.#client.headManifest(repo, this.#reference.tag!))?.digest !== current.digest) continue;
      await this.#client.putManifest(repo, this.#reference.tag!, manifest, MEDIA_TYPE_OCI_MANIFEST);
      written = true;
    }
    throw new AgentrcError(
      "BUILD_CACHE_CONTENDED",
      `the build cache ${this.ref} kept changing under ${MAX_WRITE_ATTEMPTS} writes; this build's entries may be missing from it`,
      {
        hint: "Too many builds write the same cache tag at once: give each branch or pipeline its own cache tag.",
      },
    );
  }

  close(): Promise<void> {
    return this.#client.close();
  }

  /** The index at the tag and the digest of the manifest it came from (undefined: no cache yet). */
  async #read(): Promise<{ index: SharedCacheIndex; digest: string | undefined }> {
    const repo = this.#reference.repository;
    let manifest: { artifactType?: string; layers?: Descriptor[] };
    let digest: string;
    try {
      const m = await this.#client.getManifest(repo, this.#reference.tag!);
      manifest = JSON.parse(m.bytes.toString("utf8"));
      digest = m.digest;
    } catch (err) {
      if (isAgentrcError(err) && err.code === "REGISTRY_NOT_FOUND")
        return { index: { schemaVersion: 1, entries: [] }, digest: undefined };
      throw err;
    }
    const layer = manifest.layers?.[0];
    if (
      manifest.artifactType !== ARTIFACT_TYPE_BUILD_CACHE ||
      layer?.mediaType !== MEDIA_TYPE_BUILD_CACHE_INDEX
    ) {
      throw new AgentrcError(
        "BUILD_CACHE_INVALID",
        `${this.ref} is not an agentrc build cache (artifactType ${manifest.artifactType ?? "none"})`,
        { hint: "Give --cache-from/--cache-to a tag of their own (host/repo:buildcache), not a package's." },
      );
    }
    if (layer.size > MAX_INDEX_BYTES) {
      throw new AgentrcError(
        "BUILD_CACHE_INVALID",
        `the index of ${this.ref} is ${layer.size} bytes, over the limit`,
      );
    }
    const chunks: Buffer[] = [];
    for await (const c of await this.#client.getBlob(repo, layer.digest, layer.size))
      chunks.push(c as Buffer);
    let index: unknown;
    try {
      index = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch (e) {
      throw new AgentrcError(
        "BUILD_CACHE_INVALID",
        `the index of ${this.ref} is not JSON: ${(e as Error).message}`,
      );
    }
    const validate = schemaValidator("build-cache-index.schema.json");
    if (!validate(index)) {
      throw new AgentrcError(
        "BUILD_CACHE_INVALID",
        `the index of ${this.ref} does not match schemas/build-cache-index.schema.json: ${validate.errors?.map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ")}`,
      );
    }
    return { index: index as SharedCacheIndex, digest };
  }
}

const delay = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The cache manifest for `entries` (oldest first): the index blob first, then every blob the index names. */
function cacheManifest(entries: Array<[string, SharedCacheEntry]>): { indexBytes: Buffer; manifest: Buffer } {
  const index: SharedCacheIndex = {
    schemaVersion: 1,
    entries: entries.map(([key, e]) => ({
      key,
      mediaType: e.mediaType,
      digest: e.digest,
      size: e.size,
      diffId: e.diffId,
      uncompressedSize: e.uncompressedSize,
    })),
  };
  const indexBytes = Buffer.from(canonicalJson(index));
  const blobs = new Map<string, Descriptor>();
  for (const e of index.entries)
    blobs.set(e.digest, { mediaType: e.mediaType, digest: e.digest, size: e.size });
  const manifest = Buffer.from(
    canonicalJson({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      artifactType: ARTIFACT_TYPE_BUILD_CACHE,
      config: { mediaType: MEDIA_TYPE_OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: EMPTY_JSON_SIZE },
      layers: [
        {
          mediaType: MEDIA_TYPE_BUILD_CACHE_INDEX,
          digest: sha256Digest(indexBytes),
          size: indexBytes.length,
        },
        ...blobs.values(),
      ],
    }),
  );
  return { indexBytes, manifest };
}

/** The sha256 of a gzip stream's decompressed bytes (a layer's diffID). */
async function uncompressedDigest(stream: Readable): Promise<string> {
  const hash = createHash("sha256");
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      hash.update(chunk);
      done();
    },
  });
  await pipeline(stream, createGunzip(), sink);
  return `sha256:${hash.digest("hex")}`;
}
