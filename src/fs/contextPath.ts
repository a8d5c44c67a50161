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
  const inside = await checkInsideContext(context, absolute, written);
  return inside.ok ? { ok: true, absolute, relative: normal } : inside;
}

/**
 * Whether `absolute` (the path `written` names) exists and, every symlink along the way resolved, lies inside the
 * context. `realRoot` is the context's realpath when the caller has it already.
 */
export async function checkInsideContext(
  context: string,
  absolute: string,
  written: string,
  realRoot?: string,
): Promise<{ ok: true } | { ok: false; reason: "missing" | "symlink-escape"; detail: string }> {
  try {
    await lstat(absolute);
  } catch {
    return { ok: false, reason: "missing", detail: `"${written}" does not exist` };
  }
  const [root, realTarget] = await Promise.all([
    realRoot ?? realpath(context),
    realpath(absolute).catch(() => undefined),
  ]);
  if (realTarget === undefined) {
    return { ok: false, reason: "missing", detail: `"${written}" is a dangling symlink` };
  }
  if (!isInside(root, realTarget)) {
    return {
      ok: false,
      reason: "symlink-escape",
      detail: `"${written}" resolves through a symlink to outside the build context`,
    };
  }
  return { ok: true };
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
