import { lstat, mkdir, mkdtemp, readdir, realpath, rm } from "node:fs/promises";
import { join, resolve } from "node:path";
import { AgentrcError, isAgentrcError } from "../diagnostics/AgentrcError.js";
import type { Diagnostic } from "../diagnostics/types.js";
import { DEFAULT_MAX_ENTRIES, DEFAULT_MAX_TOTAL_SIZE, safeName } from "../oci/extract.js";
import type { OciLayout } from "../oci/layout.js";
import type { ParsedImageManifest } from "../oci/manifest.js";
import { ANNOTATION_TITLE, ARTIFACT_TYPE_AGENT, MEDIA_TYPE_AGENT_CONFIG } from "../oci/mediaTypes.js";
import { mergeTree } from "../oci/mergeTree.js";
import type { Descriptor } from "../oci/types.js";
import type { RegistryClient } from "../registry/client.js";
import type { Reference } from "../registry/reference.js";
import { type CopyOptions, type CopyResult, copy } from "../transfer/copy.js";
import { LayoutTarget } from "../transfer/layoutTarget.js";
import { RegistryTarget } from "../transfer/registryTarget.js";
import type { BlobResult } from "../transfer/types.js";
import { checkTrust, type TrustDecision } from "../trust/check.js";
import type { TrustPolicy } from "../trust/policy.js";
import { checkPulledFileIndex } from "./fileIndex.js";
import { PackageBlobReader, type StagedLayer } from "./pullLayers.js";

export { MAX_CONFIG_BYTES } from "./pullLayers.js";

export interface PulledManifest {
  /** The manifest's descriptor as stored in the layout. */
  descriptor: Descriptor;
  bytes: Buffer;
  json: ParsedImageManifest;
}

export interface PullImageResult extends PulledManifest {
  blobs: BlobResult[];
  /** With `unpack`: what was written there. */
  output?: UnpackResult;
  /** Referrers pulled with it (signatures, attestations). */
  referrers: CopyResult["referrers"];
  /** With a trust policy: its decision, taken before any blob was downloaded or anything written. */
  trust?: TrustDecision;
}

export function isAgentManifest(json: ParsedImageManifest): boolean {
  return json.config.mediaType === MEDIA_TYPE_AGENT_CONFIG || json.artifactType === ARTIFACT_TYPE_AGENT;
}

/**
 * Pulls an image manifest and its blobs into a layout (`copy` from the registry repository to the layout): the
 * manifest is capped and checked against `Docker-Content-Digest` (and the requested digest); blobs move in parallel
 * (at most `concurrency`), each verified against its descriptor's digest and size while streaming, and by the
 * layout before it is renamed into place. Blobs the layout already holds are not downloaded.
 *
 * Nothing is read twice: an agent package's file index is checked against its layers (`checkPulledFileIndex`)
 * from the download streams themselves, and with `unpack` (`pull -o`) the same streams are written to staging
 * directories inside the output (`PackageBlobReader`); a blob the layout already had is read from it once. The
 * manifest is written and tagged `tag` only after the check passed; the staged layers are then merged into the
 * output in layer order. On any failure the output is removed again.
 *
 * The unpack rules: file layers (Agentfile, agentrc.lock, policy) go to their title path, and so do layers of other
 * media types (a plugin's) that have a title; other layers are skipped with a PULL_LAYER_SKIPPED warning. Directory
 * layers are extracted with `extractTar` (no links at all: agentrc packages never hold any; `..`, absolute paths,
 * devices, too many entries or bytes refused). Two layers may not provide the same file. Nothing is ever written
 * outside the output, and a failed unpack leaves nothing behind (the output too when this call created it).
 */
export async function pullImage(
  client: RegistryClient,
  ref: Reference,
  layout: OciLayout,
  tag: string,
  options: Pick<CopyOptions, "concurrency" | "onProgress"> & {
    unpack?: UnpackOptions & {
      dir: string;
      /** The error for a manifest that is not an agent package (default: pull -o's NOT_AN_AGENT_PACKAGE). */
      notAnAgent?: (manifest: ParsedImageManifest) => AgentrcError;
    };
    trustPolicy?: TrustPolicy;
  } = {},
): Promise<PullImageResult> {
  const { unpack, trustPolicy, ...transfer } = options;
  const source = new RegistryTarget(client, ref.repository);
  // The trust policy decides on the manifest digest, before the output directory or any blob is written.
  let decision: TrustDecision | undefined;
  if (trustPolicy !== undefined) {
    const head = await source.resolve(ref.target);
    decision = await checkTrust(ref.toString(), head.descriptor.digest, source, trustPolicy);
  }
  const output = unpack === undefined ? undefined : await prepareOutput(unpack.dir);
  let reader: PackageBlobReader | undefined;
  try {
    const copied = await copy(
      decision === undefined ? source : pinnedTo(source, ref.target, decision),
      ref.target,
      new LayoutTarget(layout),
      {
        ...transfer,
        tags: [tag],
        referrers: true,
        check: (json) => {
          if (isAgentManifest(json)) {
            reader = new PackageBlobReader(json, {
              ...limitsOf(unpack),
              ...(output === undefined ? {} : { stageInto: output.staging }),
            });
          } else if (output !== undefined) throw (unpack?.notAnAgent ?? notAnAgent)(json);
        },
        observe: async (descriptor, bytes) => {
          if (reader) await reader.read(descriptor.digest, bytes);
          else bytes.resume();
        },
        // An agent package whose file index lies about its layers is refused before anything names it.
        beforeManifest: async (json) => {
          if (!reader) return;
          await reader.readRest(layout);
          checkPulledFileIndex(
            await reader.configBytes(),
            json,
            await reader.scans(),
            ref.toString(),
            limitsOf(unpack),
          );
        },
      },
    );
    const result: PullImageResult = {
      descriptor: copied.descriptor,
      bytes: copied.bytes,
      json: copied.manifest,
      blobs: copied.blobs,
      referrers: copied.referrers,
      ...(decision === undefined ? {} : { trust: decision }),
    };
    if (output !== undefined && reader !== undefined) {
      result.output = await mergeStaged(output, await reader.staged(), limitsOf(unpack));
    }
    return result;
  } catch (err) {
    if (output !== undefined) await removeOutput(output);
    throw err;
  }
}

/**
 * The registry source with `reference` answered by the manifest the trust policy accepted (its report holds the
 * digest): a tag moved between the check and the copy cannot slip another manifest in.
 */
function pinnedTo(source: RegistryTarget, reference: string, decision: TrustDecision): RegistryTarget {
  const digest = decision.report?.subject;
  if (digest === undefined) return source;
  const pinned = Object.create(source) as RegistryTarget;
  pinned.resolve = (r: string) => source.resolve(r === reference ? digest : r);
  return pinned;
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

const limitsOf = (o: UnpackOptions | undefined): UnpackOptions => ({
  ...(o?.maxEntries === undefined ? {} : { maxEntries: o.maxEntries }),
  ...(o?.maxTotalSize === undefined ? {} : { maxTotalSize: o.maxTotalSize }),
});

const notAnAgent = (manifest: PulledManifest["json"]) =>
  new AgentrcError(
    "NOT_AN_AGENT_PACKAGE",
    `cannot unpack a package whose config is ${manifest.config.mediaType}`,
    {
      hint: "pull -o unpacks agentrc packages; pull without -o stores any image in the local store.",
    },
  );

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

interface Output {
  root: string;
  /** The topmost directory this pull created (the output or a parent of it), removed again on failure. */
  created: string | undefined;
  staging: string;
}

/** Creates `dir` (or checks it is empty) and a staging directory inside it. */
async function prepareOutput(dir: string): Promise<Output> {
  const abs = resolve(dir);
  await checkUnpackTarget(abs);
  const created = await mkdir(abs, { recursive: true });
  const root = await realpath(abs);
  return { root, created, staging: await mkdtemp(join(root, ".agentrc-pull-")) };
}

/** Removes everything a failed unpack wrote (and the directories it created for it). */
async function removeOutput(output: Output): Promise<void> {
  if (output.created !== undefined) await rm(output.created, { recursive: true, force: true });
  else {
    for (const name of await readdir(output.root).catch(() => [] as string[])) {
      await rm(join(output.root, name), { recursive: true, force: true });
    }
  }
}

/** Moves the staged layers into the output in layer order, with the entry and byte budget over all of them. */
async function mergeStaged(
  output: Output,
  staged: StagedLayer[],
  options: UnpackOptions,
): Promise<UnpackResult> {
  let entriesLeft = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  let bytesLeft = options.maxTotalSize ?? DEFAULT_MAX_TOTAL_SIZE;
  let files = 0;
  let bytes = 0;
  const warnings: Diagnostic[] = [];
  for (const layer of staged) {
    if (layer.warning) warnings.push(layer.warning);
    if (layer.kind === "skipped") continue;
    if (layer.entries > entriesLeft) {
      throw new AgentrcError("OCI_EXTRACT_TOO_MANY_ENTRIES", `The package has more than the entry limit.`);
    }
    if (layer.bytes > bytesLeft) {
      throw new AgentrcError("OCI_EXTRACT_TOO_LARGE", `The package holds more than the byte limit.`);
    }
    entriesLeft -= layer.entries;
    bytesLeft -= layer.bytes;
    bytes += layer.bytes;
    if (layer.kind === "directory") {
      await checkBelowTitle(layer.into, layer.index, layer.title);
    }
    files += await mergeTree(layer.into, output.root);
    await rm(layer.into, { recursive: true, force: true });
  }
  await rm(output.staging, { recursive: true, force: true });
  return { dir: output.root, files, bytes, warnings };
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
