import { open, stat } from "node:fs/promises";
import {
  type AgentrcPlugin,
  addSelectedFiles,
  type Compilation,
  type Compiler,
  type DirectiveNode,
  diagnostic,
  directiveHasErrors,
  type Lockfile,
  normaliseRelative,
  selectForDirective,
} from "../../src/core.js";

const NAME = "functions";
/** Files larger than this are packed without the symbol check. */
const SYMBOL_CHECK_LIMIT = 4 * 1024 * 1024;

/**
 * `FUNCTION <path>:<symbol>`: the source file goes into the source layer at its context-relative path. The file
 * must exist and be a regular file. A quick textual check that the symbol is defined there (def, function, class,
 * const/let/var, export, func, fn, or a top-level assignment) gives a FUNCTION_SYMBOL_NOT_FOUND warning when it
 * fails; it is a heuristic, not a parser. The lock's `functions` section (path, symbol, file digest) is recorded
 * here too.
 */
export class FunctionsPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      compilation.hooks.selectFiles.tapPromise(NAME, async () => {
        const nodes = compilation
          .directives("FUNCTION")
          .filter(
            (n) =>
              typeof n.args.path === "string" &&
              typeof n.args.symbol === "string" &&
              !directiveHasErrors(compilation, n),
          );
        await Promise.all(nodes.map((node) => selectFunction(compilation, node)));
      });
      compilation.hooks.lock.tapPromise(NAME, (lock) => lockFunctions(lock, compilation));
    });
  }
}

async function lockFunctions(lock: Lockfile, compilation: Compilation): Promise<Lockfile> {
  const functions = compilation.directives<{ path: string; symbol: string }>("FUNCTION");
  if (functions.length === 0) return lock;
  const entries = await Promise.all(
    functions.map(async (f) => {
      const file = compilation.files.get("source")?.get(normaliseRelative(f.args.path) ?? f.args.path);
      return {
        path: f.args.path,
        symbol: f.args.symbol,
        ...(file ? { digest: (await compilation.fileDigest(file)).digest } : {}),
      };
    }),
  );
  return { ...lock, functions: entries };
}

async function selectFunction(compilation: Compilation, node: DirectiveNode): Promise<void> {
  const path = String(node.args.path);
  const symbol = String(node.args.symbol);
  const at = compilation.locate(node, "/ref");
  const resolved = await compilation.resolvePath(path, node, "/ref", NAME);
  if (!resolved) return;
  if ((await stat(resolved.absolute)).isDirectory()) {
    compilation.report(
      diagnostic(
        "INVALID_ARGUMENTS",
        `FUNCTION ${path}:${symbol}: "${path}" is a directory, not a source file`,
        at,
        {
          plugin: NAME,
          hint: "FUNCTION takes <file>:<symbol>, for example functions/triage.py:classify.",
        },
      ),
    );
    return;
  }
  const files = await selectForDirective({
    compilation,
    node,
    pointer: "/ref",
    plugin: NAME,
    pattern: resolved.relative,
    kind: "path",
  });
  const file = files?.[0];
  if (!files || !file) return;
  addSelectedFiles(compilation, "source", files, node);
  if (file.size > SYMBOL_CHECK_LIMIT) return;
  const text = await readText(file.absolute);
  if (text === undefined || definesSymbol(text, symbol)) return;
  compilation.report(
    diagnostic(
      "FUNCTION_SYMBOL_NOT_FOUND",
      `FUNCTION ${path}:${symbol}: no definition of "${symbol}" found in ${file.path}`,
      at,
      { plugin: NAME },
    ),
  );
}

async function readText(path: string): Promise<string | undefined> {
  const handle = await open(path, "r");
  try {
    const buf = await handle.readFile();
    if (buf.subarray(0, 8000).includes(0)) return undefined; // binary: no check
    return buf.toString("utf8");
  } finally {
    await handle.close();
  }
}

const escapeRegex = (s: string): string => s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

/**
 * Whether `symbol` looks defined in `text`. For a dotted symbol (`Class.method`) each part must be defined.
 * Recognised: `def`/`async def`/`class` (Python), `function`/`function*`/`class`/`const`/`let`/`var`/`export`
 * and `export { … }` lists, `exports.x =`/`module.exports = { x }` (JavaScript/TypeScript), `func` (Go, also
 * methods), `fn` (Rust), `interface`/`type`/`enum`, and a top-level `x =`/`x: T =` assignment.
 */
export function definesSymbol(text: string, symbol: string): boolean {
  return symbol.split(".").every((part) => definesName(text, part));
}

function definesName(text: string, name: string): boolean {
  const n = escapeRegex(name);
  const end = "(?![A-Za-z0-9_$])";
  const start = "(?<![A-Za-z0-9_$])";
  const patterns = [
    `${start}(?:async\\s+)?def\\s+${n}${end}`,
    `${start}(?:async\\s+)?function\\s*\\*?\\s*${n}${end}`,
    `${start}(?:class|const|let|var|interface|type|enum|struct|trait|module|namespace)\\s+${n}${end}`,
    `${start}func\\s+(?:\\([^)]*\\)\\s*)?${n}${end}`,
    `${start}fn\\s+${n}${end}`,
    `${start}export\\s+(?:default\\s+)?${n}${end}`,
    `${start}export\\s*\\{[^}]*${start}${n}${end}[^}]*\\}`,
    `${start}(?:module\\.)?exports\\.${n}\\s*=`,
    `${start}module\\.exports\\s*=\\s*\\{[^}]*${start}${n}${end}[^}]*\\}`,
    `^[ \\t]*${n}\\s*(?::[^=\\n]+)?=(?!=)`,
  ];
  return new RegExp(patterns.join("|"), "m").test(text);
}
