import { chmod, lstat, mkdir, mkdtemp, open, readdir, realpath, rm } from "node:fs/promises";
import { join, posix, resolve } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { createGunzip } from "node:zlib";
import { AgentrcError, isAgentrcError } from "../diagnostics/AgentrcError.js";
import { diagnostic } from "../diagnostics/create.js";
import type { Diagnostic } from "../diagnostics/types.js";
import {
  DEFAULT_MAX_ENTRIES,
  DEFAULT_MAX_TOTAL_SIZE,
  extractTar,
  safeName,
  tarOverheadError,
  tarOverheadLimit,
} from "../oci/extract.js";
import type { OciLayout } from "../oci/layout.js";
import type { ParsedImageManifest } from "../oci/manifest.js";
import {
  ANNOTATION_TITLE,
  ARTIFACT_TYPE_AGENT,
  DIRECTORY_LAYER_MEDIA_TYPES,
  MEDIA_TYPE_AGENT_CONFIG,
  MEDIA_TYPE_AGENTFILE,
  MEDIA_TYPE_LOCK,
  MEDIA_TYPE_POLICY_CEDAR,
} from "../oci/mediaTypes.js";
import { mergeTree } from "../oci/mergeTree.js";
import type { Descriptor } from "../oci/types.js";
import type { RegistryClient } from "../registry/client.js";
import type { Reference } from "../registry/reference.js";
import { type CopyOptions, copy } from "../transfer/copy.js";
import { LayoutTarget } from "../transfer/layoutTarget.js";
import { RegistryTarget } from "../transfer/registryTarget.js";
import type { BlobResult } from "../transfer/types.js";
import { checkPulledFileIndex } from "./fileIndex.js";

/** Package configs are read whole; larger ones are refused. */
export const MAX_CONFIG_BYTES = 16 * 1024 * 1024;

/** Layer types `pull -o` writes as single files at their title path. */
const FILE_LAYER_TYPES: readonly string[] = [MEDIA_TYPE_AGENTFILE, MEDIA_TYPE_LOCK, MEDIA_TYPE_POLICY_CEDAR];

export interface PulledManifest {
  /** The manifest's descriptor as stored in the layout. */
  descriptor: Descriptor;
  bytes: Buffer;
  json: ParsedImageManifest;
}

export interface PullImageResult extends PulledManifest {
  blobs: BlobResult[];
}

export function isAgentManifest(json: ParsedImageManifest): boolean {
  return json.config.mediaType === MEDIA_TYPE_AGENT_CONFIG || json.artifactType === ARTIFACT_TYPE_AGENT;
}

/**
 * Pulls an image manifest and its blobs into a layout (`copy` from the registry repository to the layout): the
 * manifest is capped and checked against `Docker-Content-Digest` (and the requested digest); every blob is verified
 * against its descriptor's digest and size while streaming, and by the layout before it is renamed into place.
 * Blobs the layout already holds are not downloaded. An agent package's file index is checked against its layers
 * (`checkPulledFileIndex`) before the manifest is written, then tagged `tag`.
 */
export async function pullImage(
  client: RegistryClient,
  ref: Reference,
  layout: OciLayout,
  tag: string,
  options: Pick<CopyOptions, "concurrency" | "onProgress"> = {},
): Promise<PullImageResult> {
  const copied = await copy(
    new RegistryTarget(client, ref.repository),
    ref.target,
    new LayoutTarget(layout),
    {
      ...options,
      tags: [tag],
      referrers: true,
      // An agent package whose file index lies about its layers is refused before anything names it.
      beforeManifest: async (json) => {
        if (isAgentManifest(json))
          await checkPulledFileIndex(layout, json, ref.toString(), { prescan: prescanTar });
      },
    },
  );
  return { descriptor: copied.descriptor, bytes: copied.bytes, json: copied.manifest, blobs: copied.blobs };
}

export interface UnpackOptions {
  /** Entries over all directory layers (default 100,000). */
  maxEntries?: number;
  /** Bytes of file content over all layers (default 4 GiB). */
  maxTotalSize?: number;
}

export interface UnpackResult {
  dir: string;
  files: number;
  bytes: number;
  /** Layers left out (PULL_LAYER_SKIPPED): other media types without a title. */
  warnings: Diagnostic[];
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
 * go to their title path, and so do layers of other media types (a plugin's) that have a title; other layers are
 * skipped with a PULL_LAYER_SKIPPED warning. Directory layers are extracted with `extractTar` (no links at all: agentrc packages never
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
): Promise<UnpackResult> {
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
  const warnings: Diagnostic[] = [];
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
        await checkBelowTitle(into, i, title);
      } else if (FILE_LAYER_TYPES.includes(layer.mediaType) || title !== undefined) {
        // Known file layers, and layers of other types (a plugin's) that carry a title: one file at that path.
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
        warnings.push(
          diagnostic(
            "PULL_LAYER_SKIPPED",
            `layer ${i} (${layer.digest}) has media type ${layer.mediaType} and no ${ANNOTATION_TITLE}; it was not unpacked`,
          ),
        );
        continue;
      }
      files += await mergeTree(into, root);
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
  return { dir: root, files, bytes, warnings };
}

/**
 * Refuses a directory layer with anything outside its title (`OCI_TAR_PATH_OUTSIDE_ROOT`), as `oras pull` does, so
 * that both unpack a package into the same tree. Directories above the title are tolerated (agentrc.package/v1 skill
 * layers hold `skills/` above `skills/<name>`): they add nothing to the tree.
 */
async function checkBelowTitle(into: string, index: number, title: string | undefined): Promise<void> {
  const name = title === undefined ? undefined : safeName(title);
  const what = `layer ${index} (${title ?? "untitled"})`;
  if (name === undefined) {
    throw new AgentrcError(
      "OCI_TAR_PATH_OUTSIDE_ROOT",
      `${what}: a directory layer needs a usable ${ANNOTATION_TITLE} (${JSON.stringify(title)}) to unpack into`,
    );
  }
  const parts = name.split("/");
  let dir = into;
  for (const [depth, part] of parts.entries()) {
    const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return [];
      throw err;
    });
    const stray = entries.find((e) => e.name !== part || !e.isDirectory());
    if (stray) {
      const path = [...parts.slice(0, depth), stray.name].join("/") + (stray.isDirectory() ? "/" : "");
      throw new AgentrcError(
        "OCI_TAR_PATH_OUTSIDE_ROOT",
        `${what}: ${JSON.stringify(path)} is not below the layer's title ${JSON.stringify(name)} (oras pull refuses it too)`,
      );
    }
    dir = join(dir, part);
  }
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
