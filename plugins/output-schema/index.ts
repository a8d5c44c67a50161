import { readFile } from "node:fs/promises";
import {
  type AgentrcPlugin,
  addSelectedFiles,
  type Compilation,
  type Compiler,
  checkJsonSchema,
  type DirectiveNode,
  diagnostic,
  directiveHasErrors,
  parseJsonSource,
  selectForDirective,
  trimEnd,
} from "../../src/core.js";

const NAME = "output-schema";

/**
 * `OUTPUT <schema.json>`: the structured-output schema. The file must exist, be JSON, and compile as JSON Schema
 * with ajv — draft-07, 2019-09 or 2020-12 as its `$schema` says (2020-12 when absent); otherwise
 * INVALID_OUTPUT_SCHEMA at the line and column in the schema file. The file goes into the data layer at its
 * context-relative path.
 */
export class OutputSchemaPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      compilation.hooks.selectFiles.tapPromise(NAME, async () => {
        const [node] = compilation.directives("OUTPUT");
        if (!node || typeof node.args.path !== "string" || directiveHasErrors(compilation, node)) return;
        await selectOutput(compilation, node);
      });
    });
  }
}

async function selectOutput(compilation: Compilation, node: DirectiveNode): Promise<void> {
  const path = String(node.args.path);
  const files = await selectForDirective({
    compilation,
    node,
    pointer: "/path",
    plugin: NAME,
    pattern: path,
    kind: "path",
  });
  if (!files) return;
  const file = files[0];
  const at = compilation.locate(node, "/path");
  if (files.length !== 1 || !file || file.path.startsWith(`${trimEnd(path.replace(/^(\.\/)+/, ""), "/")}/`)) {
    compilation.report(
      diagnostic(
        "INVALID_OUTPUT_SCHEMA",
        `OUTPUT ${path}: expected a JSON Schema file, found a directory`,
        at,
        {
          plugin: NAME,
        },
      ),
    );
    return;
  }
  addSelectedFiles(compilation, "data", files, node);
  const parsed = parseJsonSource(await readFile(file.absolute, "utf8"));
  const report = (message: string, where: { line: number; column: number }) =>
    compilation.report(
      diagnostic(
        "INVALID_OUTPUT_SCHEMA",
        `output schema ${file.path}: ${message}`,
        { file: file.path, ...where },
        {
          plugin: NAME,
        },
      ),
    );
  if (!parsed.ok) {
    report(`not valid JSON: ${parsed.message}`, parsed.position);
    return;
  }
  const check = checkJsonSchema(parsed.value);
  if (!check.ok)
    for (const e of check.errors) report(`${e.pointer || "(root)"}: ${e.message}`, parsed.locate(e.pointer));
}
