import { randomBytes } from "node:crypto";
import { cp, mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join, resolve } from "node:path";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { OciLayout } from "../oci/layout.js";
import { withLock } from "../oci/lock.js";
import { dataHome } from "../oci/store.js";
import { RegistryClient, type RegistryClientOptions } from "../registry/client.js";
import { parseReference } from "../registry/reference.js";
import type { ProgressCallback } from "../transfer/types.js";
import type { TrustPolicy } from "../trust/policy.js";
import { withPackage } from "./open.js";
import { pullImage, type UnpackOptions } from "./pull.js";
import { verifyPackage } from "./verify.js";

/**
 * `agentrc install`, `update`, `uninstall`, `list --installed` (docs/image.md#install): packages from a registry
 * unpacked into the user's data directory, one directory per qualified id `<registry>/<repository>`, each with its
 * record (`install.json`: source reference, digest, skills placed). Everything is staged beside its final place
 * and renamed into it at the end, under a lock; a failure anywhere undoes what was renamed, so nothing is ever
 * half-installed and an update that fails leaves the previous version as it was.
 */

/** The file beside an installed tree recording what it is and where it came from. */
export const INSTALL_RECORD = "install.json";
/** The unpacked package, inside an installation's directory. */
export const INSTALL_TREE = "tree";
const RECORD_VERSION = "agentrc.install/v1";

export interface InstalledPackage {
  /** Qualified id: `<registry>/<repository>` (`ghcr.io/acme/reviewer`). */
  id: string;
  /** The agent's name (its package config's `agent.name`). */
  name: string;
  /** The reference installed from, normalised (`ghcr.io/acme/reviewer:1.0`, or `…@sha256:…`). */
  source: string;
  /** The manifest digest installed. */
  digest: string;
  /** When this digest was installed (RFC 3339). */
  installedAt: string;
  /** The unpacked package tree (`Agentfile`, `skills/<name>/SKILL.md`, …). */
  path: string;
  /** With `--skills-dir`: where each skill was also placed as `<skillsDir>/<name>/SKILL.md`. */
  skillsDir?: string;
  /** The skills placed in `skillsDir` (empty without it). */
  skills: string[];
}

interface InstallRecordFile extends Omit<InstalledPackage, "path"> {
  version: typeof RECORD_VERSION;
}

export interface InstallLocation {
  /** Installation directory (default `defaultInstallPath(env)`). */
  dir?: string;
  /** The environment the data directory (and registry credentials) are read from. */
  env?: NodeJS.ProcessEnv;
}

export interface InstallOptions extends InstallLocation, RegistryClientOptions, UnpackOptions {
  /** Also place every skill as `<skillsDir>/<name>/SKILL.md` (e.g. `~/.claude/skills`). */
  skillsDir?: string;
  concurrency?: number;
  onProgress?: ProgressCallback;
  /**
   * The trust policy (docs/trust.md): its decision on the manifest digest is taken by the pull, before any blob is
   * downloaded or anything written (TRUST_POLICY_VIOLATION); install and update consult signatures only there.
   */
  trustPolicy?: TrustPolicy;
}

export interface InstallResult {
  /** `installed`: new id; `replaced`: the id held another digest or skills dir; `unchanged`: nothing to do. */
  status: "installed" | "replaced" | "unchanged";
  installed: InstalledPackage;
  /** The digest installed before, for `replaced`. */
  previous?: string;
}

/** Where installed packages live: `$AGENTRC_INSTALL_DIR`, else `<data home>/agentrc/installed`. */
export function defaultInstallPath(env: NodeJS.ProcessEnv = process.env): string {
  const explicit = env.AGENTRC_INSTALL_DIR;
  if (explicit !== undefined && explicit !== "") return resolve(explicit);
  return join(dataHome(env), "agentrc", "installed");
}

/** The directory name of an id: one path component, reversible (`127.0.0.1%3A5000%2Facme%2Fa`). */
const directoryOf = (id: string) => encodeURIComponent(id);
const rootOf = (options: InstallLocation) => resolve(options.dir ?? defaultInstallPath(options.env));
const temporary = (base: string, what: string) => `${base}.${what}-${randomBytes(6).toString("hex")}`;

/**
 * Installs `ref` (a registry reference): pulls it into a private layout, unpacking the tree from the same download
 * streams (each layer is then read back only by the verification), verifies it (`verifyPackage`), places its
 * skills, writes its record, then moves everything into place. An id that already holds the same digest (and the
 * same skills dir) is left alone.
 */
export async function installPackage(ref: string, options: InstallOptions = {}): Promise<InstallResult> {
  const source = parseReference(ref);
  const id = `${source.registry}/${source.repository}`;
  const root = rootOf(options);
  await mkdir(root, { recursive: true });
  const existing = await readRecord(root, id);
  const skillsDir = options.skillsDir === undefined ? existing?.skillsDir : resolve(options.skillsDir);
  const staging = await mkdtemp(join(root, ".staging-"));
  try {
    const layoutDir = join(staging, "layout");
    const layout = await OciLayout.create(layoutDir);
    const { dir: _d, skillsDir: _s, concurrency, onProgress, trustPolicy, ...rest } = options;
    const { maxEntries, maxTotalSize, ...clientOptions } = rest;
    const client = new RegistryClient(source.registry, clientOptions);
    const tree = join(staging, INSTALL_TREE);
    let pulled: Awaited<ReturnType<typeof pullImage>>;
    try {
      // The tree is unpacked from the download streams (one read of each layer); it stays in the staging
      // directory, removed with it, until verification has passed.
      pulled = await pullImage(client, source, layout, "package", {
        ...(concurrency === undefined ? {} : { concurrency }),
        ...(onProgress === undefined ? {} : { onProgress }),
        ...(trustPolicy === undefined ? {} : { trustPolicy }),
        unpack: {
          dir: tree,
          ...(maxEntries === undefined ? {} : { maxEntries }),
          ...(maxTotalSize === undefined ? {} : { maxTotalSize }),
          notAnAgent: (json) =>
            new AgentrcError(
              "NOT_AN_AGENT_PACKAGE",
              `${source} is not an agentrc package (config ${json.config.mediaType}); install takes agent packages`,
            ),
        },
      });
    } finally {
      await client.close();
    }
    const digest = pulled.descriptor.digest;
    if (existing && existing.digest === digest && existing.skillsDir === skillsDir) {
      await rm(staging, { recursive: true, force: true });
      return { status: "unchanged", installed: existing };
    }
    const name = await withPackage(`oci:${layoutDir}:package`, { checkDigests: false }, async (pkg) => {
      const report = await verifyPackage(pkg);
      if (!report.ok) {
        throw new AgentrcError(
          "INSTALL_VERIFY_FAILED",
          `${source} (${digest}) fails verification, not installed: ${report.failures.map((f) => `${f.code} ${f.part}`).join("; ")}`,
        );
      }
      return pkg.config.agent.name;
    });
    await rm(layoutDir, { recursive: true, force: true });
    const skills = skillsDir === undefined ? [] : await skillNames(tree);
    const record: InstallRecordFile = {
      version: RECORD_VERSION,
      id,
      name,
      source: source.toString(),
      digest,
      installedAt: new Date().toISOString(),
      ...(skillsDir === undefined ? {} : { skillsDir }),
      skills,
    };
    await writeFile(join(staging, INSTALL_RECORD), `${JSON.stringify(record, null, 2)}\n`);
    // Under the lock the record is read again: another install of this id may have finished meanwhile.
    const previous = await withLock(join(root, ".lock"), async () => {
      const current = await readRecord(root, id);
      await commit(root, id, staging, tree, record, current);
      return current;
    });
    return {
      status: previous ? "replaced" : "installed",
      installed: withPath(root, record),
      ...(previous ? { previous: previous.digest } : {}),
    };
  } catch (err) {
    await rm(staging, { recursive: true, force: true });
    throw err;
  }
}

/**
 * Moves a staged installation into place: its skills into `skillsDir` (refusing a name this id did not place
 * there), the previous version's skills and directory aside, the staged directory to its final name. Every step is
 * a rename; a failure renames back what was moved.
 */
async function commit(
  root: string,
  id: string,
  staging: string,
  tree: string,
  record: InstallRecordFile,
  existing: InstalledPackage | undefined,
): Promise<void> {
  const undo: Array<() => Promise<unknown>> = [];
  const trash: string[] = [];
  let skillStage: string | undefined;
  try {
    const { skillsDir } = record;
    if (skillsDir !== undefined) {
      await mkdir(skillsDir, { recursive: true });
      skillStage = await mkdtemp(join(skillsDir, ".agentrc-install-"));
      const ours = new Set(existing?.skillsDir === skillsDir ? existing.skills : []);
      for (const skill of record.skills) {
        const target = join(skillsDir, skill);
        if (!ours.has(skill) && (await present(target))) {
          throw new AgentrcError(
            "INSTALL_SKILL_EXISTS",
            `${target} exists and was not placed by the installation of ${id}; nothing was installed`,
          );
        }
        await cp(join(tree, "skills", skill), join(skillStage, skill), { recursive: true });
      }
    }
    for (const skill of existing?.skills ?? []) {
      const old = join(existing!.skillsDir!, skill);
      if (!(await present(old))) continue;
      const aside = temporary(old, "agentrc-old");
      await rename(old, aside);
      undo.push(() => rename(aside, old));
      trash.push(aside);
    }
    for (const skill of record.skills) {
      const target = join(skillsDir!, skill);
      await rename(join(skillStage!, skill), target);
      undo.push(() => rm(target, { recursive: true, force: true }));
    }
    const final = join(root, directoryOf(id));
    if (existing) {
      const aside = join(root, temporary(".old", directoryOf(id)));
      await rename(final, aside);
      undo.push(() => rename(aside, final));
      trash.push(aside);
    }
    await rename(staging, final);
  } catch (err) {
    for (const step of undo.reverse()) await step().catch(() => {});
    throw err;
  } finally {
    if (skillStage !== undefined) await rm(skillStage, { recursive: true, force: true });
  }
  for (const path of trash) await rm(path, { recursive: true, force: true });
}

/** Every installed package, by id. */
export async function listInstalled(options: InstallLocation = {}): Promise<InstalledPackage[]> {
  const root = rootOf(options);
  const names = await readdir(root).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [] as string[];
    throw err;
  });
  const out: InstalledPackage[] = [];
  for (const name of names.sort()) {
    if (name.startsWith(".")) continue;
    const record = await readRecord(root, decodeURIComponent(name));
    if (record) out.push(record);
  }
  return out;
}

/** The installation `name` names: a qualified id, or an agent name only one installation has. */
export async function findInstalled(name: string, options: InstallLocation = {}): Promise<InstalledPackage> {
  const all = await listInstalled(options);
  const byId = all.find((p) => p.id === name || p.id === safeId(name));
  if (byId) return byId;
  const byName = all.filter((p) => p.name === name);
  if (byName.length === 1) return byName[0]!;
  if (byName.length > 1) {
    throw new AgentrcError(
      "INSTALL_NAME_AMBIGUOUS",
      `${byName.length} installed packages are named ${name}: ${byName.map((p) => p.id).join(", ")}`,
    );
  }
  throw new AgentrcError("INSTALL_NOT_FOUND", `nothing installed is named ${name} (${rootOf(options)})`);
}

/** `oci://host/repo` and `host/repo:tag` name the id `host/repo` too. */
function safeId(name: string): string | undefined {
  try {
    const ref = parseReference(name);
    return `${ref.registry}/${ref.repository}`;
  } catch {
    return undefined;
  }
}

export interface UninstallResult {
  removed: InstalledPackage;
}

/** Removes one installation and the skills it placed: its directory is renamed aside first, then deleted. */
export async function uninstallPackage(
  name: string,
  options: InstallLocation = {},
): Promise<UninstallResult> {
  const root = rootOf(options);
  const installed = await findInstalled(name, options);
  await withLock(join(root, ".lock"), async () => {
    const final = join(root, directoryOf(installed.id));
    const aside = join(root, temporary(".old", directoryOf(installed.id)));
    await rename(final, aside);
    for (const skill of installed.skills) {
      await rm(join(installed.skillsDir!, skill), { recursive: true, force: true });
    }
    await rm(aside, { recursive: true, force: true });
  });
  return { removed: installed };
}

export interface UpdateResult {
  id: string;
  name: string;
  source: string;
  /** `updated`: the reference moved and the new digest is installed; `current`: it had not moved; `pinned`: installed by digest. */
  status: "updated" | "current" | "pinned";
  digest: string;
  /** For `updated`: the digest installed before. */
  previous?: string;
}

/**
 * `agentrc update`: for each installation (one by name, or all), HEADs its source reference's manifest and
 * re-installs only when the digest moved; an installation by digest is `pinned`.
 */
export async function updateInstalled(
  name: string | undefined,
  options: Omit<InstallOptions, "skillsDir"> = {},
): Promise<UpdateResult[]> {
  const targets = name === undefined ? await listInstalled(options) : [await findInstalled(name, options)];
  const results: UpdateResult[] = [];
  for (const installed of targets) {
    const source = parseReference(installed.source);
    const base = { id: installed.id, name: installed.name, source: installed.source };
    if (source.tag === undefined) {
      results.push({ ...base, status: "pinned", digest: installed.digest });
      continue;
    }
    const { dir: _d, concurrency: _c, onProgress: _p, trustPolicy: _tp, ...rest } = options;
    const { maxEntries: _m, maxTotalSize: _t, ...clientOptions } = rest;
    const client = new RegistryClient(source.registry, clientOptions);
    let now: string | undefined;
    try {
      now = (await client.headManifest(source.repository, source.tag))?.digest;
    } finally {
      await client.close();
    }
    if (now === undefined) {
      throw new AgentrcError("OCI_REF_NOT_FOUND", `${installed.source} is no longer in the registry`, {
        hint: `Uninstall it (agentrc uninstall ${installed.id}) or install another tag.`,
      });
    }
    if (now === installed.digest) {
      results.push({ ...base, status: "current", digest: now });
      continue;
    }
    const done = await installPackage(installed.source, options);
    results.push({
      ...base,
      status: "updated",
      digest: done.installed.digest,
      previous: installed.digest,
    });
  }
  return results;
}

async function readRecord(root: string, id: string): Promise<InstalledPackage | undefined> {
  const dir = join(root, directoryOf(id));
  let text: string;
  try {
    text = await readFile(join(dir, INSTALL_RECORD), "utf8");
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return undefined;
    throw err;
  }
  let record: InstallRecordFile;
  try {
    record = JSON.parse(text) as InstallRecordFile;
  } catch (err) {
    throw invalidRecord(dir, (err as Error).message);
  }
  if (record?.version !== RECORD_VERSION || record.id !== id || typeof record.digest !== "string") {
    throw invalidRecord(dir, `expected ${RECORD_VERSION} for ${id}`);
  }
  return withPath(root, record);
}

function invalidRecord(dir: string, why: string): AgentrcError {
  return new AgentrcError(
    "INSTALL_RECORD_INVALID",
    `${join(dir, INSTALL_RECORD)} is not a valid record: ${why}`,
  );
}

function withPath(root: string, record: InstallRecordFile): InstalledPackage {
  const { version: _v, ...rest } = record;
  return { ...rest, path: join(root, directoryOf(record.id), INSTALL_TREE) };
}

/** The skills of an unpacked package: `skills/<name>/` directories holding a SKILL.md. */
async function skillNames(tree: string): Promise<string[]> {
  const dir = join(tree, "skills");
  const entries = await readdir(dir, { withFileTypes: true }).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [];
    throw err;
  });
  const names: string[] = [];
  for (const e of entries) {
    if (e.isDirectory() && (await present(join(dir, e.name, "SKILL.md")))) names.push(e.name);
  }
  return names.sort();
}

const present = (path: string) =>
  stat(path).then(
    () => true,
    (err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return false;
      throw err;
    },
  );
