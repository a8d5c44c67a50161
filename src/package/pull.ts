import { chmod, lstat, mkdir, mkdtemp, open, readdir, realpath, rename, rm } from "node:fs/promises";
import { join, posix, resolve } from "node:path";
import { type Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { AgentrcError, isAgentrcError } from "../diagnostics/AgentrcError.js";
import {
  DEFAULT_MAX_ENTRIES,
  DEFAULT_MAX_TOTAL_SIZE,
  extractTar,
  safeName,
  tarOverheadError,
  tarOverheadLimit,
} from "../oci/extract.js";
import type { OciLayout } from "../oci/layout.js";
import { withLease } from "../oci/lease.js";
import {
  ANNOTATION_TITLE,
  ARTIFACT_TYPE_AGENT,
  DIRECTORY_LAYER_MEDIA_TYPES,
  MEDIA_TYPE_AGENT_CONFIG,
  MEDIA_TYPE_AGENTFILE,
  MEDIA_TYPE_LOCK,
  MEDIA_TYPE_POLICY_CEDAR,
} from "../oci/mediaTypes.js";
import type { Descriptor } from "../oci/types.js";
import type { RegistryClient } from "../registry/client.js";
import { isValidDigest } from "../registry/digest.js";
import type { BlobResult, ProgressCallback } from "../registry/pushImage.js";
import { DEFAULT_PUSH_CONCURRENCY } from "../registry/pushImage.js";
import type { Reference } from "../registry/reference.js";
import { mapLimit } from "../util/mapLimit.js";
import { checkPulledFileIndex } from "./fileIndex.js";
import { IMAGE_MANIFEST_TYPES } from "./push.js";

/** Layers a pulled manifest may list (far above any real package; a hostile manifest cannot make us loop long). */
const MAX_LAYERS = 10_000;
/** Package configs are read whole; larger ones are refused. */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** Layer types `pull -o` writes as single files at their title path. */
const FILE_LAYER_TYPES: readonly string[] = [MEDIA_TYPE_AGENTFILE, MEDIA_TYPE_LOCK, MEDIA_TYPE_POLICY_CEDAR];

export interface PulledManifest {
  /** The manifest's descriptor as stored in the layout. */
  descriptor: Descriptor;
  bytes: Buffer;
  json: {
    config: Descriptor;
    layers: Descriptor[];
    artifactType?: string;
    annotations?: Record<string, string>;
  };
}

export interface PullImageResult extends PulledManifest {
  blobs: BlobResult[];
}

/** Parses and checks a manifest from a registry: an image manifest with well-formed sha256 descriptors. */
export function parseImageManifest(bytes: Buffer, mediaType: string, what: string): PulledManifest["json"] {
  if (!IMAGE_MANIFEST_TYPES.includes(mediaType)) {
    throw new AgentrcError(
      "REGISTRY_MANIFEST_UNSUPPORTED",
      `${what} is a ${mediaType || "manifest without a media type"}; agentrc pulls single image manifests`,
    );
  }
  const json = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
  const bad = (detail: string) => new AgentrcError("REGISTRY_MANIFEST_INVALID", `${what}: ${detail}`);
  if (json.schemaVersion !== 2) throw bad("schemaVersion is not 2");
  const check = (d: unknown, where: string): Descriptor => {
    const x = d as Partial<Descriptor> | null;
    if (!x || typeof x !== "object" || typeof x.mediaType !== "string")
      throw bad(`${where} is not a descriptor`);
    if (typeof x.digest !== "string" || !isValidDigest(x.digest) || !x.digest.startsWith("sha256:")) {
      throw bad(`${where} has digest ${JSON.stringify(x.digest)}; expected sha256:<64 hex>`);
    }
    if (typeof x.size !== "number" || !Number.isSafeInteger(x.size) || x.size < 0) {
      throw bad(`${where} has size ${JSON.stringify(x.size)}`);
    }
    return x as Descriptor;
  };
  const config = check(json.config, "config");
  if (!Array.isArray(json.layers)) throw bad("layers is not an array");
  if (json.layers.length > MAX_LAYERS) throw bad(`more than ${MAX_LAYERS} layers`);
  const layers = json.layers.map((l, i) => check(l, `layer ${i}`));
  const out: PulledManifest["json"] = { config, layers };
  if (typeof json.artifactType === "string") out.artifactType = json.artifactType;
  if (json.annotations && typeof json.annotations === "object") {
    out.annotations = json.annotations as Record<string, string>;
  }
  return out;
}

export function isAgentManifest(json: PulledManifest["json"]): boolean {
  return json.config.mediaType === MEDIA_TYPE_AGENT_CONFIG || json.artifactType === ARTIFACT_TYPE_AGENT;
}

/**
 * Pulls an image manifest and its blobs into a layout: the manifest is capped and checked against
 * `Docker-Content-Digest` (and the requested digest) by the client; every blob is verified twice against its
 * descriptor's digest and size (while streaming from the registry, and by the layout before it is renamed into
 * place). Blobs the layout already holds are not downloaded. An agent package's file index is checked against its layers (`checkPulledFileIndex`). The manifest is written
 * last, then tagged `tag`.
 */
export async function pullImage(
  client: RegistryClient,
  ref: Reference,
  layout: OciLayout,
  tag: string,
  options: { concurrency?: number; onProgress?: ProgressCallback } = {},
): Promise<PullImageResult> {
  const m = await client.getManifest(ref.repository, ref.target);
  const json = parseImageManifest(m.bytes, m.mediaType, ref.toString());
  const all = [json.config, ...json.layers];
  const seen = new Set<string>();
  const unique = all.filter((d) => !seen.has(d.digest) && seen.add(d.digest));
  const onProgress = options.onProgress;
  // Leased until tagged: `agentrc prune` running meanwhile keeps the blobs no index entry names yet.
  return withLease(layout, [m.digest, ...unique.map((d) => d.digest)], async () => {
    const results = await mapLimit(unique, options.concurrency ?? DEFAULT_PUSH_CONCURRENCY, async (d) => {
      const title = d === json.config ? "config" : (d.annotations?.[ANNOTATION_TITLE] ?? d.digest);
      const base = { digest: d.digest, size: d.size, title };
      onProgress?.({ ...base, phase: "start", transferred: 0 });
      let status: BlobResult["status"] = "exists";
      if (!(await layout.hasBlob(d.digest)) || (await layout.blobSize(d.digest)) !== d.size) {
        const stream = await client.getBlob(ref.repository, d.digest, d.size);
        let transferred = 0;
        const counter = new Transform({
          transform(chunk: Buffer, _enc, cb: TransformCallback) {
            transferred += chunk.length;
            onProgress?.({ ...base, phase: "progress", transferred });
            cb(null, chunk);
          },
        });
        stream.on("error", (err) => counter.destroy(err));
        counter.on("close", () => {
          if (!stream.destroyed) stream.destroy();
        });
        await layout.putBlob(stream.pipe(counter), { digest: d.digest, size: d.size });
        status = "downloaded";
      }
      onProgress?.({ ...base, phase: "done", transferred: d.size, status });
      return { digest: d.digest, size: d.size, status } satisfies BlobResult;
    });
    const byDigest = new Map(results.map((r) => [r.digest, r]));
    // An agent package whose file index lies about its layers is refused before anything names it.
    if (isAgentManifest(json)) {
      await checkPulledFileIndex(layout, json, ref.toString(), { prescan: prescanTar });
    }
    const descriptor = await layout.putManifest(m.bytes, { mediaType: m.mediaType });
    await layout.tag(tag, descriptor);
    return { descriptor, bytes: m.bytes, json, blobs: all.map((d) => byDigest.get(d.digest)!) };
  });
}

export interface UnpackOptions {
  /** Entries over all directory layers (default 100,000). */
  maxEntries?: number;
  /** Bytes of file content over all layers (default 4 GiB). */
  maxTotalSize?: number;
}

/**
 * Checks that `dir` can receive a package (missing, or an empty directory), before anything is downloaded.
 * Throws OCI_EXTRACT_TARGET_EXISTS otherwise.
 */
export async function checkUnpackTarget(dir: string): Promise<void> {
  try {
    const st = await lstat(dir);
    if (!st.isDirectory() || (await readdir(dir)).length > 0) {
      throw new AgentrcError("OCI_EXTRACT_TARGET_EXISTS", `${dir} exists and is not an empty directory.`, {
        hint: "Unpack into a new or empty directory.",
      });
    }
  } catch (err) {
    if (isAgentrcError(err) || (err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
  }
}

/**
 * Unpacks an agent package from a layout into `dir` (new or empty): file layers (Agentfile, agentrc.lock, policy)
 * go to their title path, directory layers are extracted with `extractTar` (no links at all: agentrc packages never
 * hold any; `..`, absolute paths, devices, too many entries or bytes refused). Every layer is first written into its
 * own staging directory inside `dir`, then moved into place; two layers may not provide the same file. On any
 * failure everything written is removed (and `dir` too when this call created it): nothing is ever written outside
 * `dir`, and a failed unpack leaves nothing behind.
 */
export async function unpackPackage(
  layout: OciLayout,
  manifest: PulledManifest["json"],
  dir: string,
  options: UnpackOptions = {},
): Promise<{ dir: string; files: number; bytes: number }> {
  if (!isAgentManifest(manifest)) {
    throw new AgentrcError(
      "NOT_AN_AGENT_PACKAGE",
      `cannot unpack a package whose config is ${manifest.config.mediaType}`,
      { hint: "pull -o unpacks agentrc packages; pull without -o stores any image in the local store." },
    );
  }
  const abs = resolve(dir);
  await checkUnpackTarget(abs);
  let created = false;
  try {
    await mkdir(abs);
    created = true;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") {
      await mkdir(abs, { recursive: true });
      created = true;
    } else if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  }
  const root = await realpath(abs);
  let entriesLeft = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  let bytesLeft = options.maxTotalSize ?? DEFAULT_MAX_TOTAL_SIZE;
  let files = 0;
  let bytes = 0;
  try {
    const staging = await mkdtemp(join(root, ".agentrc-pull-"));
    for (const [i, layer] of manifest.layers.entries()) {
      const into = join(staging, String(i));
      const title = layer.annotations?.[ANNOTATION_TITLE];
      if (DIRECTORY_LAYER_MEDIA_TYPES.includes(layer.mediaType)) {
        await prescanTar(await layout.getBlob(layer.digest), entriesLeft, bytesLeft, title ?? layer.digest);
        const content = await layout.getBlob(layer.digest, { verify: true });
        const r = await extractTar(content, into, {
          links: "refuse",
          compression: "gzip",
          maxEntries: entriesLeft,
          maxTotalSize: bytesLeft,
        }).finally(() => content.destroy());
        entriesLeft -= r.entries;
        bytesLeft -= r.bytes;
        bytes += r.bytes;
      } else if (FILE_LAYER_TYPES.includes(layer.mediaType)) {
        const name = title === undefined ? undefined : safeName(title);
        if (name === undefined) {
          throw new AgentrcError(
            "OCI_EXTRACT_PATH_UNSAFE",
            `layer ${i} (${layer.mediaType}) has no usable ${ANNOTATION_TITLE} (${JSON.stringify(title)})`,
          );
        }
        if (layer.size > bytesLeft) {
          throw new AgentrcError("OCI_EXTRACT_TOO_LARGE", `The package holds more than the byte limit.`);
        }
        const target = join(into, ...name.split("/"));
        await mkdir(join(into, ...posix.dirname(name).split("/")), { recursive: true, mode: 0o755 });
        const content = await layout.getBlob(layer.digest, { verify: true });
        const handle = await open(target, "wx", 0o600).catch((err: unknown) => {
          content.destroy();
          throw err;
        });
        await pipeline(content, handle.createWriteStream());
        await chmod(target, 0o644);
        bytesLeft -= layer.size;
        bytes += layer.size;
        entriesLeft -= 1;
      } else {
        throw new AgentrcError(
          "PULL_LAYER_UNSUPPORTED",
          `layer ${i} (${title ?? layer.digest}) has media type ${layer.mediaType}, which pull -o does not unpack`,
        );
      }
      files += await mergeInto(into, root, "");
      await rm(into, { recursive: true, force: true });
    }
    await rm(staging, { recursive: true, force: true });
  } catch (err) {
    if (created) await rm(root, { recursive: true, force: true });
    else {
      for (const name of await readdir(root).catch(() => [] as string[])) {
        await rm(join(root, name), { recursive: true, force: true });
      }
    }
    throw err;
  }
  return { dir: root, files, bytes };
}

/**
 * Moves the tree `from` into `to` (both inside the unpack target): new names are renamed into place, directories
 * present on both sides are merged, anything else (the same file from two layers, a file over a directory) is
 * refused. Existing entries are inspected with lstat, never followed. Returns the number of files moved.
 */
async function mergeInto(from: string, to: string, rel: string): Promise<number> {
  let files = 0;
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
    const existing = await lstat(dst).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    if (entry.isDirectory()) {
      if (existing?.isDirectory()) {
        files += await mergeInto(src, dst, path);
        continue;
      }
      if (existing === undefined) {
        files += await countFiles(src);
        await rename(src, dst);
        continue;
      }
    } else if (entry.isFile() && existing === undefined) {
      await rename(src, dst);
      files++;
      continue;
    }
    throw new AgentrcError(
      "OCI_EXTRACT_DUPLICATE_PATH",
      `${JSON.stringify(path)} is provided by more than one layer of the package.`,
    );
  }
  return files;
}

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) n += await countFiles(join(dir, entry.name));
    else n++;
  }
  return n;
}

/**
 * Counts a layer's tar entries, declared file bytes and the bytes that belong to no file (`tarOverheadLimit`) without
 * writing anything, so that absurd entry counts and gzip bombs are refused before the first file is created
 * (extractTar checks the same limits again while writing). Malformed input is left to extractTar, which reports it
 * precisely.
 */
async function prescanTar(
  source: Readable,
  maxEntries: number,
  maxBytes: number,
  what: string,
): Promise<void> {
  const gunzip = createGunzip();
  source.on("error", (err) => gunzip.destroy(err));
  source.pipe(gunzip);
  let pending: Buffer = Buffer.alloc(0);
  let skip = 0; // bytes of entry data still to skip
  let entries = 0;
  let bytes = 0;
  let overhead = 0; // bytes that belong to no file: metadata records, data of other entries, zero blocks
  const checkOverhead = () => {
    if (overhead > tarOverheadLimit(entries)) throw tarOverheadError(tarOverheadLimit(entries));
  };
  try {
    for await (const chunk of gunzip) {
      pending = pending.length === 0 ? (chunk as Buffer) : Buffer.concat([pending, chunk as Buffer]);
      let at = 0;
      while (true) {
        if (skip > 0) {
          const n = Math.min(skip, pending.length - at);
          skip -= n;
          at += n;
          if (skip > 0) break;
        }
        if (pending.length - at < 512) break;
        const header = pending.subarray(at, at + 512);
        at += 512;
        // zero blocks: the end-of-archive marker, which tar-stream (like `tar -i`) reads past
        if (header.every((b) => b === 0)) {
          overhead += 512;
          checkOverhead();
          continue;
        }
        const size = octal(header.subarray(124, 136));
        if (size === undefined) return;
        const type = String.fromCharCode(header[156]!);
        skip = Math.ceil(size / 512) * 512;
        const isFile = type === "0" || type === "\0" || type === "7";
        if (!isFile) overhead += skip;
        if ("xgLK".includes(type)) {
          // metadata records of the next entry
          overhead += 512;
          checkOverhead();
          continue;
        }
        entries++;
        checkOverhead();
        if (isFile) bytes += size;
        if (entries > maxEntries) {
          throw new AgentrcError(
            "OCI_EXTRACT_TOO_MANY_ENTRIES",
            `The tarball has more than ${maxEntries} entries (layer ${what}).`,
          );
        }
        if (bytes > maxBytes) {
          throw new AgentrcError(
            "OCI_EXTRACT_TOO_LARGE",
            `The tarball holds more than ${maxBytes} bytes (layer ${what}).`,
          );
        }
      }
      pending = pending.subarray(at);
    }
  } catch (err) {
    if (isAgentrcError(err)) throw err;
    // corrupt input: extractTar reports it
  } finally {
    gunzip.destroy();
    source.destroy();
  }
}

/** A tar numeric field (octal, or GNU base-256 for large sizes); undefined when unparseable. */
function octal(field: Buffer): number | undefined {
  if ((field[0]! & 0x80) !== 0) {
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const text = field.toString("ascii").replace(/\0.*$/s, "").trim();
  if (text === "") return 0;
  return /^[0-7]+$/.test(text) ? Number.parseInt(text, 8) : undefined;
}
