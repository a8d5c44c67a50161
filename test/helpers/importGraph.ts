import { readdirSync, readFileSync } from "node:fs";
import { dirname, join, posix, relative } from "node:path";

/** A folder-level import: `from` imports `to` through `files` (`file → specifier` pairs). */
export interface FolderEdge {
  from: string;
  to: string;
  files: string[];
}

/**
 * Import specifiers of a TypeScript module: static `import … from`, `export … from`, side-effect `import "…"` and
 * dynamic `import("…")`. Statements are matched from the start of a line, so examples inside comments are not
 * mistaken for imports.
 */
export function importSpecifiers(source: string): string[] {
  const out: string[] = [];
  const statement = /^[ \t]*(?:import|export)\b[^;'"]*?(?:\bfrom\s*)?["']([^"']+)["']/gm;
  for (const m of source.matchAll(statement)) out.push(m[1]!);
  const dynamic = /^(?![ \t]*(?:\/\/|\*)).*?\bimport\(\s*["']([^"']+)["']\s*\)/gm;
  for (const m of source.matchAll(dynamic)) out.push(m[1]!);
  return out;
}

/**
 * The node a repository file belongs to: `src/<folder>` or `plugins/<folder>` for files in a folder, the file
 * itself (`src/core.ts`, `plugins/index.ts`) for top-level modules.
 */
export function folderOf(path: string): string {
  const [root, first] = path.split("/");
  return `${root}/${first}`;
}

function tsFiles(root: string, dir: string): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(join(root, dir), { withFileTypes: true })) {
    const path = posix.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...tsFiles(root, path));
    else if (entry.name.endsWith(".ts")) out.push(path);
  }
  return out;
}

/** Folder-to-folder imports between the given top-level directories (relative imports only; packages are leaves). */
export function folderImportGraph(root: string, tops: readonly string[]): FolderEdge[] {
  const edges = new Map<string, FolderEdge>();
  for (const file of tops.flatMap((t) => tsFiles(root, t))) {
    for (const spec of importSpecifiers(readFileSync(join(root, file), "utf8"))) {
      if (!spec.startsWith(".")) continue;
      const target = relative(root, join(root, dirname(file), spec))
        .split("\\")
        .join("/");
      if (!tops.some((t) => target.startsWith(`${t}/`))) continue;
      const from = folderOf(file);
      const to = folderOf(target.replace(/\.js$/, ".ts"));
      if (from === to) continue;
      const key = `${from} ${to}`;
      const edge = edges.get(key) ?? { from, to, files: [] };
      edge.files.push(`${file} → ${spec}`);
      edges.set(key, edge);
    }
  }
  return [...edges.values()];
}

/**
 * The cycles of the graph as closed paths `a → b → … → a`: the strongly connected components (Tarjan), and in
 * each one a shortest cycle through every member not yet on a reported cycle, in a stable order.
 */
export function findCycles(edges: readonly Pick<FolderEdge, "from" | "to">[]): string[][] {
  const next = new Map<string, string[]>();
  for (const e of edges) {
    next.set(e.from, [...(next.get(e.from) ?? []), e.to]);
    if (!next.has(e.to)) next.set(e.to, []);
  }
  for (const list of next.values()) list.sort();
  const index = new Map<string, number>();
  const low = new Map<string, number>();
  const stack: string[] = [];
  const onStack = new Set<string>();
  const components: string[][] = [];
  const visit = (v: string) => {
    index.set(v, index.size);
    low.set(v, index.get(v)!);
    stack.push(v);
    onStack.add(v);
    for (const w of next.get(v)!) {
      if (!index.has(w)) {
        visit(w);
        low.set(v, Math.min(low.get(v)!, low.get(w)!));
      } else if (onStack.has(w)) low.set(v, Math.min(low.get(v)!, index.get(w)!));
    }
    if (low.get(v) === index.get(v)) {
      const component: string[] = [];
      let w: string;
      do {
        w = stack.pop()!;
        onStack.delete(w);
        component.push(w);
      } while (w !== v);
      if (component.length > 1 || next.get(v)!.includes(v)) components.push(component.sort());
    }
  };
  for (const v of [...next.keys()].sort()) if (!index.has(v)) visit(v);
  const cycles: string[][] = [];
  for (const component of components) {
    const covered = new Set<string>();
    for (const start of component) {
      if (covered.has(start)) continue;
      const cycle = closedPath(start, new Set(component), next);
      for (const v of cycle) covered.add(v);
      cycles.push(cycle);
    }
  }
  return cycles.sort((a, b) => a.join(" ").localeCompare(b.join(" ")));
}

/** A shortest closed path from `start` back to it, staying inside its component (breadth-first). */
function closedPath(start: string, inside: Set<string>, next: Map<string, string[]>): string[] {
  const parent = new Map<string, string>();
  const queue = [start];
  while (queue.length > 0) {
    const v = queue.shift()!;
    for (const w of next.get(v)!) {
      if (!inside.has(w)) continue;
      if (w === start) {
        const path = [start];
        for (let u: string | undefined = v; u !== undefined && u !== start; u = parent.get(u))
          path.splice(1, 0, u);
        return [...path, start];
      }
      if (!parent.has(w)) {
        parent.set(w, v);
        queue.push(w);
      }
    }
  }
  throw new Error(`${start} is on no cycle of its component`);
}
