import { createHash } from "node:crypto";
import { join } from "node:path";
import {
  type Compilation,
  canonicalJson,
  type LayerKey,
  LOCKFILE_NAME,
  type Lockfile,
  normaliseRelative,
} from "../../src/core.js";

const digestOf = (value: unknown) =>
  `sha256:${createHash("sha256").update(canonicalJson(value)).digest("hex")}`;

/**
 * The digest of what decides a layer: every file's package path, executable bit and content digest, sorted by
 * path. Equal inputs give an equal digest whatever the files' mtimes or the order they were found in. agentrc.lock
 * itself is left out when a directive selects it (`BIND . …`): the lock cannot pin its own bytes, and a lock that
 * digested itself would change on every build.
 */
export async function layerInputDigests(compilation: Compilation): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const lockPath = join(compilation.context, LOCKFILE_NAME);
  const keys = [...compilation.files.keys()].sort();
  for (const key of keys) {
    const files = [...compilation.files.get(key as LayerKey)!.values()]
      .filter((f) => f.source !== lockPath)
      .sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
    const entries = await Promise.all(
      files.map(async (f) => ({
        path: f.path,
        executable: f.executable,
        digest: (await compilation.fileDigest(f)).digest,
      })),
    );
    out[key] = digestOf(entries);
  }
  return out;
}

/** Fills the lockfile sections that local inputs decide (BRIEF §4). */
export async function resolveLocalLock(lock: Lockfile, compilation: Compilation): Promise<Lockfile> {
  const layers = await layerInputDigests(compilation);
  const next: Lockfile = { ...lock, layers };
  if (compilation.policy) next.policy_hash = compilation.policy.hash;

  const [from] = compilation.directives<{ ref: string }>("FROM");
  if (from && from.args.ref !== "scratch") {
    const at = from.args.ref.indexOf("@sha256:");
    if (at >= 0) next.base_image = { ref: from.args.ref, digest: from.args.ref.slice(at + 1) };
    else if (compilation.lock?.base_image?.ref === from.args.ref)
      next.base_image = compilation.lock.base_image;
  }

  const tools = compilation.directives<{ ref: string; path?: string }>("TOOL");
  if (tools.length > 0) {
    next.tools = await Promise.all(
      tools.map(async (t) => {
        const file = t.args.path ? compilation.files.get("tools")?.get(selectedPath(t.args.path)) : undefined;
        return {
          name: t.args.ref,
          ...(t.args.path ? { path: t.args.path } : {}),
          ...(file ? { digest: (await compilation.fileDigest(file)).digest } : {}),
        };
      }),
    );
  }

  const functions = compilation.directives<{ path: string; symbol: string }>("FUNCTION");
  if (functions.length > 0) {
    next.functions = await Promise.all(
      functions.map(async (f) => {
        const file = compilation.files.get("source")?.get(selectedPath(f.args.path));
        return {
          path: f.args.path,
          symbol: f.args.symbol,
          ...(file ? { digest: (await compilation.fileDigest(file)).digest } : {}),
        };
      }),
    );
  }

  const skills = compilation.directives<{ ref: string; source: string }>("SKILL");
  const skillEntries = skills.flatMap((s) => {
    const name = s.args.source === "name" ? s.args.ref : s.args.ref.replace(/\/+$/, "").split("/").pop()!;
    const digest = layers[`skill:${name}`];
    return digest
      ? [{ name, source: s.args.source === "oci" ? s.args.ref : `${s.args.source}:${s.args.ref}`, digest }]
      : [];
  });
  if (skillEntries.length > 0) next.skills = skillEntries;

  const creds = [...new Set(compilation.directives<{ name: string }>("CRED").map((c) => c.args.name))].sort();
  if (creds.length > 0) next.credential_names = creds;

  const sops = compilation.directives<{ name: string; text: string }>("SOP");
  if (sops.length > 0) {
    next.sops = sops.map((s) => ({
      name: s.args.name,
      digest: `sha256:${createHash("sha256").update(s.args.text).digest("hex")}`,
    }));
  }
  return next;
}

/** A path as written in the Agentfile (`./tools/x.sh`) as the file plugins key it (`tools/x.sh`). */
function selectedPath(written: string): string {
  return normaliseRelative(written) ?? written;
}
