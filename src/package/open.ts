import { mkdtemp, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Readable } from "node:stream";
import type { PackageConfig } from "../compiler/payloads.js";
import { AgentrcError, isAgentrcError } from "../diagnostics/AgentrcError.js";
import { readOciArchive } from "../oci/archive.js";
import { MAX_MANIFEST_SIZE, OciLayout } from "../oci/layout.js";
import { parseImageManifest } from "../oci/manifest.js";
import { ARTIFACT_TYPE_AGENT, MEDIA_TYPE_AGENT_CONFIG, OCI_LAYOUT_FILE } from "../oci/mediaTypes.js";
import { type Env, LocalStore } from "../oci/store.js";
import type { Descriptor, ImageManifest } from "../oci/types.js";
import { RegistryClient, type RegistryClientOptions } from "../registry/client.js";
import { parseReference, type Reference } from "../registry/reference.js";
import { isAgentManifest, MAX_CONFIG_BYTES } from "./pull.js";
import { type PackageView, parseConfig } from "./read.js";

/**
 * Opens any package reference and gives one reader over it, whatever holds the package:
 *
 * | written as | kind | read from |
 * |---|---|---|
 * | `oci:<dir>[:<tag>]`, or a path to a directory with `oci-layout` | `layout` | that OCI image layout |
 * | `oci-archive:<file>[:<tag>]`, or a path to a regular file | `archive` | the tar, extracted to a temporary layout |
 * | a path to a directory with an `Agentfile` | `source` | built in memory (`buildSource`) into a temporary layout |
 * | a reference the local store has (as written, then normalised) | `store` | the local store |
 * | `--remote` (`remote: true`), or a reference the store lacks that names its registry host and whose host no package in the store comes from | `registry` | the registry (manifest and config at open, blobs on demand) |
 *
 * A bare store miss (`team/agent:1`, or a host the store already has packages from) stays local:
 * `OCI_REF_NOT_FOUND` with a hint at `--remote`, so a typo never goes to the network.
 *
 * Opening reads only the manifest and the package config (checked to be an agentrc package); layers are read on
 * demand with `openBlob`/`readBlob`, verified against their descriptor. Call `close()` when done: it removes the
 * temporary layout of an archive or a source tree and closes the registry connection (`withPackage` does both).
 *
 * ```ts
 * const pkg = await openPackage("oci:./out:1.0", { cwd: process.cwd() });
 * try {
 *   const policy = pkg.manifest.layers.find((l) => l.mediaType === MEDIA_TYPE_POLICY_CEDAR);
 *   const text = policy ? (await pkg.readBlob(policy)).toString("utf8") : "";
 * } finally {
 *   await pkg.close();
 * }
 * ```
 */
export type PackageSourceKind = "store" | "layout" | "archive" | "registry" | "source";

/**
 * Builds the agent source tree `dir` into a new OCI layout at `layoutDir`, writing nothing to `dir`; returns the
 * reference it wrote there and whether the tree's agentrc.lock matched its inputs. The parent of `layoutDir` is a
 * temporary directory `close()` removes: the builder keeps its caches there, so nothing outlives the package.
 */
export type SourceBuilder = (
  dir: string,
  layoutDir: string,
) => Promise<{ ref: string; lockfile: "current" | "stale" }>;

export interface OpenPackageOptions extends RegistryClientOptions {
  /** Local store directory (default `$AGENTRC_STORE`, else the XDG data dir of `env`). */
  store?: string;
  /** Read the registry, never the store. */
  remote?: boolean;
  /** Relative paths are resolved against this (default `process.cwd()`). */
  cwd?: string;
  /**
   * Check the manifest and config bytes against their digests while opening (default true). `verify` passes false
   * and checks them itself, so that each failure gets its own code.
   */
  checkDigests?: boolean;
  /** How to build an agent source directory; without it a source directory is refused (`PACKAGE_SOURCE_UNSUPPORTED`). */
  buildSource?: SourceBuilder;
}

export interface OpenedPackage extends PackageView {
  kind: PackageSourceKind;
  /** The manifest's exact bytes. */
  manifestBytes: Buffer;
  /** The package config's exact bytes. */
  configBytes: Buffer;
  /** Run hints recorded beside the package (store and layout index entry `io.agentrc.run.hints`); [] elsewhere. */
  runHints: Array<{ directive: string; values: string[] }>;
  /** The layout holding the blobs (store, layout, extracted archive, built source); undefined for a registry. */
  layout: OciLayout | undefined;
  /** For `kind: "source"`: whether the tree's agentrc.lock matched its inputs (`stale`: missing or out of date). */
  lockfile?: "current" | "stale";
  /** The registry reference, for `kind: "registry"`. */
  reference: Reference | undefined;
  /**
   * A blob's bytes. With `verify` (default) the stream fails at its end unless they hash to `digest` and count
   * `size` (OCI_DIGEST_MISMATCH / OCI_SIZE_MISMATCH; REGISTRY_DIGEST_MISMATCH / REGISTRY_SIZE_MISMATCH from a
   * registry, which always verifies). A missing blob is OCI_BLOB_NOT_FOUND (REGISTRY_BLOB_NOT_FOUND or the like).
   */
  openBlob(
    descriptor: Pick<Descriptor, "digest" | "size">,
    options?: { verify?: boolean },
  ): Promise<Readable>;
  /** A whole blob in memory, verified; refused over `maxSize` bytes (default 16 MiB). */
  readBlob(descriptor: Pick<Descriptor, "digest" | "size">, maxSize?: number): Promise<Buffer>;
  /** Removes temporary layouts and closes registry connections. Safe to call twice. */
  close(): Promise<void>;
}

const RUN_HINTS_ANNOTATION = "io.agentrc.run.hints";

/** Opens `target` (see `PackageSourceKind`), returning a reader the caller must `close()`. */
export async function openPackage(target: string, options: OpenPackageOptions = {}): Promise<OpenedPackage> {
  const cwd = options.cwd ?? process.cwd();
  if (options.remote === true) return openRegistry(target, options);
  if (target.startsWith("oci:") && !target.startsWith("oci://")) {
    const { path, tag } = splitTransport(target.slice("oci:".length));
    return openLayout("layout", await OciLayout.open(resolve(cwd, path)), tag, resolve(cwd, path), options);
  }
  if (target.startsWith("oci-archive:")) {
    const { path, tag } = splitTransport(target.slice("oci-archive:".length));
    return openArchive(resolve(cwd, path), tag, options);
  }
  const local = await pathKind(resolve(cwd, target), target);
  if (local === "layout") {
    const dir = resolve(cwd, target);
    return openLayout("layout", await OciLayout.open(dir), undefined, dir, options);
  }
  if (local === "archive") return openArchive(resolve(cwd, target), undefined, options);
  if (local === "source") return openSource(resolve(cwd, target), options);
  if (local === "directory") {
    throw new AgentrcError(
      "PACKAGE_SOURCE_UNSUPPORTED",
      `${target} is a directory without ${OCI_LAYOUT_FILE} or Agentfile: neither an OCI layout nor an agent source tree`,
      { hint: "Pass an OCI layout, an oci-archive, an agent directory or a package reference." },
    );
  }
  return openStoreOrRegistry(target, options);
}

/** Opens `target`, runs `fn`, and closes the package whatever happens. */
export async function withPackage<T>(
  target: string,
  options: OpenPackageOptions,
  fn: (pkg: OpenedPackage) => Promise<T>,
): Promise<T> {
  const pkg = await openPackage(target, options);
  try {
    return await fn(pkg);
  } finally {
    await pkg.close();
  }
}

/** `<path>[:<tag>]` of skopeo's `oci:` and `oci-archive:` transports (the last colon after the last `/`). */
function splitTransport(rest: string): { path: string; tag: string | undefined } {
  const colon = rest.lastIndexOf(":");
  if (colon > 0 && colon > rest.lastIndexOf("/"))
    return { path: rest.slice(0, colon), tag: rest.slice(colon + 1) };
  return { path: rest, tag: undefined };
}

/**
 * What a target names on disk: explicit paths (`.`, `/`, `~`-free relative `./…`) and anything that exists are
 * looked at; a name that exists nowhere is a reference.
 */
async function pathKind(
  abs: string,
  written: string,
): Promise<"layout" | "archive" | "source" | "directory" | "missing"> {
  const st = await stat(abs).catch(() => undefined);
  if (st === undefined) {
    if (written.startsWith(".") || written.startsWith("/")) {
      throw new AgentrcError("PACKAGE_SOURCE_NOT_FOUND", `${written} does not exist`, {
        hint: "Pass an existing OCI layout, oci-archive or agent directory, or a package reference.",
      });
    }
    return "missing";
  }
  if (st.isFile()) return "archive";
  if (!st.isDirectory()) return "missing";
  if (await exists(join(abs, OCI_LAYOUT_FILE))) return "layout";
  if (await exists(join(abs, "Agentfile"))) return "source";
  return "directory";
}

const exists = (p: string) =>
  stat(p).then(
    () => true,
    () => false,
  );

async function openArchive(
  file: string,
  tag: string | undefined,
  options: OpenPackageOptions,
): Promise<OpenedPackage> {
  if (
    !(await stat(file).then(
      (s) => s.isFile(),
      () => false,
    ))
  ) {
    throw new AgentrcError("PACKAGE_SOURCE_NOT_FOUND", `${file} does not exist or is not a file`, {
      hint: "Pass the path of an oci-archive tar (`agentrc build --output-format oci-archive`, skopeo's oci-archive:).",
    });
  }
  const temp = await mkdtemp(join(tmpdir(), "agentrc-archive-"));
  try {
    const layout = await readOciArchive(file, join(temp, "layout"), { verifyBlobs: false });
    return await openLayout("archive", layout, tag, file, options, temp);
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
}

/** Builds the agent source tree `dir` with `options.buildSource` and opens the result (kind `source`). */
export async function openSourceDirectory(dir: string, options: OpenPackageOptions): Promise<OpenedPackage> {
  if (!(await exists(join(dir, "Agentfile")))) {
    throw new AgentrcError(
      "PACKAGE_SOURCE_NOT_FOUND",
      `${dir} has no Agentfile: it is not an agent source tree`,
      {
        hint: "Pass the directory the package was built from (the one holding its Agentfile and agentrc.lock).",
      },
    );
  }
  return openSource(dir, options);
}

async function openSource(dir: string, options: OpenPackageOptions): Promise<OpenedPackage> {
  if (options.buildSource === undefined) {
    throw new AgentrcError(
      "PACKAGE_SOURCE_UNSUPPORTED",
      `${dir} is an agent source tree; this command needs a package`,
      {
        hint: "Build it first (`agentrc build`) and pass the package reference.",
      },
    );
  }
  const temp = await mkdtemp(join(tmpdir(), "agentrc-source-"));
  try {
    const layoutDir = join(temp, "layout");
    const { ref, lockfile } = await options.buildSource(dir, layoutDir);
    const pkg = await openLayout("source", await OciLayout.open(layoutDir), ref, dir, options, temp);
    return { ...pkg, lockfile };
  } catch (err) {
    await rm(temp, { recursive: true, force: true });
    throw err;
  }
}

async function openStoreOrRegistry(target: string, options: OpenPackageOptions): Promise<OpenedPackage> {
  const store = await LocalStore.open({
    ...(options.store === undefined ? {} : { path: options.store }),
    ...(options.env === undefined ? {} : { env: options.env as Env }),
  });
  const candidates = target.startsWith("oci://") ? [] : [target];
  let explicitHost = false;
  let registry: string | undefined;
  try {
    const parsed = parseReference(target);
    registry = parsed.registry;
    candidates.push(parsed.toString());
    const name = target.replace(/^oci:\/\//, "");
    const first = name.split("/")[0]!;
    explicitHost =
      name.includes("/") && (/[.:]/.test(first) || first === "localhost" || first.startsWith("["));
  } catch {
    // not a registry reference: only the store can have it
  }
  let notFound: unknown;
  for (const candidate of [...new Set(candidates)]) {
    try {
      return await openLayout("store", store.layout, candidate, store.path, options);
    } catch (err) {
      if (!isAgentrcError(err) || err.code !== "OCI_REF_NOT_FOUND") throw err;
      notFound ??= err;
    }
  }
  if (explicitHost && registry !== undefined) {
    const known = (await store.list()).some((e) => registryOf(e.ref) === registry);
    if (!known) return openRegistry(target, options);
    throw new AgentrcError("OCI_REF_NOT_FOUND", (notFound as Error).message, {
      hint: `The local store has other packages from ${registry}; pass --remote to read it from the registry.`,
      cause: notFound,
    });
  }
  throw notFound;
}

function registryOf(ref: string): string | undefined {
  try {
    return parseReference(ref).registry;
  } catch {
    return undefined;
  }
}

async function openLayout(
  kind: PackageSourceKind,
  layout: OciLayout,
  tag: string | undefined,
  source: string,
  options: OpenPackageOptions,
  temp?: string,
): Promise<OpenedPackage> {
  const ref = tag ?? (await onlyTag(layout));
  const at = ref.lastIndexOf("@");
  const descriptor = await layout.resolve(kind === "store" && at >= 0 ? ref.slice(at + 1) : ref);
  const check = options.checkDigests !== false;
  const read = async (d: Pick<Descriptor, "digest" | "size">, max: number, verify = check) =>
    verify ? layout.readBlob(d.digest, max) : collect(await layout.getBlob(d.digest), max, d.digest);
  const manifestBytes = await read(descriptor, MAX_MANIFEST_SIZE);
  const manifest = parseLocalManifest(manifestBytes, ref, descriptor.mediaType);
  const configBytes = await read(manifest.config, MAX_CONFIG_BYTES);
  const config = parseConfig(configBytes.toString("utf8"), ref);
  let closed = false;
  return {
    kind,
    source,
    ref,
    descriptor,
    manifest,
    manifestBytes,
    config,
    configBytes,
    runHints: runHintsOf(descriptor),
    layout,
    reference: undefined,
    async openBlob(d, o = {}) {
      if (o.verify === false) return layout.getBlob(d.digest);
      const size = await layout.blobSize(d.digest);
      if (size !== d.size) {
        throw new AgentrcError(
          "OCI_SIZE_MISMATCH",
          `Blob ${d.digest} has ${size} bytes; expected ${d.size}.`,
        );
      }
      return layout.getBlob(d.digest, { verify: true });
    },
    async readBlob(d, maxSize = MAX_CONFIG_BYTES) {
      const bytes = await read(d, maxSize, true);
      if (bytes.length !== d.size) {
        throw new AgentrcError(
          "OCI_SIZE_MISMATCH",
          `Blob ${d.digest} has ${bytes.length} bytes; expected ${d.size}.`,
        );
      }
      return bytes;
    },
    async close() {
      if (closed) return;
      closed = true;
      if (temp !== undefined) await rm(temp, { recursive: true, force: true });
    },
  };
}

async function openRegistry(target: string, options: OpenPackageOptions): Promise<OpenedPackage> {
  const ref = parseReference(target);
  const { store: _s, remote: _r, cwd: _c, checkDigests: _d, buildSource: _b, ...clientOptions } = options;
  const client = new RegistryClient(ref.registry, clientOptions);
  try {
    const m = await client.getManifest(ref.repository, ref.target);
    const json = parseImageManifest(m.bytes, m.mediaType, ref.toString());
    if (!isAgentManifest(json)) {
      throw new AgentrcError(
        "NOT_AN_AGENT_PACKAGE",
        `${ref} is not an agentrc package (config ${json.config.mediaType})`,
      );
    }
    if (json.config.size > MAX_CONFIG_BYTES) {
      throw new AgentrcError(
        "REGISTRY_MANIFEST_INVALID",
        `${ref}: the package config is ${json.config.size} bytes, over the ${MAX_CONFIG_BYTES}-byte limit`,
      );
    }
    const readBlob = async (d: Pick<Descriptor, "digest" | "size">, max = MAX_CONFIG_BYTES) => {
      if (d.size > max) {
        throw new AgentrcError(
          "OCI_SIZE_MISMATCH",
          `Blob ${d.digest} is ${d.size} bytes, over the ${max}-byte limit.`,
        );
      }
      return collect(await client.getBlob(ref.repository, d.digest, d.size), max, d.digest);
    };
    const configBytes = await readBlob(json.config);
    const config = parseConfig(configBytes.toString("utf8"), ref.toString());
    const descriptor: Descriptor = { mediaType: m.mediaType, digest: m.digest, size: m.size };
    if (json.artifactType !== undefined) descriptor.artifactType = json.artifactType;
    let closed = false;
    return {
      kind: "registry",
      source: client.origin,
      ref: ref.toString(),
      descriptor,
      // The manifest as the registry serves it (checked above), as a local package shows it.
      manifest: JSON.parse(m.bytes.toString("utf8")) as ImageManifest,
      manifestBytes: m.bytes,
      config,
      configBytes,
      runHints: [],
      layout: undefined,
      reference: ref,
      openBlob: (d) => client.getBlob(ref.repository, d.digest, d.size),
      readBlob,
      async close() {
        if (closed) return;
        closed = true;
        await client.close();
      },
    };
  } catch (err) {
    await client.close();
    throw err;
  }
}

async function onlyTag(layout: OciLayout): Promise<string> {
  const tags = (await layout.list()).map((e) => e.ref).filter((r): r is string => r !== undefined);
  if (tags.length === 1) return tags[0]!;
  if (tags.includes("latest")) return "latest";
  throw new AgentrcError(
    "OCI_REF_NOT_FOUND",
    `${layout.root} holds ${tags.length} tags (${tags.join(", ")}); name one`,
    { hint: "Use oci:<dir>:<tag> (or oci-archive:<file>:<tag>)." },
  );
}

function parseLocalManifest(bytes: Buffer, ref: string, mediaType: string): ImageManifest {
  let manifest: ImageManifest;
  try {
    manifest = JSON.parse(bytes.toString("utf8")) as ImageManifest;
  } catch (e) {
    throw new AgentrcError(
      "OCI_MANIFEST_INVALID",
      `the manifest of ${ref} is not JSON: ${(e as Error).message}`,
    );
  }
  // Same shape checks as a pulled manifest (descriptors with sha256 digests and sane sizes).
  parseImageManifest(bytes, mediaType, ref);
  if (
    manifest.config?.mediaType !== MEDIA_TYPE_AGENT_CONFIG &&
    manifest.artifactType !== ARTIFACT_TYPE_AGENT
  ) {
    throw new AgentrcError(
      "NOT_AN_AGENT_PACKAGE",
      `${ref} is not an agentrc package (config ${manifest.config?.mediaType})`,
      { hint: "agentrc reads packages built by agentrc (artifactType application/vnd.agentrc.agent.v1)." },
    );
  }
  return manifest;
}

function runHintsOf(descriptor: Descriptor): OpenedPackage["runHints"] {
  const raw = descriptor.annotations?.[RUN_HINTS_ANNOTATION];
  if (raw === undefined) return [];
  try {
    const hints = JSON.parse(raw) as unknown;
    return Array.isArray(hints)
      ? hints.filter(
          (h): h is { directive: string; values: string[] } =>
            typeof h?.directive === "string" &&
            Array.isArray(h.values) &&
            h.values.every((v: unknown) => typeof v === "string"),
        )
      : [];
  } catch {
    return [];
  }
}

/** A stream read whole, refused past `max` bytes. */
async function collect(stream: Readable, max: number, what: string): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  try {
    for await (const c of stream) {
      n += (c as Buffer).length;
      if (n > max) {
        throw new AgentrcError("OCI_SIZE_MISMATCH", `Blob ${what} is over the ${max}-byte limit.`);
      }
      chunks.push(c as Buffer);
    }
  } finally {
    stream.destroy();
  }
  return Buffer.concat(chunks);
}

export type { PackageConfig };
