import { createHash } from "node:crypto";
import { lstat, readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type AgentrcPlugin,
  addSelectedFiles,
  type Compilation,
  type Compiler,
  canonicalJson,
  type DirectiveNode,
  diagnostic,
  directiveHasErrors,
  loadIgnoreFile,
  type NormalisedToolSpec,
  normaliseRelative,
  normaliseToolSpec,
  type PackageConfig,
  type PackageToolMetadata,
  parseJsonSource,
  type SelectedFile,
  selectForDirective,
  toolRefParts,
  toolRiskTier,
} from "../../src/core.js";
import { lockTools } from "./lock.js";

const NAME = "tools";

/** The sibling tool spec of a tool at `<path>`: `<path>.toolspec.json`. */
export const TOOLSPEC_SUFFIX = ".toolspec.json";

/**
 * `TOOL <ns>:<name> <path>`: the file (or every file of the directory) goes into the tools layer at its
 * context-relative path, executable bits kept. The tool spec is the path itself when it ends in `.json`, else an
 * optional sibling `<path>.toolspec.json` (packed beside the tool), in any format tools publish (MCP, OpenAI,
 * Anthropic, UTCP, plain; src/tools/toolSpec.ts). Every schema in it must compile as JSON Schema; problems are
 * reported at the offending line and column of the spec file. The lock's `tools` section is recorded here too
 * (lock.ts), and the package config's normalised metadata of every TOOL (`tools`, docs/package.md).
 */
export class ToolsPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      const selected = new Map<DirectiveNode, SelectedTool>();
      compilation.hooks.selectFiles.tapPromise(NAME, () => selectTools(compilation, selected));
      compilation.hooks.lock.tapPromise(NAME, (lock) => lockTools(lock, compilation));
      compilation.hooks.packageConfig.tapPromise(NAME, async (config) =>
        withToolMetadata(compilation, selected, config),
      );
    });
  }
}

/** What selection found for one TOOL: its own files (not the sibling spec) and its normalised spec. */
interface SelectedTool {
  files: SelectedFile[];
  spec?: NormalisedToolSpec;
}

async function selectTools(
  compilation: Compilation,
  selected: Map<DirectiveNode, SelectedTool>,
): Promise<void> {
  const nodes = compilation
    .directives("TOOL")
    .filter((n) => typeof n.args.path === "string" && !directiveHasErrors(compilation, n));
  if (nodes.length === 0) return;
  const ignore = await loadIgnoreFile(compilation.context);
  await Promise.all(nodes.map((node) => selectTool(compilation, node, ignore, selected)));
}

async function selectTool(
  compilation: Compilation,
  node: DirectiveNode,
  ignore: Awaited<ReturnType<typeof loadIgnoreFile>>,
  selected: Map<DirectiveNode, SelectedTool>,
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
  let specFile: SelectedFile | undefined;
  if (single?.path.endsWith(".json")) {
    specFile = single;
  } else {
    const sibling = await selectSibling(compilation, node, `${normalised(path)}${TOOLSPEC_SUFFIX}`);
    if (sibling) {
      addSelectedFiles(compilation, "tools", [sibling], node);
      specFile = sibling;
    }
  }
  const spec = specFile ? await checkToolSpec(compilation, node, specFile) : undefined;
  selected.set(node, { files, ...(spec ? { spec } : {}) });
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

/** Reads, normalises and checks a tool spec; returns it when it has no error. */
async function checkToolSpec(
  compilation: Compilation,
  node: DirectiveNode,
  file: SelectedFile,
): Promise<NormalisedToolSpec | undefined> {
  const text = await readFile(file.absolute, "utf8");
  const parsed = parseJsonSource(text);
  if (!parsed.ok) {
    compilation.report(
      diagnostic(
        "INVALID_TOOL_SPEC",
        `tool spec ${file.path}: not valid JSON: ${parsed.message}`,
        { file: file.path, ...parsed.position },
        { plugin: NAME },
      ),
    );
    return undefined;
  }
  const ref = typeof node.args.ref === "string" ? node.args.ref : "";
  const parts = toolRefParts(ref);
  const names = [...new Set([ref, ...(parts ? [parts.qualified, parts.name] : [])])];
  const result = normaliseToolSpec(parsed.value, names);
  for (const problem of result.problems) {
    compilation.report(
      diagnostic(
        problem.code,
        `tool spec ${file.path}: ${problem.message}`,
        { file: file.path, ...parsed.locate(problem.pointer) },
        {
          plugin: NAME,
          ...(problem.hint ? { hint: problem.hint } : {}),
        },
      ),
    );
  }
  return result.spec;
}

/** Adds `tools` to the package config: every TOOL in Agentfile order, with what its spec says. */
async function withToolMetadata(
  compilation: Compilation,
  selected: ReadonlyMap<DirectiveNode, SelectedTool>,
  config: PackageConfig,
): Promise<PackageConfig> {
  const tools: PackageToolMetadata[] = [];
  for (const node of compilation.directives("TOOL")) {
    const parts = typeof node.args.ref === "string" ? toolRefParts(node.args.ref) : undefined;
    if (!parts) continue;
    const found = selected.get(node);
    const digest = found ? await toolDigest(compilation, found.files) : undefined;
    const spec = found?.spec;
    tools.push({
      ref: parts.ref,
      namespace: parts.namespace,
      name: parts.name,
      ...(parts.server ? { server: parts.server } : {}),
      riskTier: toolRiskTier(parts.ref),
      ...(digest ? { digest } : {}),
      ...(spec
        ? {
            specFormat: spec.format,
            ...(spec.description !== undefined ? { description: spec.description } : {}),
            inputSchema: spec.inputSchema,
            ...(spec.outputSchema !== undefined ? { outputSchema: spec.outputSchema } : {}),
          }
        : {}),
    });
  }
  return tools.length > 0 ? { ...config, tools } : config;
}

/** sha256 of a one-file tool (as in agentrc.lock); of the canonical list of {path, sha256} for a directory. */
async function toolDigest(compilation: Compilation, files: readonly SelectedFile[]): Promise<string> {
  const digests = await Promise.all(
    files.map(async (f) => ({
      path: f.path,
      sha256: (
        await compilation.fileDigest({
          path: f.path,
          source: f.absolute,
          size: f.size,
          executable: f.executable,
        })
      ).digest,
    })),
  );
  if (digests.length === 1) return digests[0]!.sha256;
  return `sha256:${createHash("sha256").update(canonicalJson(digests)).digest("hex")}`;
}
