import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, rename, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { RegistrySettings } from "../compiler/types.js";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { extractTar } from "../oci/extract.js";
import { OciLayout } from "../oci/layout.js";
import { type ParsedImageManifest, parseImageManifest } from "../oci/manifest.js";
import type { Descriptor } from "../oci/types.js";
import { copy } from "../transfer/copy.js";
import { LayoutTarget } from "../transfer/layoutTarget.js";
import type { ReadTarget } from "../transfer/types.js";
import { checkDependencyTrust, type Dependency, openDependency } from "./remote.js";

/** `<cacheDir>/deps/`: an OCI layout holding every fetched dependency, and `trees/` with their extracted layers. */
const FOLDER = "deps";

/** A dependency in the cache: its manifest and config, checked against their digests when it was read. */
export interface CachedDependency {
  digest: string;
  manifestBytes: Buffer;
  manifest: ParsedImageManifest;
  configBytes: Buffer;
  /** The config's JSON (unchecked beyond being JSON: the consumer checks the shape it needs). */
  config: unknown;
  /** Where a blob of this dependency lies (verified by `get`). */
  blobPath(digest: string): string;
}

/** Thrown for content that is not what its digest says (a corrupted cache entry, a registry lying). */
export class DependencyContentError extends Error {}

const sha256 = (bytes: Buffer) => `sha256:${createHash("sha256").update(bytes).digest("hex")}`;

/**
 * Dependencies cached by manifest digest: fetched once with the one copy (`transfer.copy`, every blob verified) into
 * an OCI layout, and verified again on every use (`get` hashes the manifest, the config and every layer), so a pinned
 * build works offline and never trusts a modified cache. Caches are advisory: a corrupt entry is fetched again when
 * the registry is reachable.
 */
export class DependencyCache {
  readonly root: string;
  readonly #layout: OciLayout;

  private constructor(root: string, layout: OciLayout) {
    this.root = root;
    this.#layout = layout;
  }

  static async open(cacheDir: string | undefined): Promise<DependencyCache> {
    // No cache directory (API use without one): a per-process directory, as the blob cache does.
    const root = cacheDir ? join(cacheDir, FOLDER) : join(tmpdir(), `agentrc-${FOLDER}-${process.pid}`);
    await mkdir(root, { recursive: true });
    return new DependencyCache(root, await OciLayout.create(root));
  }

  /** The dependency `digest` when the cache holds all of it, verified; undefined when something is missing. */
  async get(digest: string): Promise<CachedDependency | undefined> {
    const layout = this.#layout;
    if (!(await layout.hasBlob(digest))) return undefined;
    const manifestBytes = await this.#read(digest);
    if (sha256(manifestBytes) !== digest) {
      await this.#drop(digest);
      throw new DependencyContentError(`the cached manifest ${digest} does not match its digest`);
    }
    const manifest = parseImageManifest(
      manifestBytes,
      mediaTypeOf(manifestBytes),
      digest,
      "OCI_MANIFEST_INVALID",
    );
    for (const d of [manifest.config, ...manifest.layers]) {
      if (!(await layout.hasBlob(d.digest))) return undefined;
    }
    const configBytes = await this.#read(manifest.config.digest);
    if (sha256(configBytes) !== manifest.config.digest) {
      await this.#drop(manifest.config.digest);
      throw new DependencyContentError(`the cached config of ${digest} does not match its digest`);
    }
    for (const layer of manifest.layers) await this.#verifyBlob(layer);
    let config: unknown;
    try {
      config = JSON.parse(configBytes.toString("utf8"));
    } catch {
      config = undefined;
    }
    return {
      digest,
      manifestBytes,
      manifest,
      configBytes,
      config,
      blobPath: (d) => layout.blobPath(d),
    };
  }

  /**
   * The dependency from the cache, else fetched from its registry (`openDependency`, then one copy of the manifest
   * and every blob, verified) after `check` accepted its manifest; then read back through `get`.
   */
  async fetch(
    dependency: Dependency,
    digest: string,
    settings: RegistrySettings,
    check?: (manifest: ParsedImageManifest) => void,
  ): Promise<CachedDependency> {
    // The trust policy first: a refused dependency is neither read from the cache nor fetched into it.
    await checkDependencyTrust(dependency, digest, settings);
    const cached = await this.get(digest).catch((e) => {
      if (e instanceof DependencyContentError) return undefined;
      throw e;
    });
    if (cached) return cached;
    const opened = await openDependency(dependency, digest, settings);
    try {
      // The manifest is already read: copy takes it from here, blobs from the registry.
      const source: ReadTarget = {
        description: opened.target.description,
        manifestErrorCode: opened.target.manifestErrorCode,
        resolve: async () => opened.manifest,
        fetch: (d) => opened.target.fetch(d),
      };
      await copy(source, digest, new LayoutTarget(this.#layout), {
        ...(settings.concurrency === undefined ? {} : { concurrency: settings.concurrency }),
        ...(check ? { check: (m) => check(m) } : {}),
      });
    } finally {
      await opened.close();
    }
    const got = await this.get(digest);
    if (!got) throw new DependencyContentError(`${digest} is incomplete in the cache after fetching it`);
    return got;
  }

  /**
   * The extracted tree of a directory layer (no links, the usual limits), under `trees/<layer hex>/`: extracted once
   * from the verified blob into a temporary directory, then renamed into place.
   */
  async tree(layer: Descriptor): Promise<string> {
    const dir = join(this.root, "trees", layer.digest.slice("sha256:".length));
    if ((await stat(dir).catch(() => undefined))?.isDirectory()) return dir;
    await mkdir(join(this.root, "trees"), { recursive: true });
    const temp = `${dir}.tmp-${randomBytes(6).toString("hex")}`;
    try {
      const blob = await this.#layout.getBlob(layer.digest, { verify: true });
      await extractTar(blob, temp, { links: "refuse" }).finally(() => blob.destroy());
      await rename(temp, dir).catch(async (e) => {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "ENOTEMPTY" && code !== "EEXIST") throw e;
      });
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
    return dir;
  }

  async #verifyBlob(d: Descriptor): Promise<void> {
    const hash = createHash("sha256");
    let size = 0;
    for await (const chunk of await this.#layout.getBlob(d.digest)) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    if (`sha256:${hash.digest("hex")}` !== d.digest || size !== d.size) {
      await this.#drop(d.digest);
      throw new DependencyContentError(`the cached blob ${d.digest} does not match its digest or size`);
    }
  }

  /** A small blob's bytes; one that is not what its digest says is dropped (DependencyContentError). */
  async #read(digest: string): Promise<Buffer> {
    try {
      return await this.#layout.readBlob(digest);
    } catch (e) {
      if (!(e instanceof AgentrcError) || e.code !== "OCI_DIGEST_MISMATCH") throw e;
      await this.#drop(digest);
      throw new DependencyContentError(`the cached blob ${digest} does not match its digest`);
    }
  }

  /** Deletes a blob that is not what its digest says, so the next fetch downloads it again. */
  async #drop(digest: string): Promise<void> {
    await rm(this.#layout.blobPath(digest), { force: true });
  }
}

function mediaTypeOf(bytes: Buffer): string {
  try {
    const m = JSON.parse(bytes.toString("utf8")) as { mediaType?: unknown };
    return typeof m.mediaType === "string" ? m.mediaType : "";
  } catch {
    return "";
  }
}

/** Every file below `dir`, relative, `/`-separated (for tests and checks of an extracted tree). */
export async function listTree(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const path = rel === "" ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...(await listTree(dir, path)));
    else out.push(path);
  }
  return out;
}
