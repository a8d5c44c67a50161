import { createHash, type Hash } from "node:crypto";
import type { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import tarStream from "tar-stream";
import type { PackageConfig, PackageFileIndexEntry } from "../compiler/payloads.js";
import { AgentrcError, isAgentrcError } from "../diagnostics/AgentrcError.js";
import type { Diagnostic } from "../diagnostics/types.js";
import {
  DEFAULT_MAX_ENTRIES,
  DEFAULT_MAX_TOTAL_SIZE,
  entryKind,
  linkRefused,
  safeName,
  tarOverheadError,
  tarOverheadLimit,
} from "../oci/extract.js";
import {
  ANNOTATION_TITLE,
  DIRECTORY_LAYER_MEDIA_TYPES,
  MEDIA_TYPE_AGENTFILE,
  MEDIA_TYPE_LOCK,
  MEDIA_TYPE_POLICY_CEDAR,
} from "../oci/mediaTypes.js";
import { tarHeaderGuard } from "../oci/tarGuard.js";
import type { Descriptor } from "../oci/types.js";
import { writeOrWait } from "../util/writeOrWait.js";
import { parseConfig } from "./read.js";

/** One entry of a layer as read back: a file (with its content digest) or anything else a tar can hold. */
export interface ScannedEntry {
  path: string;
  /** `file`, `directory`, or the tar type of anything else (`symlink`, `link`, `character-device`, …). */
  type: string;
  /** Files only. */
  sha256?: string;
  size: number;
  mode: number;
  /** Why `pull -o` would refuse this entry (an unsafe path, a link, a device), when it would. */
  unsafe?: { code: string; message: string };
}

/** What reading one layer's bytes found: its digests and sizes, compressed and not, and its entries. */
export interface LayerScan {
  digest: string;
  size: number;
  uncompressedDigest: string;
  uncompressedSize: number;
  entries: ScannedEntry[];
  /** A file layer's bytes, when they are at most `FILE_LAYER_KEPT_BYTES` (the lockfile, read by verify's lock check). */
  content?: Buffer;
}

/** File layers (Agentfile, lockfile, policy) up to this size keep their bytes in the scan, so nothing reads them twice. */
export const FILE_LAYER_KEPT_BYTES = 4 * 1024 * 1024;

export interface ScanLimits {
  /**
   * Throw on the first entry `pull -o` would refuse (OCI_EXTRACT_PATH_UNSAFE, OCI_EXTRACT_LINK_ESCAPE,
   * OCI_EXTRACT_SPECIAL_FILE), as pull does; without it such entries are returned with `unsafe` set (verify).
   */
  strict?: boolean;
  /** Tar entries over all layers scanned with this budget (default 100,000). */
  maxEntries?: number;
  /** Bytes of file content over all layers (default 4 GiB). */
  maxTotalSize?: number;
}

const hex = (h: Hash) => `sha256:${h.digest("hex")}`;

/**
 * Reads one layer's bytes once: the digest and size as stored, and for a directory layer (tar+gzip) the
 * uncompressed digest and size and every entry with its content digest. A file layer (Agentfile, lockfile, policy)
 * is one file at its title. Entry and byte limits bound what a hostile layer can make us read
 * (OCI_EXTRACT_TOO_MANY_ENTRIES, OCI_EXTRACT_TOO_LARGE); a layer that is not gzip or not a tar is
 * PACKAGE_LAYER_UNREADABLE.
 */
export async function scanLayer(
  stream: Readable,
  layer: Descriptor,
  limits: ScanLimits = {},
): Promise<LayerScan> {
  const title = layer.annotations?.[ANNOTATION_TITLE] ?? layer.digest;
  const compressed = createHash("sha256");
  let size = 0;
  if (!DIRECTORY_LAYER_MEDIA_TYPES.includes(layer.mediaType)) {
    let kept: Buffer[] | undefined = [];
    for await (const chunk of stream) {
      compressed.update(chunk as Buffer);
      size += (chunk as Buffer).length;
      if (size > FILE_LAYER_KEPT_BYTES) kept = undefined;
      kept?.push(chunk as Buffer);
    }
    const digest = hex(compressed);
    let unsafe: ScannedEntry["unsafe"];
    try {
      if (safeName(title) === undefined)
        throw new AgentrcError(
          "OCI_EXTRACT_PATH_UNSAFE",
          `layer title ${JSON.stringify(title)} names no file`,
        );
    } catch (err) {
      if (!isAgentrcError(err) || limits.strict === true) throw err;
      unsafe = { code: err.code, message: err.message };
    }
    return {
      digest,
      size,
      uncompressedDigest: digest,
      uncompressedSize: size,
      entries: [
        { path: title, type: "file", sha256: digest, size, mode: 0o644, ...(unsafe ? { unsafe } : {}) },
      ],
      ...(kept === undefined ? {} : { content: Buffer.concat(kept) }),
    };
  }
  const maxEntries = limits.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const maxTotalSize = limits.maxTotalSize ?? DEFAULT_MAX_TOTAL_SIZE;
  const uncompressed = createHash("sha256");
  let uncompressedSize = 0;
  const gunzip = createGunzip();
  const extract = tarStream.extract();
  let parseError: unknown;
  extract.on("error", (err) => {
    parseError ??= err;
  });
  let entryCount = 0;
  let accounted = 0;
  let declared = 0;
  const guard = tarHeaderGuard(maxEntries, maxTotalSize, title);
  const feed = (async () => {
    const unreadable = (err: unknown) =>
      isAgentrcError(err)
        ? err
        : new AgentrcError(
            "PACKAGE_LAYER_UNREADABLE",
            `layer ${title} is not gzip: ${(err as Error).message}`,
          );
    const reading = (async () => {
      for await (const chunk of stream) {
        compressed.update(chunk as Buffer);
        size += (chunk as Buffer).length;
        await writeOrWait(gunzip, chunk as Buffer);
      }
      gunzip.end();
    })();
    reading.catch((err: unknown) => gunzip.destroy(err as Error));
    try {
      for await (const chunk of gunzip) {
        uncompressed.update(chunk as Buffer);
        uncompressedSize += (chunk as Buffer).length;
        guard(chunk as Buffer);
        if (uncompressedSize - accounted > tarOverheadLimit(entryCount)) {
          throw tarOverheadError(tarOverheadLimit(entryCount));
        }
        await writeOrWait(extract, chunk as Buffer);
        if (extract.destroyed) return;
      }
      await reading;
    } catch (err) {
      throw unreadable(err);
    }
    extract.end(undefined);
  })();
  let feedError: unknown;
  feed.catch((err: unknown) => {
    feedError = err;
    extract.destroy(err instanceof Error ? err : new Error(String(err)));
  });
  const entries: ScannedEntry[] = [];
  try {
    for await (const entry of extract) {
      const h = entry.header;
      entryCount++;
      accounted += 512;
      if (entryCount > maxEntries) {
        throw new AgentrcError(
          "OCI_EXTRACT_TOO_MANY_ENTRIES",
          `layer ${title} has more than ${maxEntries} entries.`,
        );
      }
      let path = h.name.replace(/\/+$/, "");
      const type = h.type ?? "file";
      let unsafe: ScannedEntry["unsafe"];
      try {
        const name = safeName(h.name);
        if (name === undefined) {
          // The root itself (`./`): nothing to list.
          for await (const _ of entry) {
            // its data, if any, counts as overhead
          }
          entryCount--;
          continue;
        }
        path = name;
        if (type === "symlink" || type === "link")
          throw linkRefused(name, type === "link" ? "hardlink" : "symlink");
        entryKind(type, name);
      } catch (err) {
        if (!isAgentrcError(err) || limits.strict === true) throw err;
        unsafe = { code: err.code, message: err.message };
      }
      if (type === "file" || type === "contiguous-file") {
        declared += h.size ?? 0;
        if (declared > maxTotalSize) {
          throw new AgentrcError(
            "OCI_EXTRACT_TOO_LARGE",
            `layer ${title} holds more than ${maxTotalSize} bytes.`,
          );
        }
        const hash = createHash("sha256");
        let n = 0;
        for await (const chunk of entry) {
          hash.update(chunk as Buffer);
          n += (chunk as Buffer).length;
        }
        accounted += Math.ceil(n / 512) * 512;
        entries.push({
          path,
          type: "file",
          sha256: hex(hash),
          size: n,
          mode: (h.mode ?? 0) & 0o7777,
          ...(unsafe ? { unsafe } : {}),
        });
      } else {
        for await (const _ of entry) {
          // a link or device has no content to hash
        }
        entries.push({
          path,
          type,
          size: h.size ?? 0,
          mode: (h.mode ?? 0) & 0o7777,
          ...(unsafe ? { unsafe } : {}),
        });
      }
    }
    await feed;
  } catch (err) {
    const cause = feedError ?? err;
    if (isAgentrcError(cause)) throw cause;
    throw new AgentrcError(
      "PACKAGE_LAYER_UNREADABLE",
      `layer ${title} is not a readable tar: ${((parseError ?? cause) as Error).message}`,
    );
  } finally {
    stream.destroy();
  }
  if (feedError !== undefined) throw feedError;
  return { digest: hex(compressed), size, uncompressedDigest: hex(uncompressed), uncompressedSize, entries };
}

/** A disagreement between the file index of the package config and the layers' contents. */
export interface FileIndexProblem {
  /** PACKAGE_FILE_MISMATCH, PACKAGE_FILE_MISSING, PACKAGE_FILE_UNLISTED, or the OCI_EXTRACT_* code of an entry pull would refuse. */
  code: string;
  /** The path inside the package. */
  path: string;
  /** The layer (title) the file was found in, or that the index names. */
  layer: string;
  message: string;
}

/**
 * Compares the file index with what the layers hold: every file of every layer must be listed with its layer,
 * sha256, size and mode; every listed file must be in a layer; directories are the only other entries allowed (and
 * need no listing).
 */
export function compareFileIndex(
  files: readonly PackageFileIndexEntry[],
  layers: ReadonlyArray<{ title: string; entries: readonly ScannedEntry[] }>,
): FileIndexProblem[] {
  const problems: FileIndexProblem[] = [];
  const index = new Map(files.map((f) => [f.path, f]));
  const found = new Set<string>();
  for (const layer of layers) {
    for (const e of layer.entries) {
      if (e.unsafe !== undefined) {
        problems.push({
          code: e.unsafe.code,
          path: e.path,
          layer: layer.title,
          message: `layer ${layer.title}: ${e.unsafe.message}`,
        });
        found.add(e.path);
        continue;
      }
      if (e.type === "directory") continue;
      const listed = index.get(e.path);
      if (e.type !== "file") {
        problems.push({
          code: "PACKAGE_FILE_UNLISTED",
          path: e.path,
          layer: layer.title,
          message: `layer ${layer.title} holds a ${e.type} ${e.path}, which the file index cannot list (packages hold only files and directories)`,
        });
        continue;
      }
      if (listed === undefined || found.has(e.path)) {
        problems.push({
          code: "PACKAGE_FILE_UNLISTED",
          path: e.path,
          layer: layer.title,
          message:
            listed === undefined
              ? `layer ${layer.title} holds ${e.path} (${e.size} bytes, ${e.sha256}), which the file index does not list`
              : `layer ${layer.title} holds ${e.path} a second time; the file index lists it once`,
        });
        continue;
      }
      found.add(e.path);
      const diffs: string[] = [];
      if (listed.layer !== layer.title) diffs.push(`layer is ${layer.title}, index says ${listed.layer}`);
      if (listed.sha256 !== e.sha256) diffs.push(`sha256 is ${e.sha256}, index says ${listed.sha256}`);
      if (listed.size !== e.size) diffs.push(`size is ${e.size}, index says ${listed.size}`);
      if (listed.mode !== e.mode) {
        diffs.push(
          `mode is ${e.mode.toString(8).padStart(4, "0")}, index says ${listed.mode.toString(8).padStart(4, "0")}`,
        );
      }
      if (diffs.length > 0) {
        problems.push({
          code: "PACKAGE_FILE_MISMATCH",
          path: e.path,
          layer: layer.title,
          message: `${e.path} in layer ${layer.title}: ${diffs.join("; ")}`,
        });
      }
    }
  }
  for (const f of files) {
    if (!found.has(f.path) && !problems.some((p) => p.path === f.path)) {
      problems.push({
        code: "PACKAGE_FILE_MISSING",
        path: f.path,
        layer: f.layer,
        message: `the file index lists ${f.path} (layer ${f.layer}), which no layer holds`,
      });
    }
  }
  return problems;
}

/** Whether `pull`'s file-index check reads a layer of this media type (other types are a plugin's, not indexed). */
export function isIndexedLayer(layer: Descriptor): boolean {
  return (
    DIRECTORY_LAYER_MEDIA_TYPES.includes(layer.mediaType) ||
    AGENTRC_FILE_LAYER_TYPES.includes(layer.mediaType)
  );
}

/**
 * The file-index check of `pull`: given the config's bytes and the scan of every indexed layer (`isIndexedLayer`,
 * read with `scanLayer` and `strict`, each with the whole budget: the budget over all layers is checked here, in
 * layer order), refuses the package when its file index lies about the layers' contents. Throws the first
 * problem's code with every problem as a diagnostic. The caller reads each blob once (pull reads the download
 * stream itself, src/package/pullLayers.ts), so nothing here reads a blob.
 */
export function checkPulledFileIndex(
  configBytes: Buffer,
  manifest: { config: Descriptor; layers: Descriptor[] },
  scans: ReadonlyArray<LayerScan | undefined>,
  what: string,
  limits: ScanLimits = {},
): void {
  const config: PackageConfig = parseConfig(configBytes.toString("utf8"), what);
  const budget = {
    maxEntries: limits.maxEntries ?? DEFAULT_MAX_ENTRIES,
    maxTotalSize: limits.maxTotalSize ?? DEFAULT_MAX_TOTAL_SIZE,
  };
  const layers: Array<{ title: string; entries: ScannedEntry[] }> = [];
  const seen = new Set<string>();
  // Layers of other media types (an organisation plugin's) are outside the file index's contract: pull -o writes
  // them at their title or skips them, and their index entries are not compared.
  const pluginLayers = new Set<string>();
  for (const [i, layer] of manifest.layers.entries()) {
    const title = layer.annotations?.[ANNOTATION_TITLE] ?? layer.digest;
    const directory = DIRECTORY_LAYER_MEDIA_TYPES.includes(layer.mediaType);
    if (!isIndexedLayer(layer)) {
      pluginLayers.add(title);
      continue;
    }
    const scan = scans[i];
    if (scan === undefined) throw new AgentrcError("INTERNAL", `layer ${i} of ${what} was not read`);
    if (scan.entries.length > budget.maxEntries) {
      throw new AgentrcError(
        "OCI_EXTRACT_TOO_MANY_ENTRIES",
        `layer ${title} has more than ${budget.maxEntries} entries.`,
      );
    }
    const bytes = scan.entries.reduce((n, e) => n + (e.type === "file" ? e.size : 0), 0);
    if (bytes > budget.maxTotalSize) {
      throw new AgentrcError(
        "OCI_EXTRACT_TOO_LARGE",
        `layer ${title} holds more than ${budget.maxTotalSize} bytes.`,
      );
    }
    if (directory) assertBelowTitle(i, layer.annotations?.[ANNOTATION_TITLE], scan.entries);
    for (const e of scan.entries) {
      if (e.type === "directory") continue;
      if (seen.has(e.path)) {
        throw new AgentrcError(
          "OCI_EXTRACT_DUPLICATE_PATH",
          `${JSON.stringify(e.path)} is provided by more than one layer of the package.`,
        );
      }
      seen.add(e.path);
    }
    budget.maxEntries -= scan.entries.length;
    budget.maxTotalSize -= bytes;
    layers.push({ title, entries: scan.entries });
  }
  // With plugin layers present, an entry naming no agentrc layer is taken to be a plugin layer's (a plugin may have
  // replaced the blob of a planned layer, and its title with it).
  const ownTitles = new Set(layers.map((l) => l.title));
  const problems = compareFileIndex(
    config.files.filter((f) => pluginLayers.size === 0 || ownTitles.has(f.layer)),
    layers,
  );
  if (problems.length === 0) return;
  const diagnostics: Diagnostic[] = problems.map((p) => ({
    code: p.code,
    severity: "error",
    message: p.message,
  }));
  throw new AgentrcError(
    problems[0]!.code,
    `${what}: the package's file index does not match its layers (${problems.length} problem${problems.length === 1 ? "" : "s"}): ${problems[0]!.message}`,
    {
      diagnostics,
      hint: "The package was altered after it was built; nothing was tagged or unpacked. Ask its publisher to rebuild it.",
    },
  );
}

/** The single-file layer types agentrc writes (Agentfile, lockfile, compiled policy). */
const AGENTRC_FILE_LAYER_TYPES: readonly string[] = [
  MEDIA_TYPE_AGENTFILE,
  MEDIA_TYPE_LOCK,
  MEDIA_TYPE_POLICY_CEDAR,
];

/**
 * A directory layer's entries must lie below its title, as `oras pull` and `pull -o` require (docs/package.md);
 * directories above the title are tolerated (agentrc.package/v1 skill layers). Same codes and messages as pull -o.
 */
function assertBelowTitle(index: number, title: string | undefined, entries: readonly ScannedEntry[]): void {
  const what = `layer ${index} (${title ?? "untitled"})`;
  const name = title?.replace(/\/+$/, "");
  if (name === undefined || name === "" || name.startsWith("/") || name.split("/").includes("..")) {
    throw new AgentrcError(
      "OCI_TAR_PATH_OUTSIDE_ROOT",
      `${what}: a directory layer needs a usable ${ANNOTATION_TITLE} (${JSON.stringify(title)}) to unpack into`,
    );
  }
  const root = name.split("/");
  for (const e of entries) {
    const parts = e.path.replace(/\/+$/, "").split("/");
    const depth = root.findIndex((part, d) => parts[d] !== part);
    if (depth === -1) continue;
    if (depth >= parts.length && e.type === "directory") continue;
    if (depth >= parts.length) {
      throw new AgentrcError(
        "OCI_TAR_PATH_OUTSIDE_ROOT",
        `${what}: ${JSON.stringify(e.path)} is not below the layer's title ${JSON.stringify(name)} (oras pull refuses it too)`,
      );
    }
    const stray =
      [...root.slice(0, depth), parts[depth]].join("/") +
      (parts.length > depth + 1 || e.type === "directory" ? "/" : "");
    throw new AgentrcError(
      "OCI_TAR_PATH_OUTSIDE_ROOT",
      `${what}: ${JSON.stringify(stray)} is not below the layer's title ${JSON.stringify(name)} (oras pull refuses it too)`,
    );
  }
}
