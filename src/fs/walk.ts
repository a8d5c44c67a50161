import * as fs from "node:fs";
import { realpath, stat } from "node:fs/promises";
import { dirname, isAbsolute, join, relative, resolve, sep } from "node:path";
import fg from "fast-glob";
import { checkInsideContext, isInside, normaliseRelative } from "./contextPath.js";
import type { IgnoreMatcher } from "./ignore.js";

/** A regular file selected inside the build context. */
export interface SelectedFile {
  /** Path relative to the context, `/`-separated, as found (a symlink keeps its own name). */
  path: string;
  /** Absolute path on disk (under the context; reading it follows an in-context symlink). */
  absolute: string;
  size: number;
  /** Any execute bit is set (on the file, or on a symlink's target). */
  executable: boolean;
}

/** A path found while walking or globbing that cannot be packed. */
export interface SelectProblem {
  kind: "escape" | "dangling" | "unsupported" | "name";
  /** Path relative to the context, `/`-separated. */
  path: string;
  detail: string;
}

export interface SelectResult {
  /** Selected files, sorted by path bytes, without duplicates. */
  files: SelectedFile[];
  /** Problems, sorted by path bytes. */
  problems: SelectProblem[];
  /** How many files were left out by the ignore file. */
  ignored: number;
}

export type PatternResult =
  | ({ ok: true; dynamic: boolean } & SelectResult)
  | {
      ok: false;
      reason: "escape" | "absolute" | "missing" | "symlink-escape" | "negative-only";
      detail: string;
    };

/** Orders `/`-separated paths by their UTF-8 bytes (what tar entries and lockfiles use), independent of locale. */
export function comparePathBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

export interface GlobOptions {
  /** Exclusions from `.agentrcignore`; they apply to everything found by walking or matching. */
  ignore?: IgnoreMatcher;
  /** fast-glob patterns to leave out (the `!`-prefixed arguments of a directive, without the `!`). */
  exclude?: readonly string[];
}

/**
 * Selects the files a glob (or a plain path) names, relative to the build context, with fast-glob.
 * - a pattern without glob syntax is a path: a file is selected as is (never ignored: it is named explicitly), a
 *   directory contributes every file below it;
 * - a glob selects the files it matches, and every file below each directory it matches (as Docker's COPY does);
 * - dot files match; `.agentrcignore` and `exclude` apply to everything found by walking or matching;
 * - `..` and absolute patterns are refused; symlinks are followed only while they stay inside the context (a link
 *   resolving outside is reported as an `escape` problem, a dangling one as `dangling`); a link back to one of its
 *   own parent directories (a cycle) is not followed — its content is already being walked;
 * - FIFOs, sockets and devices are reported as `unsupported`;
 * - results are sorted by path bytes, so they do not depend on directory listing order.
 */
export async function selectPattern(
  context: string,
  pattern: string,
  options: GlobOptions = {},
): Promise<PatternResult> {
  if (isAbsolute(pattern) || /^[A-Za-z]:[\\/]/.test(pattern)) {
    return { ok: false, reason: "absolute", detail: `"${pattern}" is an absolute path` };
  }
  if (pattern.split(/[\\/]/).includes("..")) {
    return { ok: false, reason: "escape", detail: `"${pattern}" leaves the build context through ..` };
  }
  if (!fg.isDynamicPattern(pattern)) {
    return walkDirectory(context, pattern, options);
  }
  const realRoot = await realpath(context);
  const base = staticBase(pattern);
  if (base !== "") {
    const checked = await checkPath(context, realRoot, base, base);
    if (!checked.ok) {
      if (checked.reason === "missing")
        return { ok: true, dynamic: true, files: [], problems: [], ignored: 0 };
      return checked;
    }
  }
  const walker = new Walker(context, realRoot, options);
  await walker.glob([pattern]);
  return { ok: true, dynamic: true, ...walker.result() };
}

/**
 * Every file below a directory of the context, given as a normalised relative path (`""` is the context itself),
 * with the same rules as `selectPattern`. A path naming a file selects that file.
 */
export async function walkDirectory(
  context: string,
  directory: string,
  options: GlobOptions = {},
): Promise<PatternResult> {
  if (isAbsolute(directory) || /^[A-Za-z]:[\\/]/.test(directory)) {
    return { ok: false, reason: "absolute", detail: `"${directory}" is an absolute path` };
  }
  const normal = normaliseRelative(directory);
  if (normal === undefined) {
    return { ok: false, reason: "escape", detail: `"${directory}" leaves the build context through ..` };
  }
  const realRoot = await realpath(context);
  const checked = await checkPath(context, realRoot, normal, directory);
  if (!checked.ok) return checked;
  const walker = new Walker(context, realRoot, options);
  if (normal === "" || checked.stats.isDirectory()) await walker.walkDirectory(normal);
  else await walker.addEntry(normal, checked.stats, true);
  return { ok: true, dynamic: false, ...walker.result() };
}

/** The leading directories of a glob that hold no glob syntax (`data/docs/**\/*.md` → `data/docs`). */
function staticBase(pattern: string): string {
  const parts = pattern.split("/");
  const out: string[] = [];
  for (const part of parts.slice(0, -1)) {
    if (fg.isDynamicPattern(part)) break;
    if (part === "" || part === ".") continue;
    out.push(part);
  }
  return out.join("/");
}

type Checked =
  | { ok: true; stats: fs.Stats }
  | { ok: false; reason: "missing" | "symlink-escape"; detail: string };

async function checkPath(
  context: string,
  realRoot: string,
  normal: string,
  written: string,
): Promise<Checked> {
  const absolute = normal === "" ? context : join(context, ...normal.split("/"));
  const inside = await checkInsideContext(context, absolute, written, realRoot);
  return inside.ok ? { ok: true, stats: await stat(absolute) } : inside;
}

class Walker {
  readonly #context: string;
  readonly #realRoot: string;
  readonly #ignore: IgnoreMatcher | undefined;
  readonly #exclude: readonly string[];
  readonly #files = new Map<string, SelectedFile>();
  readonly #problems = new Map<string, SelectProblem>();
  #ignored = 0;
  readonly #realCache = new Map<string, Promise<string | undefined>>();

  constructor(context: string, realRoot: string, options: GlobOptions) {
    this.#context = context;
    this.#realRoot = realRoot;
    this.#ignore = options.ignore;
    this.#exclude = options.exclude ?? [];
  }

  result(): SelectResult {
    const files = [...this.#files.values()].sort((a, b) => comparePathBytes(a.path, b.path));
    const problems = [...this.#problems.values()].sort((a, b) => comparePathBytes(a.path, b.path));
    return { files, problems, ignored: this.#ignored };
  }

  async walkDirectory(dir: string): Promise<void> {
    await this.glob([dir === "" ? "**" : `${fg.escapePath(dir)}/**`]);
  }

  /** Runs fast-glob and classifies what it found; matched directories are walked whole. */
  async glob(patterns: string[]): Promise<void> {
    const entries = await fg(patterns, {
      cwd: this.#context,
      dot: true,
      onlyFiles: false,
      markDirectories: false,
      followSymbolicLinks: true,
      objectMode: true,
      unique: true,
      ignore: [...this.#exclude],
      fs: this.#fsAdapter(),
    });
    const dirs: string[] = [];
    const others: Array<{ path: string; dirent: fs.Dirent }> = [];
    for (const e of entries) {
      const path = e.path.replace(/^\.\//, "");
      if (e.dirent.isDirectory()) dirs.push(path);
      else others.push({ path, dirent: e.dirent as fs.Dirent });
    }
    // Walk each matched directory that is not below another matched directory (the walk covers those).
    dirs.sort(comparePathBytes);
    const roots: string[] = [];
    for (const d of dirs) {
      if (this.#ignore?.ignores(d, true) || (await this.#invalidName(d))) continue;
      const top = roots[roots.length - 1];
      if (top !== undefined && d.startsWith(`${top}/`)) continue;
      roots.push(d);
    }
    const walked = patterns.some((p) => p === "**" || p.endsWith("/**"));
    if (!walked) for (const r of roots) await this.walkDirectory(r);
    for (const { path, dirent } of others) await this.#classify(path, dirent);
  }

  async #classify(path: string, dirent: fs.Dirent): Promise<void> {
    if (this.#files.has(path) || this.#problems.has(path)) return;
    if (this.#ignore?.ignores(path, false)) {
      this.#ignored++;
      return;
    }
    if (await this.#invalidName(path)) return;
    const absolute = join(this.#context, ...path.split("/"));
    if (dirent.isSymbolicLink()) {
      // fast-glob kept the link unresolved: it dangles, leaves the context, or closes a cycle.
      const real = await realpath(absolute).catch(() => undefined);
      if (real === undefined) {
        this.#problems.set(path, { kind: "dangling", path, detail: `"${path}" is a dangling symlink` });
      } else if (!isInside(this.#realRoot, real)) {
        this.#problems.set(path, {
          kind: "escape",
          path,
          detail: `"${path}" is a symlink that resolves to outside the build context`,
        });
      }
      // else: a directory link back into its own ancestors; its files are reached through the real path.
      return;
    }
    if (dirent.isFile()) {
      await this.addEntry(path, await stat(absolute), false);
      return;
    }
    this.#problems.set(path, {
      kind: "unsupported",
      path,
      detail: `"${path}" is ${describeType(dirent)}; only regular files and directories can be packed`,
    });
  }

  /** Adds one file named or found; `explicit` files are never ignored. */
  async addEntry(path: string, stats: fs.Stats, explicit: boolean): Promise<void> {
    if (!stats.isFile()) {
      this.#problems.set(path, {
        kind: "unsupported",
        path,
        detail: `"${path}" is ${describeType(stats)}; only regular files and directories can be packed`,
      });
      return;
    }
    if (!explicit && this.#ignore?.ignores(path, false)) {
      this.#ignored++;
      return;
    }
    this.#files.set(path, {
      path,
      absolute: join(this.#context, ...path.split("/")),
      size: stats.size,
      executable: (stats.mode & 0o111) !== 0,
    });
  }

  /**
   * Node decodes a name that is not valid UTF-8 with U+FFFD, so the name it gives cannot be opened (and fast-glob
   * silently skips such a directory's content): report it instead of crashing or leaving files out.
   */
  async #invalidName(path: string): Promise<boolean> {
    if (!path.includes("\uFFFD")) return false;
    const exists = await fs.promises.lstat(join(this.#context, ...path.split("/"))).then(
      () => true,
      () => false,
    );
    if (exists) return false;
    this.#problems.set(path, {
      kind: "name",
      path,
      detail: `"${path}" is not valid UTF-8; package paths are UTF-8, rename it`,
    });
    return true;
  }

  #real(path: string): Promise<string | undefined> {
    let r = this.#realCache.get(path);
    if (!r) {
      r = realpath(path).catch(() => undefined);
      this.#realCache.set(path, r);
    }
    return r;
  }

  /**
   * fast-glob's `stat` is called for symlinks only: refusing it (an error) makes fast-glob keep the link as an
   * unresolved entry and not descend into it. Links are refused when they dangle, resolve outside the context, or
   * point at a directory that is one of their own ancestors (a cycle).
   */
  #fsAdapter(): Partial<typeof fs> {
    const refuse = (path: string): NodeJS.ErrnoException =>
      Object.assign(new Error(`refused symlink ${path}`), { code: "ENOENT" });
    const check = async (path: string): Promise<boolean> => {
      const absolute = resolve(this.#context, path);
      const real = await this.#real(absolute);
      if (real === undefined || !isInside(this.#realRoot, real)) return false;
      // A cycle: the target is the real path of the link's directory or of one of its ancestors.
      let dir = dirname(absolute);
      for (;;) {
        const realDir = await this.#real(dir);
        if (realDir !== undefined && (realDir === real || isInside(real, realDir))) {
          const st = await stat(absolute).catch(() => undefined);
          if (st?.isDirectory()) return false;
        }
        if (relative(this.#context, dir) === "" || !isInside(this.#context, dir) || dir === dirname(dir))
          break;
        dir = dirname(dir);
      }
      return true;
    };
    const statFn = (path: fs.PathLike, ...rest: unknown[]): void => {
      const callback = rest[rest.length - 1] as (err: NodeJS.ErrnoException | null, stats?: fs.Stats) => void;
      const p = String(path);
      check(p).then(
        (ok) => (ok ? fs.stat(p, callback) : callback(refuse(p))),
        (e: NodeJS.ErrnoException) => callback(e),
      );
    };
    return { stat: statFn as unknown as typeof fs.stat };
  }
}

function describeType(d: fs.Dirent | fs.Stats): string {
  if (d.isFIFO()) return "a FIFO (named pipe)";
  if (d.isSocket()) return "a socket";
  if (d.isCharacterDevice()) return "a character device";
  if (d.isBlockDevice()) return "a block device";
  if (d.isSymbolicLink()) return "a symlink";
  return "not a regular file";
}

/** `/`-separated path of `absolute` relative to `context`, or undefined when it is outside. */
export function contextRelative(context: string, absolute: string): string | undefined {
  if (!isInside(context, absolute)) return undefined;
  return relative(context, absolute).split(sep).join("/");
}
