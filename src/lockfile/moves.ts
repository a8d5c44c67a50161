import type { Lockfile } from "./types.js";

/** A dependency pinned in agentrc.lock: the FROM base, an `oci://` skill, a toolset. */
export interface PinnedDependency {
  kind: "base" | "skill" | "toolset";
  /** The reference as written in the Agentfile (what the lock keys it by). */
  ref: string;
  /** The skill's name, for skills (`lock --update <name>` may use it). */
  name?: string;
  digest: string;
}

/** Every registry dependency a lock pins, in a stable order: base, skills, toolsets. */
export function pinnedDependencies(lock: Lockfile | undefined): PinnedDependency[] {
  if (!lock) return [];
  const out: PinnedDependency[] = [];
  if (lock.base_image) out.push({ kind: "base", ref: lock.base_image.ref, digest: lock.base_image.digest });
  for (const s of lock.skills ?? []) {
    if (s.source.startsWith("oci://"))
      out.push({ kind: "skill", ref: s.source, name: s.name, digest: s.digest });
  }
  for (const [ref, t] of Object.entries(lock.toolsets ?? {}).sort(([a], [b]) =>
    a < b ? -1 : a > b ? 1 : 0,
  )) {
    if (ref.startsWith("oci://")) out.push({ kind: "toolset", ref, digest: t.digest });
  }
  return out;
}

/** One dependency `lock --update` re-resolved: its pin before and after (`before` null: it was not pinned). */
export interface DependencyMove {
  kind: PinnedDependency["kind"];
  ref: string;
  before: string | null;
  after: string;
  moved: boolean;
}

/** Whether `lock --update <names>` (none: every dependency) selects `dep`. */
export function selectedForUpdate(dep: { ref: string; name?: string }, names: readonly string[]): boolean {
  return (
    names.length === 0 || names.includes(dep.ref) || (dep.name !== undefined && names.includes(dep.name))
  );
}

/** What `lock --update` did to the selected dependencies, comparing the lock read with the lock resolved. */
export function dependencyMoves(
  before: Lockfile | undefined,
  after: Lockfile | undefined,
  names: readonly string[],
): DependencyMove[] {
  const old = new Map(pinnedDependencies(before).map((d) => [`${d.kind} ${d.ref}`, d.digest]));
  return pinnedDependencies(after)
    .filter((d) => selectedForUpdate(d, names))
    .map((d) => {
      const was = old.get(`${d.kind} ${d.ref}`) ?? null;
      return { kind: d.kind, ref: d.ref, before: was, after: d.digest, moved: was !== d.digest };
    });
}
