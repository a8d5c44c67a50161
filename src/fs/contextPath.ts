import { lstat, realpath } from "node:fs/promises";
import { isAbsolute, join, relative, sep } from "node:path";

export type ContextPathResult =
  | {
      ok: true /** absolute path on disk */;
      absolute: string /** normalised, `/`-separated, relative */;
      relative: string;
    }
  | { ok: false; reason: "escape" | "absolute" | "missing" | "symlink-escape"; detail: string };

/**
 * Normalises a path written in an Agentfile and checks that it stays in the build context: no absolute paths,
 * no `..` above the root, and no symlink (anywhere along the way) that resolves outside.
 */
export async function resolveContextPath(context: string, written: string): Promise<ContextPathResult> {
  if (isAbsolute(written) || /^[A-Za-z]:[\\/]/.test(written)) {
    return { ok: false, reason: "absolute", detail: `"${written}" is an absolute path` };
  }
  const normal = normaliseRelative(written);
  if (normal === undefined) {
    return { ok: false, reason: "escape", detail: `"${written}" leaves the build context through ..` };
  }
  const absolute = normal === "" ? context : join(context, ...normal.split("/"));
  try {
    await lstat(absolute);
  } catch {
    return { ok: false, reason: "missing", detail: `"${written}" does not exist` };
  }
  const [realRoot, realTarget] = await Promise.all([
    realpath(context),
    realpath(absolute).catch(() => undefined),
  ]);
  if (realTarget === undefined) {
    return { ok: false, reason: "missing", detail: `"${written}" is a dangling symlink` };
  }
  if (!isInside(realRoot, realTarget)) {
    return {
      ok: false,
      reason: "symlink-escape",
      detail: `"${written}" resolves through a symlink to outside the build context`,
    };
  }
  return { ok: true, absolute, relative: normal };
}

/** `a/./b/../c` → `a/c`; undefined when `..` climbs above the root. Backslashes count as separators. */
export function normaliseRelative(path: string): string | undefined {
  const out: string[] = [];
  for (const part of path.replaceAll("\\", "/").split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (out.length === 0) return undefined;
      out.pop();
      continue;
    }
    out.push(part);
  }
  return out.join("/");
}

export function isInside(root: string, target: string): boolean {
  const rel = relative(root, target);
  return rel === "" || (!rel.startsWith(`..${sep}`) && rel !== ".." && !isAbsolute(rel));
}
