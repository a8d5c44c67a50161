import { chmod, mkdir, open } from "node:fs/promises";
import { join, posix } from "node:path";
import { PassThrough, type Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { diagnostic } from "../diagnostics/create.js";
import type { Diagnostic } from "../diagnostics/types.js";
import { DEFAULT_MAX_ENTRIES, DEFAULT_MAX_TOTAL_SIZE, extractTar, safeName } from "../oci/extract.js";
import type { OciLayout } from "../oci/layout.js";
import {
  ANNOTATION_TITLE,
  DIRECTORY_LAYER_MEDIA_TYPES,
  MEDIA_TYPE_AGENTFILE,
  MEDIA_TYPE_LOCK,
  MEDIA_TYPE_POLICY_CEDAR,
} from "../oci/mediaTypes.js";
import type { Descriptor } from "../oci/types.js";
import { isIndexedLayer, type LayerScan, scanLayer } from "./fileIndex.js";

/** Package configs are read whole; larger ones are refused. */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** Layer types `pull -o` writes as single files at their title path. */
const FILE_LAYER_TYPES: readonly string[] = [MEDIA_TYPE_AGENTFILE, MEDIA_TYPE_LOCK, MEDIA_TYPE_POLICY_CEDAR];

export interface PackageBlobReaderOptions {
  /** Entries over all directory layers (default 100,000); each layer is read with the whole budget. */
  maxEntries?: number;
  /** Bytes of file content over all layers (default 4 GiB); each layer is read with the whole budget. */
  maxTotalSize?: number;
  /** `pull -o`: write each layer into `<stageInto>/<layer index>` while it is read (an existing, empty directory). */
  stageInto?: string;
}

/** One layer written to its staging directory (`pull -o`), to be merged into the output in layer order. */
export interface StagedLayer {
  index: number;
  /** The layer's org.opencontainers.image.title. */
  title: string | undefined;
  /** The staging directory holding the layer's files. */
  into: string;
  kind: "directory" | "file" | "skipped";
  entries: number;
  bytes: number;
  /** PULL_LAYER_SKIPPED for a layer of another media type without a title. */
  warning?: Diagnostic;
}

/**
 * Everything `pull` needs from an agent package's blobs, taken from one read of each: the config's bytes, the scan
 * of every indexed layer (file-index check) and, for `pull -o`, each layer written to its staging directory. The
 * consumers of a blob read the same stream side by side (`read`), which is the download itself when the blob came
 * from the registry (`copy`'s `observe`) and one read of the layout when the layout already had it (`readRest`).
 */
export class PackageBlobReader {
  readonly #manifest: { config: Descriptor; layers: Descriptor[] };
  readonly #options: PackageBlobReaderOptions;
  readonly #read = new Set<string>();
  #config: Promise<Buffer> | undefined;
  readonly #scans = new Map<string, Promise<LayerScan>>();
  readonly #staged = new Map<number, Promise<StagedLayer>>();

  constructor(
    manifest: { config: Descriptor; layers: Descriptor[] },
    options: PackageBlobReaderOptions = {},
  ) {
    this.#manifest = manifest;
    this.#options = options;
  }

  /**
   * Reads one blob's bytes for every use it has (the config, each layer with that digest). Settles once every
   * consumer has; rejects with the first failure (the file-index scan's before the staging's).
   */
  async read(digest: string, bytes: Readable): Promise<void> {
    this.#read.add(digest);
    const consumers: Array<(stream: Readable) => Promise<unknown>> = [];
    let scanned = this.#scans.has(digest); // two layers with one digest: one scan serves both
    if (digest === this.#manifest.config.digest) {
      consumers.push((s) => {
        this.#config = collect(s, MAX_CONFIG_BYTES, digest);
        return this.#config;
      });
    }
    for (const [index, layer] of this.#manifest.layers.entries()) {
      if (layer.digest !== digest) continue;
      if (isIndexedLayer(layer) && !scanned) {
        scanned = true;
        consumers.push((s) => {
          const scan = scanLayer(s, layer, {
            strict: true,
            maxEntries: this.#options.maxEntries ?? DEFAULT_MAX_ENTRIES,
            maxTotalSize: this.#options.maxTotalSize ?? DEFAULT_MAX_TOTAL_SIZE,
          });
          this.#scans.set(digest, scan);
          return scan;
        });
      }
      const stageInto = this.#options.stageInto;
      if (stageInto !== undefined) {
        consumers.push((s) => {
          const staged = stageLayer(s, index, layer, join(stageInto, String(index)), this.#options);
          this.#staged.set(index, staged);
          return staged;
        });
      }
    }
    if (consumers.length === 0) {
      bytes.resume();
      return;
    }
    const branches = tee(bytes, consumers.length);
    const results = await Promise.allSettled(
      consumers.map((consume, k) => consume(branches[k]!).finally(() => branches[k]!.resume())),
    );
    const failed = results.find((r) => r.status === "rejected");
    if (failed) throw failed.reason;
  }

  /** Reads from `layout`, once each, the blobs no download fed (those the layout already had). */
  async readRest(layout: OciLayout): Promise<void> {
    const digests = [this.#manifest.config.digest, ...this.#manifest.layers.map((l) => l.digest)];
    for (const digest of new Set(digests)) {
      if (this.#read.has(digest)) continue;
      await this.read(digest, await layout.getBlob(digest, { verify: true }));
    }
  }

  /** The config's bytes (after `read` or `readRest` got it). */
  configBytes(): Promise<Buffer> {
    return this.#config ?? Promise.reject(notRead("the package config"));
  }

  /** The scan of every indexed layer, by layer index; undefined for a plugin's layer. */
  scans(): Promise<Array<LayerScan | undefined>> {
    return Promise.all(
      this.#manifest.layers.map((l) =>
        isIndexedLayer(l) ? (this.#scans.get(l.digest) ?? Promise.reject(notRead(l.digest))) : undefined,
      ),
    );
  }

  /** Every staged layer, in layer order (`stageInto` only). */
  staged(): Promise<StagedLayer[]> {
    return Promise.all(
      this.#manifest.layers.map((l, i) => this.#staged.get(i) ?? Promise.reject(notRead(l.digest))),
    );
  }
}

const notRead = (what: string) => new AgentrcError("INTERNAL", `${what} was not read before it was used`);

/** `n` streams with the bytes of `source`, read at the pace of the slowest; a source error ends each of them. */
function tee(source: Readable, n: number): PassThrough[] {
  const branches = Array.from({ length: n }, () => {
    // Each reader sees the source's error through its own reading; a branch whose reader is already done must not
    // turn it into an uncaught 'error' (pipe re-emits on a destination with no other listener).
    const branch = new PassThrough();
    branch.on("error", () => {});
    return branch;
  });
  source.on("error", (err) => {
    for (const b of branches) b.destroy(err);
  });
  for (const b of branches) source.pipe(b);
  return branches;
}

async function collect(stream: Readable, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const chunk of stream) {
    n += (chunk as Buffer).length;
    if (n > max) throw new AgentrcError("OCI_SIZE_MISMATCH", `Blob ${what} is over the ${max}-byte limit.`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

/**
 * Writes one layer into `into` as `pull -o` lays it out: a directory layer extracted with `extractTar` (no links,
 * no `..`, absolute paths or devices, entry and byte limits), a file layer (and a plugin's titled layer) as one file
 * at its title, any other layer skipped with PULL_LAYER_SKIPPED.
 */
async function stageLayer(
  stream: Readable,
  index: number,
  layer: Descriptor,
  into: string,
  limits: PackageBlobReaderOptions,
): Promise<StagedLayer> {
  const title = layer.annotations?.[ANNOTATION_TITLE];
  const maxEntries = limits.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const maxTotalSize = limits.maxTotalSize ?? DEFAULT_MAX_TOTAL_SIZE;
  if (DIRECTORY_LAYER_MEDIA_TYPES.includes(layer.mediaType)) {
    const r = await extractTar(stream, into, {
      links: "refuse",
      compression: "gzip",
      maxEntries,
      maxTotalSize,
    });
    return { index, title, into, kind: "directory", entries: r.entries, bytes: r.bytes };
  }
  if (FILE_LAYER_TYPES.includes(layer.mediaType) || title !== undefined) {
    // Known file layers, and layers of other types (a plugin's) that carry a title: one file at that path.
    const name = title === undefined ? undefined : safeName(title);
    if (name === undefined) {
      throw new AgentrcError(
        "OCI_EXTRACT_PATH_UNSAFE",
        `layer ${index} (${layer.mediaType}) has no usable ${ANNOTATION_TITLE} (${JSON.stringify(title)})`,
      );
    }
    if (layer.size > maxTotalSize) {
      throw new AgentrcError("OCI_EXTRACT_TOO_LARGE", `The package holds more than the byte limit.`);
    }
    const target = join(into, ...name.split("/"));
    await mkdir(join(into, ...posix.dirname(name).split("/")), { recursive: true, mode: 0o755 });
    const handle = await open(target, "wx", 0o600);
    await pipeline(stream, handle.createWriteStream());
    await chmod(target, 0o644);
    return { index, title, into, kind: "file", entries: 1, bytes: layer.size };
  }
  stream.resume();
  return {
    index,
    title,
    into,
    kind: "skipped",
    entries: 0,
    bytes: 0,
    warning: diagnostic(
      "PULL_LAYER_SKIPPED",
      `layer ${index} (${layer.digest}) has media type ${layer.mediaType} and no ${ANNOTATION_TITLE}; it was not unpacked`,
    ),
  };
}
