import { mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { withFilePath } from "../diagnostics/fsError.js";
import { OciLayout } from "../oci/layout.js";

export interface CachedLayer {
  digest: string;
  size: number;
  diffId: string;
  uncompressedSize: number;
}

/**
 * Content-addressed store for packed blobs plus an index from a layer's input key (the digests, paths and modes of
 * its files, the packer's format) to the packed result. A warm rebuild whose inputs are unchanged reuses the blob
 * without packing. Everything is written temp-then-rename, so concurrent builds and interrupted ones never leave a
 * partial entry; a lost race just repacks.
 */
export class BlobCache {
  readonly layout: OciLayout;
  readonly #keys: string;
  readonly #ephemeral: boolean;

  private constructor(layout: OciLayout, keys: string, ephemeral: boolean) {
    this.layout = layout;
    this.#keys = keys;
    this.#ephemeral = ephemeral;
  }

  /** Opens the cache under `dir`, or a throw-away one in the temp directory when `dir` is undefined. */
  static async open(dir: string | undefined): Promise<BlobCache> {
    const root = dir ?? join(tmpdir(), `agentrc-cache-${process.pid}-${Date.now()}`);
    const layout = await OciLayout.create(join(root, "blobs"));
    await layout.removeStaleTemporaries();
    const keys = join(root, "layers");
    await mkdir(keys, { recursive: true });
    return new BlobCache(layout, keys, dir === undefined);
  }

  blobPath(digest: string): string {
    return this.layout.blobPath(digest);
  }

  async lookup(key: string): Promise<CachedLayer | undefined> {
    try {
      const hit = JSON.parse(await readFile(join(this.#keys, `${key}.json`), "utf8")) as CachedLayer;
      return (await this.layout.hasBlob(hit.digest)) ? hit : undefined;
    } catch {
      return undefined;
    }
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

  /** Removes a throw-away cache. */
  async dispose(): Promise<void> {
    if (this.#ephemeral) await rm(join(this.layout.root, ".."), { recursive: true, force: true });
  }
}
