import { randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import type { Readable } from "node:stream";
import {
  type AgentrcPlugin,
  type Compilation,
  type Compiler,
  canonicalJson,
  type DirectiveNode,
  deps,
  diagnostic,
  directiveHasErrors,
  hashFile,
  isAgentrcError,
  type Lockfile,
  oci,
  type RegistrySettings,
  type registry,
  STAGE,
  skillName,
  skillTarget,
  transfer,
  walkDirectory,
} from "../../src/core.js";

const NAME = "oci-skills";
const SHA256 = /^sha256:[a-f0-9]{64}$/;
/** Cache entries: `<cacheDir>/oci-skills/<manifest hex>/{entry.json,tree/}`. */
const CACHE_FOLDER = "oci-skills";

interface CacheEntry {
  /** The skill's directory in `tree/`: the skill layer's title, or "" when the image's root is the skill. */
  title: string;
  /**
   * sha256 of every file of `tree/` as extracted from the verified layers: checked on every use, so a modified
   * cache entry is fetched again (or refused offline) instead of being packed.
   */
  files: Record<string, string>;
  /** The digest of the skill layer (the first one, for an image of several layers). */
  layer: string;
  manifest: string;
}

interface Resolved {
  name: string;
  source: string;
  digest: string;
}

/**
 * `SKILL oci://<ref>`: the skill comes from an image in a registry, `<name>` being the repository's last path
 * component (`skillName`, the one naming rule shared with local skills; see `skillSource` for which layers hold it):
 * an agentrc package (layer `skills/<name>`), a directory pushed by oras (its one unpack layer), or a plain image
 * whose root holds SKILL.md (skillimage, `FROM scratch`).
 *
 * In `lock` and `build` mode, during selectFiles: the manifest digest is the lock's pin (`skills[]` entry whose
 * `source` is the reference as written), the digest in the reference, or else the tag resolved now (not with
 * --frozen-lockfile: LOCKFILE_STALE). The layer is fetched by digest (verified), extracted safely (no links) into the
 * cache keyed by the manifest digest, and its files are added to the layer `skill:<name>` as `skills/<name>/…`, so
 * the packer, the secret scan and the lock treat them as local skill files. A cached digest is never fetched again:
 * pinned builds are offline. On the lock hook the skill is recorded as `{name, source: "oci://…", digest}`.
 *
 * The registry is reached with `compilation.options.registry` (`--plain-http`, `--insecure`, `--ca-file`, credentials).
 *
 * In `lint` mode nothing touches the network: a pinned skill already in the cache is added (so lint scans it),
 * anything else is skipped silently.
 */
export class OciSkillsPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      const resolved = new Map<DirectiveNode, Resolved>();
      compilation.hooks.selectFiles.tapPromise(NAME, () =>
        selectOciSkills(compilation, resolved, compilation.options.registry),
      );
      compilation.hooks.lock.tapPromise({ name: NAME, stage: STAGE.LOCK_REMOTE }, async (lock) =>
        recordSkills(compilation, lock, resolved),
      );
    });
  }
}

async function selectOciSkills(
  compilation: Compilation,
  resolved: Map<DirectiveNode, Resolved>,
  client: RegistrySettings,
): Promise<void> {
  const nodes = compilation
    .directives("SKILL")
    .filter(
      (n) => typeof n.args.ref === "string" && n.args.source === "oci" && !directiveHasErrors(compilation, n),
    );
  if (nodes.length === 0) return;
  const localNames = new Set(
    compilation
      .directives("SKILL")
      .filter((n) => n.args.source !== "oci")
      .map((n) => skillName(n)),
  );
  const seen = new Set<string>();
  const work: Array<{ node: DirectiveNode; source: string; ref: registry.Reference; name: string }> = [];
  for (const node of nodes) {
    const source = String(node.args.ref);
    const at = compilation.locate(node, "/ref");
    const fail = (detail: string) =>
      compilation.report(
        diagnostic("SKILL_RESOLVE_FAILED", `SKILL ${source}: ${detail}`, at, { plugin: NAME }),
      );
    const target = skillTarget({ ref: source, source: "oci" });
    if (!target.ok || !("reference" in target)) {
      fail(target.ok ? "not an oci:// reference" : target.detail);
      continue;
    }
    const { name, reference: ref } = target;
    if (ref.digest !== undefined && !SHA256.test(ref.digest)) {
      fail(`only sha256 digests can be pinned (got ${ref.digest})`);
      continue;
    }
    if (localNames.has(name) || seen.has(name)) {
      compilation.report(
        diagnostic("INVALID_ARGUMENTS", `SKILL ${source}: the skill name "${name}" is already used`, at, {
          plugin: NAME,
          hint: "Give each skill a distinct name.",
        }),
      );
      continue;
    }
    seen.add(name);
    work.push({ node, source, ref, name });
  }
  // No cache directory (API use without one): a per-process directory, as the blob cache does.
  const cacheRoot = compilation.options.cacheDir
    ? join(compilation.options.cacheDir, CACHE_FOLDER)
    : join(tmpdir(), `agentrc-${CACHE_FOLDER}-${process.pid}`);
  await Promise.all(
    work.map(async ({ node, source, ref, name }) => {
      const at = compilation.locate(node, "/ref");
      const pin = compilation.lock?.skills?.find((s) => s.source === source);
      try {
        const digest = await deps.pinDependency(compilation, {
          dependency: { kind: "skill", written: source, reference: ref },
          locked: pin && SHA256.test(pin.digest) ? pin.digest : undefined,
          aliases: [name],
          what: `SKILL ${source}`,
          at,
          plugin: NAME,
        });
        if (digest === undefined) return;
        if (compilation.mode === "lint" && !(await readEntry(cacheRoot, digest))) return;
        // The trust policy first: a refused skill is neither read from the cache nor fetched into it.
        // (lint stays offline: it only reads skills already cached.)
        if (compilation.mode !== "lint") {
          await deps.checkDependencyTrust({ kind: "skill", written: source, reference: ref }, digest, client);
        }
        const entry =
          (await readEntry(cacheRoot, digest)) ??
          (await fetchSkill(
            { kind: "skill", written: source, reference: ref },
            digest,
            name,
            cacheRoot,
            client,
          ));
        const tree = join(cacheRoot, hex(digest), "tree");
        const walked = await walkDirectory(tree, entry.title);
        if (!walked.ok) throw new Error(`the cached skill is unusable: ${walked.detail}`);
        if (!walked.files.some((f) => inSkill(entry, f.path) === "SKILL.md")) {
          compilation.report(
            diagnostic("SKILL_MD_MISSING", `SKILL ${source}: the skill layer has no SKILL.md`, at, {
              plugin: NAME,
            }),
          );
          return;
        }
        for (const f of walked.files) {
          compilation.addFile(`skill:${name}`, {
            path: posix.join("skills", name, inSkill(entry, f.path)),
            source: f.absolute,
            size: f.size,
            executable: f.executable,
            origin: { directive: node.directive, line: at.line, column: at.column },
          });
        }
        resolved.set(node, { name, source, digest });
      } catch (e) {
        compilation.report(
          isAgentrcError(e) && e.code === "TRUST_POLICY_VIOLATION"
            ? diagnostic("TRUST_POLICY_VIOLATION", `SKILL ${source}: ${e.message}`, at, { plugin: NAME })
            : diagnostic("SKILL_RESOLVE_FAILED", `SKILL ${source}: ${message(e)}`, at, { plugin: NAME }),
        );
      }
    }),
  );
}

async function readEntry(cacheRoot: string, digest: string): Promise<CacheEntry | undefined> {
  const dir = join(cacheRoot, hex(digest));
  let entry: CacheEntry;
  try {
    entry = JSON.parse(await readFile(join(dir, "entry.json"), "utf8")) as CacheEntry;
  } catch {
    return undefined;
  }
  const usable =
    entry.manifest === digest &&
    typeof entry.title === "string" &&
    entry.files !== null &&
    typeof entry.files === "object" &&
    (await treeMatches(join(dir, "tree"), entry.files));
  if (usable) return entry;
  // Modified or from an older agentrc: dropped, so it is fetched again.
  await rm(dir, { recursive: true, force: true });
  return undefined;
}

/** The tree holds exactly `files`, each with its recorded sha256. */
async function treeMatches(tree: string, files: Record<string, string>): Promise<boolean> {
  const walked = await walkDirectory(tree, "").catch(() => undefined);
  if (!walked?.ok || walked.files.length !== Object.keys(files).length) return false;
  for (const f of walked.files) {
    if (files[f.path] === undefined || (await hashFile(f.absolute).catch(() => "")) !== files[f.path])
      return false;
  }
  return true;
}

/** sha256 of every file below `tree`. */
async function treeDigests(tree: string): Promise<Record<string, string>> {
  const walked = await walkDirectory(tree, "");
  if (!walked.ok) throw new Error(`the extracted skill is unusable: ${walked.detail}`);
  const out: Record<string, string> = {};
  for (const f of walked.files) out[f.path] = await hashFile(f.absolute);
  return out;
}

/**
 * Reads the manifest by digest from the repository target (the client checks the bytes against it; the shared
 * validator checks the manifest and its descriptors), picks the skill layer, streams it through the target's digest
 * and size check into `extractTar` (no links, limits) in a temporary directory beside the cache entry, then renames
 * it into place. A concurrent build that got there first wins; ours is removed.
 */
async function fetchSkill(
  dependency: deps.Dependency,
  digest: string,
  name: string,
  cacheRoot: string,
  options: RegistrySettings,
): Promise<CacheEntry> {
  const ref = dependency.reference;
  const opened = await deps.openDependency(dependency, digest, options);
  try {
    const source = opened.target;
    const m = opened.manifest;
    // The shared validator checks the manifest and its descriptors; skillSource then finds the skill in it.
    oci.parseImageManifest(m.bytes, m.descriptor.mediaType, ref.toString(), source.manifestErrorCode);
    const skill = skillSource(m.bytes, m.descriptor.mediaType, name);
    await mkdir(cacheRoot, { recursive: true });
    const temp = join(cacheRoot, `.tmp-${hex(digest).slice(0, 12)}-${randomBytes(6).toString("hex")}`);
    try {
      // Opened lazily: nothing is fetched until extractTar reads, so a body that fails at once has a consumer.
      await extractSkill(skill, join(temp, "tree"), async (layer) =>
        transfer.blobSource(source, layer).open(),
      );
      const entry: CacheEntry = {
        title: skill.root,
        files: await treeDigests(join(temp, "tree")),
        layer: skill.layers[0]!.digest,
        manifest: digest,
      };
      await writeFile(join(temp, "entry.json"), canonicalJson(entry));
      try {
        await rename(temp, join(cacheRoot, hex(digest)));
      } catch (e) {
        const code = (e as NodeJS.ErrnoException).code;
        if (code !== "ENOTEMPTY" && code !== "EEXIST") throw e;
        const other = await readEntry(cacheRoot, digest);
        if (!other) throw e;
        return other;
      }
      return entry;
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  } finally {
    await opened.close();
  }
}

/** A path of the cached tree relative to the skill's directory (`title` "" is the tree's root). */
function inSkill(entry: CacheEntry, path: string): string {
  return entry.title === "" ? path : posix.relative(entry.title, path);
}

/** Where a skill lies in an image: the layers to extract, in order, and the directory of their union holding it. */
interface SkillSource {
  layers: oci.Descriptor[];
  /** The skill's directory in the extracted tree: a layer title, or "" when the image's root is the skill. */
  root: string;
  /** A plain image: its layers are merged, and whiteouts (deletions) are refused. */
  image: boolean;
}

/** Layer media types of plain images (docker, buildah, skillimage). */
const IMAGE_LAYER_TYPES: readonly string[] = [
  oci.MEDIA_TYPE_OCI_LAYER_TAR,
  oci.MEDIA_TYPE_OCI_LAYER_TAR_GZIP,
  oci.MEDIA_TYPE_DOCKER_LAYER_GZIP,
];
const IMAGE_CONFIG_TYPES: readonly string[] = [oci.MEDIA_TYPE_OCI_CONFIG, oci.MEDIA_TYPE_DOCKER_CONFIG];

/**
 * Which layers of an image manifest hold the skill `name`, in this order of preference:
 * 1. a directory layer (the agentrc skill media type, or oras's unpack annotation) titled `skills/<name>`, else one
 *    titled `<name>` (agentrc packages; `oras push <ref> <name>/`);
 * 2. outside agentrc packages, the only layer with oras's unpack annotation, whatever its title (a directory pushed
 *    by oras under another name);
 * 3. a plain image (image config, every layer a tar or tar+gzip, none annotated): the union of all its layers, whose
 *    root is the skill (skillimage, `FROM scratch` + `COPY`). Layers are merged in order; a file provided by two
 *    layers or a whiteout is refused, so the union is the same whatever the order.
 */
function skillSource(bytes: Buffer, mediaType: string, name: string): SkillSource {
  if (mediaType !== oci.MEDIA_TYPE_OCI_MANIFEST && mediaType !== oci.MEDIA_TYPE_DOCKER_MANIFEST) {
    throw new Error(
      `the reference names a ${mediaType || "manifest without a media type"}, not an image manifest`,
    );
  }
  let manifest: { layers?: unknown; config?: { mediaType?: unknown }; artifactType?: unknown };
  try {
    manifest = JSON.parse(bytes.toString("utf8")) as typeof manifest;
  } catch {
    throw new Error("the manifest is not valid JSON");
  }
  if (!manifest || !Array.isArray(manifest.layers)) throw new Error("the manifest has no layers");
  const layers = manifest.layers as oci.Descriptor[];
  const wellFormed = (l: oci.Descriptor) =>
    l !== null &&
    typeof l === "object" &&
    typeof l.digest === "string" &&
    SHA256.test(l.digest) &&
    Number.isSafeInteger(l.size) &&
    l.size >= 0;
  const title = (l: oci.Descriptor) => l?.annotations?.[oci.ANNOTATION_TITLE];
  const unpacked = (l: oci.Descriptor) => l?.annotations?.[oci.ANNOTATION_ORAS_UNPACK] === "true";
  const directories = layers.filter(
    (l) => wellFormed(l) && (l.mediaType === oci.MEDIA_TYPE_SKILL_LAYER || unpacked(l)),
  );
  for (const wanted of [`skills/${name}`, name]) {
    const layer = directories.find((l) => title(l) === wanted);
    if (layer) return { layers: [layer], root: wanted, image: false };
  }
  const configType = manifest.config?.mediaType;
  const agentPackage =
    configType === oci.MEDIA_TYPE_AGENT_CONFIG || manifest.artifactType === oci.ARTIFACT_TYPE_AGENT;
  const orasDirectories = directories.filter(unpacked);
  if (!agentPackage && orasDirectories.length === 1) {
    const layer = orasDirectories[0]!;
    let root: string;
    try {
      root = oci.validateTarPath(title(layer) ?? "", "dir");
    } catch (e) {
      throw new Error(`the directory layer's title is unusable: ${message(e)}`);
    }
    return { layers: [layer], root, image: false };
  }
  if (
    typeof configType === "string" &&
    IMAGE_CONFIG_TYPES.includes(configType) &&
    layers.length > 0 &&
    layers.every((l) => wellFormed(l) && IMAGE_LAYER_TYPES.includes(l.mediaType) && !unpacked(l))
  ) {
    return { layers, root: "", image: true };
  }
  const found = layers.map(title).filter((t): t is string => typeof t === "string");
  throw new Error(
    `the package has no skill layer titled skills/${name}${found.length > 0 ? ` (layers: ${found.join(", ")})` : ""}`,
  );
}

/**
 * Extracts the skill's layers into `tree` (new): each through `extractTar` (no links, the usual limits shared by
 * all layers), a plain image's layers one by one into a scratch directory beside `tree`, checked for whiteouts and
 * merged into it.
 */
async function extractSkill(
  source: SkillSource,
  tree: string,
  open: (layer: oci.Descriptor) => Promise<Readable>,
): Promise<void> {
  let maxEntries = oci.DEFAULT_MAX_ENTRIES;
  let maxTotalSize = oci.DEFAULT_MAX_TOTAL_SIZE;
  const extract = async (layer: oci.Descriptor, into: string) => {
    const blob = await open(layer);
    const r = await oci
      .extractTar(blob, into, { links: "refuse", maxEntries, maxTotalSize })
      .finally(() => blob.destroy());
    maxEntries -= r.entries;
    maxTotalSize -= r.bytes;
  };
  if (!source.image) {
    await extract(source.layers[0]!, tree);
    return;
  }
  await mkdir(tree, { recursive: true });
  const scratch = `${tree}.layers`;
  try {
    for (const [i, layer] of source.layers.entries()) {
      const into = join(scratch, String(i));
      await extract(layer, into);
      const whiteout = await findWhiteout(into);
      if (whiteout !== undefined) {
        throw new Error(
          `layer ${i + 1} of the image deletes files (whiteout ${JSON.stringify(whiteout)}); a skill image must only add files`,
        );
      }
      await oci.mergeTree(into, tree);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

/** The first whiteout (`.wh.<name>`, `.wh..wh..opq`: deletions in image layers) below `dir`, as a relative path. */
async function findWhiteout(dir: string, rel = ""): Promise<string | undefined> {
  for (const entry of await readdir(join(dir, rel), { withFileTypes: true })) {
    const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
    if (entry.name.startsWith(".wh.")) return path;
    if (entry.isDirectory()) {
      const found = await findWhiteout(dir, path);
      if (found !== undefined) return found;
    }
  }
  return undefined;
}

/** Rebuilds `skills[]` in directive order: local entries as the skills plugin made them, oci entries from here. */
function recordSkills(
  compilation: Compilation,
  lock: Lockfile,
  resolved: Map<DirectiveNode, Resolved>,
): Lockfile {
  const nodes = compilation.directives<{ ref: string; source: string }>("SKILL");
  if (!nodes.some((n) => n.args.source === "oci")) return lock;
  const local = new Map(
    (lock.skills ?? []).filter((s) => !s.source.startsWith("oci://")).map((s) => [s.source, s]),
  );
  const skills: NonNullable<Lockfile["skills"]> = [];
  for (const node of nodes) {
    const entry =
      node.args.source === "oci"
        ? resolved.get(node as DirectiveNode)
        : local.get(`${node.args.source}:${node.args.ref}`);
    if (entry) skills.push(entry);
  }
  const next: Lockfile = { ...lock };
  if (skills.length > 0) next.skills = skills;
  else delete next.skills;
  return next;
}

const hex = (digest: string) => digest.slice("sha256:".length);

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
