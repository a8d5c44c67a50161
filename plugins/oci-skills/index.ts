import { randomBytes } from "node:crypto";
import { lstat, mkdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, posix } from "node:path";
import {
  type AgentrcPlugin,
  type Compilation,
  type Compiler,
  canonicalJson,
  type DirectiveNode,
  diagnostic,
  directiveHasErrors,
  type Lockfile,
  oci,
  registry,
  STAGE,
  skillName,
  skillTarget,
  walkDirectory,
} from "../../src/core.js";

const NAME = "oci-skills";
const SHA256 = /^sha256:[a-f0-9]{64}$/;
/** Cache entries: `<cacheDir>/oci-skills/<manifest hex>/{entry.json,tree/}`. */
const CACHE_FOLDER = "oci-skills";

interface CacheEntry {
  /** Title of the skill layer; its files are below `tree/<title>/`. */
  title: string;
  layer: string;
  manifest: string;
}

interface Resolved {
  name: string;
  source: string;
  digest: string;
}

/**
 * `SKILL oci://<ref>`: the skill comes from a package in a registry (an agentrc package, or an oras-style artifact)
 * with a directory layer titled `skills/<name>` (or `<name>`), `<name>` being the repository's last path component
 * (`skillName`, the one naming rule shared with local skills).
 *
 * In `lock` and `build` mode, during selectFiles: the manifest digest is the lock's pin (`skills[]` entry whose
 * `source` is the reference as written), the digest in the reference, or else the tag resolved now (not with
 * --frozen-lockfile: LOCKFILE_STALE). The layer is fetched by digest (verified), extracted safely (no links) into the
 * cache keyed by the manifest digest, and its files are added to the layer `skill:<name>` as `skills/<name>/…`, so
 * the packer, the secret scan and the lock treat them as local skill files. A cached digest is never fetched again:
 * pinned builds are offline. On the lock hook the skill is recorded as `{name, source: "oci://…", digest}`.
 *
 * In `lint` mode nothing touches the network: a pinned skill already in the cache is added (so lint scans it),
 * anything else is skipped silently.
 */
export class OciSkillsPlugin implements AgentrcPlugin {
  readonly name = NAME;
  readonly #client: registry.RegistryClientOptions;

  /** `client`: registry client options (default: plain HTTP for loopback, credentials as for `agentrc pull`). */
  constructor(options: { client?: registry.RegistryClientOptions } = {}) {
    this.#client = options.client ?? {};
  }

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      const resolved = new Map<DirectiveNode, Resolved>();
      compilation.hooks.selectFiles.tapPromise(NAME, () =>
        selectOciSkills(compilation, resolved, this.#client),
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
  client: registry.RegistryClientOptions,
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
      const pinned = pinnedDigest(compilation, source, ref);
      try {
        let digest = pinned;
        if (compilation.mode === "lint") {
          if (digest === undefined || !(await readEntry(cacheRoot, digest))) return;
        } else if (digest === undefined) {
          if (compilation.options.build.frozenLockfile) {
            compilation.report(
              diagnostic(
                "LOCKFILE_STALE",
                `agentrc.lock does not pin SKILL ${source} and --frozen-lockfile forbids resolving it`,
                at,
                { plugin: NAME },
              ),
            );
            return;
          }
          digest = await registry.resolveManifestDigest(ref, client);
        }
        const entry =
          (await readEntry(cacheRoot, digest)) ?? (await fetchSkill(ref, digest, name, cacheRoot, client));
        const tree = join(cacheRoot, hex(digest), "tree");
        const walked = await walkDirectory(tree, entry.title);
        if (!walked.ok) throw new Error(`the cached skill is unusable: ${walked.detail}`);
        if (!walked.files.some((f) => f.path === `${entry.title}/SKILL.md`)) {
          compilation.report(
            diagnostic("SKILL_MD_MISSING", `SKILL ${source}: the skill layer has no SKILL.md`, at, {
              plugin: NAME,
            }),
          );
          return;
        }
        for (const f of walked.files) {
          compilation.addFile(`skill:${name}`, {
            path: posix.join("skills", name, posix.relative(entry.title, f.path)),
            source: f.absolute,
            size: f.size,
            executable: f.executable,
            origin: { directive: node.directive, line: at.line, column: at.column },
          });
        }
        resolved.set(node, { name, source, digest });
      } catch (e) {
        compilation.report(
          diagnostic("SKILL_RESOLVE_FAILED", `SKILL ${source}: ${message(e)}`, at, { plugin: NAME }),
        );
      }
    }),
  );
}

/** The digest in the reference, else the lock's pin for exactly this source. */
function pinnedDigest(compilation: Compilation, source: string, ref: registry.Reference): string | undefined {
  if (ref.digest !== undefined) return ref.digest;
  const pin = compilation.lock?.skills?.find((s) => s.source === source);
  return pin && SHA256.test(pin.digest) ? pin.digest : undefined;
}

async function readEntry(cacheRoot: string, digest: string): Promise<CacheEntry | undefined> {
  try {
    const entry = JSON.parse(
      await readFile(join(cacheRoot, hex(digest), "entry.json"), "utf8"),
    ) as CacheEntry;
    if (entry.manifest !== digest || typeof entry.title !== "string") return undefined;
    if (!(await lstat(join(cacheRoot, hex(digest), "tree"))).isDirectory()) return undefined;
    return entry;
  } catch {
    return undefined;
  }
}

/**
 * Fetches the manifest by digest (the client checks the bytes against it), picks the skill layer, streams it through
 * the client's digest and size check into `extractTar` (no links, limits) in a temporary directory beside the cache
 * entry, then renames it into place. A concurrent build that got there first wins; ours is removed.
 */
async function fetchSkill(
  ref: registry.Reference,
  digest: string,
  name: string,
  cacheRoot: string,
  options: registry.RegistryClientOptions,
): Promise<CacheEntry> {
  const client = new registry.RegistryClient(ref.registry, options);
  try {
    const m = await client.getManifest(ref.repository, digest);
    const layer = skillLayer(m.bytes, m.mediaType, name);
    const title = layer.annotations?.[oci.ANNOTATION_TITLE] ?? "";
    await mkdir(cacheRoot, { recursive: true });
    const temp = join(cacheRoot, `.tmp-${hex(digest).slice(0, 12)}-${randomBytes(6).toString("hex")}`);
    try {
      const blob = await client.getBlob(ref.repository, layer.digest, layer.size);
      await oci.extractTar(blob, join(temp, "tree"), { links: "refuse" }).finally(() => blob.destroy());
      const entry: CacheEntry = { title, layer: layer.digest, manifest: digest };
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
    await client.close();
  }
}

/** The directory layer of an image manifest that holds the skill `name`. */
function skillLayer(bytes: Buffer, mediaType: string, name: string): oci.Descriptor {
  if (mediaType !== oci.MEDIA_TYPE_OCI_MANIFEST && mediaType !== oci.MEDIA_TYPE_DOCKER_MANIFEST) {
    throw new Error(
      `the reference names a ${mediaType || "manifest without a media type"}, not an image manifest`,
    );
  }
  let layers: unknown;
  try {
    layers = (JSON.parse(bytes.toString("utf8")) as { layers?: unknown }).layers;
  } catch {
    throw new Error("the manifest is not valid JSON");
  }
  if (!Array.isArray(layers)) throw new Error("the manifest has no layers");
  const titles = [`skills/${name}`, name];
  const candidates = (layers as oci.Descriptor[]).filter(
    (l) =>
      l !== null &&
      typeof l === "object" &&
      typeof l.digest === "string" &&
      SHA256.test(l.digest) &&
      Number.isSafeInteger(l.size) &&
      l.size >= 0 &&
      titles.includes(l.annotations?.[oci.ANNOTATION_TITLE] ?? "") &&
      (l.mediaType === oci.MEDIA_TYPE_SKILL_LAYER || l.annotations?.[oci.ANNOTATION_ORAS_UNPACK] === "true"),
  );
  const layer = candidates.find((l) => l.annotations?.[oci.ANNOTATION_TITLE] === titles[0]) ?? candidates[0];
  if (!layer) {
    const found = (layers as oci.Descriptor[])
      .map((l) => l?.annotations?.[oci.ANNOTATION_TITLE])
      .filter((t): t is string => typeof t === "string");
    throw new Error(
      `the package has no skill layer titled skills/${name}${found.length > 0 ? ` (layers: ${found.join(", ")})` : ""}`,
    );
  }
  return layer;
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
