import type { DirectiveNode } from "../agentfile/types.js";
import { diagnostic } from "../diagnostics/create.js";
import { IGNORE_FILE, type IgnoreMatcher } from "../fs/ignore.js";
import {
  comparePathBytes,
  type PatternResult,
  type SelectedFile,
  selectPattern,
  walkDirectory,
} from "../fs/walk.js";
import type { Compilation } from "./Compilation.js";
import type { LayerKey } from "./types.js";

/**
 * True when an error was already reported on the lines of this directive (bad arguments, a dangling
 * continuation, …): file plugins then leave the directive alone instead of piling further errors on it.
 */
export function directiveHasErrors(compilation: Compilation, node: DirectiveNode): boolean {
  const file = compilation.spec.file;
  return compilation.diagnostics.some(
    (d) =>
      d.severity === "error" &&
      d.location?.file === file &&
      d.location.line >= node.loc.line &&
      d.location.line <= node.loc.endLine,
  );
}

export interface DirectiveSelection {
  compilation: Compilation;
  node: DirectiveNode;
  /** JSON pointer of the argument (`/globs/0`, `/source`): diagnostics point at it. */
  pointer: string;
  /** The plugin reporting. */
  plugin: string;
  /** What the argument says: a glob, or a path. */
  pattern: string;
  /** The argument as written, for messages, when `pattern` was derived from it (a skill name). */
  written?: string;
  /**
   * `glob`: the argument is a glob (or a plain path) and must select at least one file (GLOB_NO_MATCH);
   * `path`: the argument is a path to a file or a directory that must exist; an empty directory is fine.
   */
  kind: "glob" | "path";
  ignore?: IgnoreMatcher;
  /** fast-glob patterns to leave out. */
  exclude?: readonly string[];
}

/**
 * Selects the files one directive argument names and reports every problem at that argument: PATH_ESCAPE (`..`,
 * absolute, symlinks leaving the context, also found while walking), FILE_NOT_FOUND (a missing path, a dangling
 * symlink), GLOB_NO_MATCH (nothing selected), UNSUPPORTED_FILE_TYPE (FIFO, socket, device). Returns the files
 * (sorted by path bytes), or undefined when the argument itself could not be resolved.
 */
export async function selectForDirective(sel: DirectiveSelection): Promise<SelectedFile[] | undefined> {
  const { compilation, node, pointer, plugin, pattern } = sel;
  const at = compilation.locate(node, pointer);
  const options = {
    ...(sel.ignore ? { ignore: sel.ignore } : {}),
    ...(sel.exclude ? { exclude: sel.exclude } : {}),
  };
  const result: PatternResult =
    sel.kind === "path"
      ? await walkDirectory(compilation.context, pattern, options)
      : await selectPattern(compilation.context, pattern, options);
  const report = (code: Parameters<typeof diagnostic>[0], message: string) =>
    compilation.report(
      diagnostic(code, `${node.directive} ${sel.written ?? pattern}: ${message}`, at, { plugin }),
    );
  if (!result.ok) {
    report(result.reason === "missing" ? "FILE_NOT_FOUND" : "PATH_ESCAPE", result.detail);
    return undefined;
  }
  for (const p of result.problems) {
    report(
      p.kind === "escape"
        ? "PATH_ESCAPE"
        : p.kind === "dangling"
          ? "FILE_NOT_FOUND"
          : p.kind === "name"
            ? "FILE_NAME_INVALID"
            : "UNSUPPORTED_FILE_TYPE",
      p.detail,
    );
  }
  if (result.files.length === 0 && result.problems.length === 0 && sel.kind === "glob") {
    const why = result.ignored > 0 ? ` (${result.ignored} excluded by ${IGNORE_FILE})` : "";
    report("GLOB_NO_MATCH", result.dynamic ? `matches no file${why}` : `is a directory with no files${why}`);
  }
  return result.files;
}

/**
 * Adds selected files to a layer. `path` maps a context-relative path to the path inside the layer (default:
 * unchanged). Files are added in path-byte order.
 */
export function addSelectedFiles(
  compilation: Compilation,
  layer: LayerKey,
  files: readonly SelectedFile[],
  node: DirectiveNode,
  path: (relative: string) => string = (p) => p,
): void {
  for (const f of files) {
    compilation.addFile(layer, {
      path: path(f.path),
      source: f.absolute,
      size: f.size,
      executable: f.executable,
      origin: { directive: node.directive, line: node.loc.line, column: node.loc.column },
    });
  }
}

/**
 * The `<glob>…` arguments of a directive (INGEST, INCLUDE): each positive glob must select at least one file;
 * arguments starting with `!` leave files out of every glob of the directive. Returns the union, sorted by path
 * bytes.
 */
export async function selectGlobArguments(
  compilation: Compilation,
  node: DirectiveNode,
  plugin: string,
  ignore: IgnoreMatcher | undefined,
): Promise<SelectedFile[]> {
  const globs = Array.isArray(node.args.globs) ? (node.args.globs as unknown[]) : [];
  const exclude: string[] = [];
  const positive: Array<{ pattern: string; index: number }> = [];
  for (const [index, g] of globs.entries()) {
    if (typeof g !== "string") continue;
    if (!g.startsWith("!")) {
      positive.push({ pattern: g, index });
      continue;
    }
    const neg = g.slice(1);
    if (neg === "" || neg.split(/[\\/]/).includes("..") || neg.startsWith("/")) {
      compilation.report(
        diagnostic(
          neg === "" ? "INVALID_ARGUMENTS" : "PATH_ESCAPE",
          `${node.directive} ${g}: ${neg === "" ? "an exclusion needs a pattern after !" : "exclusions stay inside the build context"}`,
          compilation.locate(node, `/globs/${index}`),
          { plugin },
        ),
      );
      return [];
    }
    exclude.push(neg);
  }
  if (positive.length === 0) {
    compilation.report(
      diagnostic(
        "INVALID_ARGUMENTS",
        `${node.directive} has only exclusions (!…); it needs at least one glob that selects files`,
        compilation.locate(node),
        { plugin },
      ),
    );
    return [];
  }
  const results = await Promise.all(
    positive.map(({ pattern, index }) =>
      selectForDirective({
        compilation,
        node,
        pointer: `/globs/${index}`,
        plugin,
        pattern,
        kind: "glob",
        ...(ignore ? { ignore } : {}),
        exclude,
      }),
    ),
  );
  const union = new Map<string, SelectedFile>();
  for (const files of results) for (const f of files ?? []) if (!union.has(f.path)) union.set(f.path, f);
  return [...union.values()].sort((a, b) => comparePathBytes(a.path, b.path));
}
