import { mkdir, readdir, readFile, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { withFilePath } from "../diagnostics/fsError.js";
import { sha256Digest } from "../oci/digest.js";
import { OciLayout } from "../oci/layout.js";
import { Lease } from "../oci/lease.js";
import { OCI_LAYOUT_FILE } from "../oci/mediaTypes.js";
import { type PruneResult, pruneLayout } from "../oci/prune.js";
import type { BlobInfo } from "../oci/types.js";
import { DeflateBlockCache } from "./DeflateBlockCache.js";

export interface CachedLayer {
  digest: string;
  size: number;
  diffId: string;
  uncompressedSize: number;
}

export interface CachePruneResult extends PruneResult {
  /** Layer index entries (`layers/<key>.json`) deleted: all of them with `all`, else those whose blob is gone. */
  entries: number;
  /** Deflate block entries (`deflate/<key>.json`) deleted, by the same rule. */
  blockEntries: number;
}

/**
 * Content-addressed store for packed blobs plus an index from a layer's input key (the digests, paths and modes of
 * its files, the packer's format) to the packed result. A warm rebuild whose inputs are unchanged reuses the blob
 * without packing. Everything is written temp-then-rename, so concurrent builds and interrupted ones never leave a
 * partial entry; a lost race just repacks.
 *
 * Every blob a build uses (a lookup hit, a packed layer, a config) is leased (src/oci/lease.ts) until `dispose`,
 * so `agentrc prune` running beside the build never deletes a blob the build is about to emit.
 */
export class BlobCache {
  readonly layout: OciLayout;
  /** The deflate blocks of the cached layers, for packing a changed layer without deflating its unchanged parts. */
  readonly deflateBlocks: DeflateBlockCache;
  readonly #keys: string;
  readonly #ephemeral: boolean;
  #lease: Promise<Lease> | undefined;

  private constructor(layout: OciLayout, root: string, ephemeral: boolean) {
    this.layout = layout;
    this.#keys = join(root, "layers");
    this.deflateBlocks = new DeflateBlockCache(join(root, "deflate"), layout);
    this.#ephemeral = ephemeral;
  }

  /** Opens the cache under `dir`, or a throw-away one in the temp directory when `dir` is undefined. */
  static async open(dir: string | undefined): Promise<BlobCache> {
    const root = dir ?? join(tmpdir(), `agentrc-cache-${process.pid}-${Date.now()}`);
    const layout = await OciLayout.create(join(root, "blobs"));
    await layout.removeStaleTemporaries();
    await mkdir(join(root, "layers"), { recursive: true });
    return new BlobCache(layout, root, dir === undefined);
  }

  blobPath(digest: string): string {
    return this.layout.blobPath(digest);
  }

  /** The packed layer recorded for `key`, leased for this build; undefined when unknown or its blob is gone. */
  async lookup(key: string): Promise<CachedLayer | undefined> {
    let hit: CachedLayer;
    try {
      hit = JSON.parse(await readFile(join(this.#keys, `${key}.json`), "utf8")) as CachedLayer;
    } catch {
      return undefined;
    }
    if (typeof hit?.digest !== "string") return undefined;
    const present = await this.#leased([hit.digest], () => this.layout.hasBlob(hit.digest)).catch(
      () => false,
    );
    return present ? hit : undefined;
  }

  async record(key: string, layer: CachedLayer): Promise<void> {
    const file = join(this.#keys, `${key}.json`);
    const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
    try {
      await writeFile(temp, JSON.stringify(layer));
      await rename(temp, file);
    } catch (err) {
      await rm(temp, { force: true });
      throw withFilePath(err, temp);
    }
  }

  /** Moves a packed file (written to `layout.tempBlobPath()`) into place, leased for this build. */
  commitBlob(tempPath: string, info: BlobInfo): Promise<BlobInfo> {
    return this.#leased([info.digest], () => this.layout.commitBlob(tempPath, info));
  }

  /**
   * Stores a blob read from elsewhere (the shared registry cache), verified against `info` by the layout, leased for
   * this build; `inspect` reads the same bytes as they go by (one download) and its result is returned. A blob the
   * cache already holds is not fetched: `inspect` reads the local copy.
   */
  importBlob<T>(
    open: () => Promise<Readable>,
    info: BlobInfo,
    inspect: (bytes: Readable) => Promise<T>,
  ): Promise<T> {
    return this.#leased([info.digest], async () => {
      if ((await this.layout.hasBlob(info.digest)) && (await this.layout.blobSize(info.digest)) === info.size)
        return inspect(await this.layout.getBlob(info.digest, { verify: true }));
      const source = await open();
      const toStore = new PassThrough();
      const toInspect = new PassThrough();
      source.on("error", (err) => {
        toStore.destroy(err);
        toInspect.destroy(err);
      });
      source.pipe(toStore);
      source.pipe(toInspect);
      const [stored, inspected] = await Promise.allSettled([
        this.layout.putBlob(toStore, info),
        inspect(toInspect).finally(() => toInspect.resume()),
      ]);
      if (stored.status === "rejected") throw stored.reason;
      if (inspected.status === "rejected") throw inspected.reason;
      return inspected.value;
    });
  }

  /** Stores a small blob (config, manifest, Agentfile), leased for this build. */
  putBlob(bytes: Buffer): Promise<BlobInfo> {
    const digest = sha256Digest(bytes);
    return this.#leased([digest], () => this.layout.putBlob(bytes, { digest, size: bytes.length }));
  }

  /**
   * Deletes blobs no layer index entry and no running build references; with `all`, the whole layer index and
   * every blob no running build holds (like `docker builder prune --all`).
   */
  async prune(options: { all?: boolean } = {}): Promise<CachePruneResult> {
    let entries = 0;
    const result = await pruneLayout(this.layout, {
      roots: async () => {
        const keep: string[] = [];
        for (const name of await readdir(this.#keys)) {
          const path = join(this.#keys, name);
          const layer = await readLayer(path);
          const blobPresent = layer !== undefined && (await this.layout.hasBlob(layer.digest));
          if (options.all || (name.endsWith(".json") && !blobPresent)) {
            // Left-over temp files of a killed `record` go too; a fresh one is renamed in a moment.
            if (!name.endsWith(".tmp") || (await isOld(path))) {
              await unlink(path).catch(() => {});
              if (name.endsWith(".json")) entries += 1;
            }
            continue;
          }
          if (layer !== undefined) keep.push(layer.digest);
        }
        return keep;
      },
    });
    const blockEntries = await this.deflateBlocks.prune(options);
    return { ...result, entries, blockEntries };
  }

  /** Ends this build's lease, and removes a throw-away cache. */
  async dispose(): Promise<void> {
    const lease = this.#lease;
    this.#lease = undefined;
    if (lease) await (await lease).release();
    if (this.#ephemeral) await rm(join(this.layout.root, ".."), { recursive: true, force: true });
  }

  async #leased<T>(digests: string[], whileLocked: () => Promise<T>): Promise<T> {
    if (this.#ephemeral) return whileLocked(); // nobody prunes a throw-away cache
    this.#lease ??= Lease.acquire(this.layout);
    return (await (await this.#lease).extend(digests, whileLocked)) as T;
  }
}

/** Whether a build cache exists at `dir` (prune must not create one). */
export async function cacheExists(dir: string): Promise<boolean> {
  return stat(join(dir, "blobs", OCI_LAYOUT_FILE)).then(
    () => true,
    () => false,
  );
}

async function readLayer(path: string): Promise<CachedLayer | undefined> {
  try {
    const layer = JSON.parse(await readFile(path, "utf8")) as CachedLayer;
    return typeof layer?.digest === "string" ? layer : undefined;
  } catch {
    return undefined;
  }
}

async function isOld(path: string): Promise<boolean> {
  const info = await stat(path).catch(() => undefined);
  return info !== undefined && Date.now() - info.mtimeMs > 60 * 60 * 1000;
}
