import { readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { gunzipSync, gzipSync } from "node:zlib";
import tarStream from "tar-stream";
import { canonicalJson } from "../../src/util/canonicalJson.js";
import { sha256 } from "./fileTree.js";

/**
 * Rewrites a package inside an OCI layout the way an attacker (or a broken tool) would: change a blob, then
 * recompute whatever digests and descriptors the test wants to get past the earlier checks. Everything goes through
 * the real files (blobs/sha256/<hex>, index.json); nothing is mocked.
 */

// biome-ignore lint/suspicious/noExplicitAny: tests edit arbitrary manifest and config JSON in place
type Json = Record<string, any>;

export { sha256 };

export class PackageTamper {
  manifest!: Json;
  config!: Json;
  #manifestDigest!: string;

  private constructor(readonly root: string) {}

  static async open(root: string): Promise<PackageTamper> {
    const t = new PackageTamper(root);
    const index = JSON.parse(await readFile(join(root, "index.json"), "utf8")) as Json;
    t.#manifestDigest = packageEntry(index).digest;
    t.manifest = JSON.parse((await t.read(t.#manifestDigest)).toString("utf8"));
    t.config = JSON.parse((await t.read(t.manifest.config.digest)).toString("utf8"));
    return t;
  }

  blobPath(digest: string): string {
    return join(this.root, "blobs", "sha256", digest.slice("sha256:".length));
  }

  read(digest: string): Promise<Buffer> {
    return readFile(this.blobPath(digest));
  }

  /** Writes `bytes` under their own digest; returns the digest. */
  async write(bytes: Buffer): Promise<string> {
    const digest = sha256(bytes);
    await writeFile(this.blobPath(digest), bytes);
    return digest;
  }

  layer(title: string): Json {
    const l = this.manifest.layers.find(
      (x: Json) => x.annotations?.["org.opencontainers.image.title"] === title,
    );
    if (!l) throw new Error(`no layer ${title}`);
    return l;
  }

  configLayer(title: string): Json {
    return this.config.layers.find((x: Json) => x.title === title);
  }

  /** Overwrites a blob's bytes in place, under its old name (digest no longer matches). */
  async corruptInPlace(digest: string, edit: (b: Buffer) => Buffer): Promise<void> {
    await writeFile(this.blobPath(digest), edit(await this.read(digest)));
  }

  async deleteBlob(digest: string): Promise<void> {
    await rm(this.blobPath(digest));
  }

  /**
   * Replaces a layer's bytes and makes every descriptor agree with them: the manifest descriptor (digest, size,
   * oras digest annotation), the config's layer entry (digest, size, uncompressed digest and size) and, for a file
   * layer, its file index entry. What remains is only what the new bytes mean.
   */
  async replaceLayer(title: string, bytes: Buffer, options: { updateIndex?: boolean } = {}): Promise<void> {
    const layer = this.layer(title);
    const digest = await this.write(bytes);
    const directory = layer.mediaType.endsWith("tar+gzip");
    let uncompressed = bytes;
    if (directory) {
      try {
        uncompressed = gunzipSync(bytes);
      } catch {
        uncompressed = bytes;
      }
    }
    layer.digest = digest;
    layer.size = bytes.length;
    if (directory) layer.annotations["io.deis.oras.content.digest"] = sha256(uncompressed);
    const listed = this.configLayer(title);
    listed.digest = digest;
    listed.size = bytes.length;
    listed.uncompressedDigest = directory ? sha256(uncompressed) : digest;
    listed.uncompressedSize = uncompressed.length;
    if (!directory && options.updateIndex !== false) {
      const file = this.config.files.find((f: Json) => f.path === title);
      file.sha256 = digest;
      file.size = bytes.length;
    }
  }

  /** Writes the config and manifest back (canonical JSON, new digests) and points the layout's only tag at it. */
  async commit(options: { config?: boolean } = {}): Promise<string> {
    if (options.config !== false) {
      const bytes = Buffer.from(canonicalJson(this.config));
      this.manifest.config.digest = await this.write(bytes);
      this.manifest.config.size = bytes.length;
    }
    return this.commitManifest();
  }

  /** Writes only the manifest back and retags it. */
  async commitManifest(): Promise<string> {
    const bytes = Buffer.from(canonicalJson(this.manifest));
    const digest = await this.write(bytes);
    const indexPath = join(this.root, "index.json");
    const index = JSON.parse(await readFile(indexPath, "utf8")) as Json;
    packageEntry(index).digest = digest;
    packageEntry(index).size = bytes.length;
    await writeFile(indexPath, canonicalJson(index));
    this.#manifestDigest = digest;
    return digest;
  }
}

/** The package's index entry: the tagged one, not a referrer beside it (its provenance is an untagged entry). */
export function packageEntry(index: Json): Json {
  return (
    index.manifests.find((m: Json) => m.annotations?.["org.opencontainers.image.ref.name"] !== undefined) ??
    index.manifests[0]
  );
}

type EntryHeader = Partial<tarStream.Header> & { name: string };

/** Rewrites a tar+gzip layer: `edit` gets and returns the entries (header + content). */
export async function rewriteTarLayer(
  gz: Buffer,
  edit: (entries: Array<{ header: EntryHeader; content: Buffer }>) => Array<{
    header: EntryHeader;
    content: Buffer;
  }>,
): Promise<Buffer> {
  const entries: Array<{ header: EntryHeader; content: Buffer }> = [];
  const extract = tarStream.extract();
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const c of entry) chunks.push(c as Buffer);
      entries.push({ header: { ...entry.header }, content: Buffer.concat(chunks) });
    }
  })();
  extract.end(gunzipSync(gz));
  await done;
  const pack = tarStream.pack();
  const out: Buffer[] = [];
  const collected = (async () => {
    for await (const c of pack) out.push(c as Buffer);
  })();
  for (const e of edit(entries)) {
    await new Promise<void>((resolve, reject) =>
      pack.entry({ ...e.header, size: e.content.length } as tarStream.Header, e.content, (err) =>
        err ? reject(err) : resolve(),
      ),
    );
  }
  pack.finalize();
  await collected;
  return gzipSync(Buffer.concat(out));
}
