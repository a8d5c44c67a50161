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
  oci,
  parseJsonSource,
  ResultCache,
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
  // Checked once per content: a rebuild with the schema unchanged (its digest comes from a stat) does not read it.
  // The findings are stored under the digest of the bytes they come from, whatever the stat said.
  const verdicts = new ResultCache(compilation.options.cacheDir, "output-schemas", isFindings);
  const keyOf = (digest: string) => ResultCache.key({ version: CHECK_VERSION, digest });
  const known = await compilation.compiler.fileDigests.digest(file.absolute);
  let value = await verdicts.get(keyOf(known.digest));
  if (!value) {
    const bytes = await readFile(file.absolute);
    value = checkSchemaText(bytes.toString("utf8"));
    await verdicts.set(keyOf(oci.sha256Digest(bytes)), value);
  }
  for (const { message, where } of value.findings)
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
}

/** Bump when the checks change meaning, so that findings cached by an older version are not reused. */
const CHECK_VERSION = 1;

interface Findings {
  findings: Array<{ message: string; where: { line: number; column: number } }>;
}
const isFindings = (v: unknown): v is Findings => Array.isArray((v as Findings | null)?.findings);

/** Parses the text as JSON and checks it is a JSON Schema: the problems, positioned in the text. */
function checkSchemaText(text: string): Findings {
  const parsed = parseJsonSource(text);
  if (!parsed.ok)
    return { findings: [{ message: `not valid JSON: ${parsed.message}`, where: parsed.position }] };
  const check = checkJsonSchema(parsed.value);
  if (check.ok) return { findings: [] };
  return {
    findings: check.errors.map((e) => ({
      message: `${e.pointer || "(root)"}: ${e.message}`,
      where: parsed.locate(e.pointer),
    })),
  };
}
