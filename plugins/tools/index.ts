import { lstat, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type AgentrcPlugin,
  addSelectedFiles,
  type Compilation,
  type Compiler,
  checkJsonSchema,
  type DirectiveNode,
  diagnostic,
  directiveHasErrors,
  loadIgnoreFile,
  normaliseRelative,
  parseJsonSource,
  type SelectedFile,
  selectForDirective,
} from "../../src/core.js";
import { lockTools } from "./lock.js";

const NAME = "tools";

/** The sibling tool spec of a tool at `<path>`: `<path>.toolspec.json`. */
export const TOOLSPEC_SUFFIX = ".toolspec.json";

/**
 * `TOOL <ns>:<name> <path>`: the file (or every file of the directory) goes into the tools layer at its
 * context-relative path, executable bits kept. The tool spec is the path itself when it ends in `.json`, else an
 * optional sibling `<path>.toolspec.json` (packed beside the tool). A spec is JSON with `name`, `description`,
 * `input_schema` and `output_schema`, both schemas compiling as JSON Schema; problems are INVALID_TOOL_SPEC at the
 * offending line and column of the spec file. The lock's `tools` section is recorded here too (lock.ts).
 */
export class ToolsPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      compilation.hooks.selectFiles.tapPromise(NAME, () => selectTools(compilation));
      compilation.hooks.lock.tapPromise(NAME, (lock) => lockTools(lock, compilation));
    });
  }
}

async function selectTools(compilation: Compilation): Promise<void> {
  const nodes = compilation
    .directives("TOOL")
    .filter((n) => typeof n.args.path === "string" && !directiveHasErrors(compilation, n));
  if (nodes.length === 0) return;
  const ignore = await loadIgnoreFile(compilation.context);
  await Promise.all(nodes.map((node) => selectTool(compilation, node, ignore)));
}

async function selectTool(
  compilation: Compilation,
  node: DirectiveNode,
  ignore: Awaited<ReturnType<typeof loadIgnoreFile>>,
): Promise<void> {
  const path = String(node.args.path);
  const files = await selectForDirective({
    compilation,
    node,
    pointer: "/path",
    plugin: NAME,
    pattern: path,
    kind: "path",
    ignore,
  });
  if (!files) return;
  if (files.length === 0) {
    compilation.report(
      diagnostic(
        "FILE_NOT_FOUND",
        `TOOL ${String(node.args.ref)}: "${path}" is a directory with no files`,
        compilation.locate(node, "/path"),
        {
          plugin: NAME,
        },
      ),
    );
    return;
  }
  addSelectedFiles(compilation, "tools", files, node);
  const single = files.length === 1 && files[0]!.path === normalised(path) ? files[0] : undefined;
  let spec: SelectedFile | undefined;
  if (single?.path.endsWith(".json")) {
    spec = single;
  } else {
    const sibling = await selectSibling(compilation, node, `${normalised(path)}${TOOLSPEC_SUFFIX}`);
    if (sibling) {
      addSelectedFiles(compilation, "tools", [sibling], node);
      spec = sibling;
    }
  }
  if (spec) await checkToolSpec(compilation, node, spec);
}

const normalised = (p: string): string => normaliseRelative(p) ?? p;

/** The optional `<path>.toolspec.json`: absent is fine; present, it obeys the usual path rules. */
async function selectSibling(
  compilation: Compilation,
  node: DirectiveNode,
  rel: string,
): Promise<SelectedFile | undefined> {
  const exists = await lstat(join(compilation.context, ...rel.split("/"))).catch(() => undefined);
  if (!exists) return undefined;
  const files = await selectForDirective({
    compilation,
    node,
    pointer: "/path",
    plugin: NAME,
    pattern: rel,
    kind: "path",
  });
  return files?.[0];
}

async function checkToolSpec(
  compilation: Compilation,
  node: DirectiveNode,
  spec: SelectedFile,
): Promise<void> {
  const text = await readFile(spec.absolute, "utf8");
  const parsed = parseJsonSource(text);
  const report = (message: string, at: { line: number; column: number }) =>
    compilation.report(
      diagnostic(
        "INVALID_TOOL_SPEC",
        `tool spec ${spec.path}: ${message}`,
        { file: spec.path, ...at },
        { plugin: NAME },
      ),
    );
  if (!parsed.ok) {
    report(`not valid JSON: ${parsed.message}`, parsed.position);
    return;
  }
  const value = parsed.value;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    report("must be a JSON object with name, description, input_schema and output_schema", parsed.locate(""));
    return;
  }
  const obj = value as Record<string, unknown>;
  for (const key of ["name", "description"] as const) {
    if (!(key in obj)) report(`missing "${key}"`, parsed.locate(""));
    else if (typeof obj[key] !== "string" || obj[key] === "")
      report(`"${key}" must be a non-empty string`, parsed.locate(`/${key}`));
  }
  const toolName = typeof node.args.name === "string" ? node.args.name : undefined;
  const ref = typeof node.args.ref === "string" ? node.args.ref : undefined;
  if (
    typeof obj.name === "string" &&
    obj.name !== "" &&
    toolName &&
    obj.name !== toolName &&
    obj.name !== ref
  ) {
    report(`"name" is "${obj.name}" but the TOOL is ${ref}`, parsed.locate("/name"));
  }
  for (const key of ["input_schema", "output_schema"] as const) {
    if (!(key in obj)) {
      report(`missing "${key}" (a JSON Schema)`, parsed.locate(""));
      continue;
    }
    const check = checkJsonSchema(obj[key]);
    if (!check.ok) {
      for (const e of check.errors)
        report(`${key}${e.pointer}: ${e.message}`, parsed.locate(`/${key}${e.pointer}`));
    }
  }
}
