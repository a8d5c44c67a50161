import { createHash } from "node:crypto";
import { readFile, realpath } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { parseJsonSource } from "../fs/jsonSource.js";
import { canonicalJson } from "../util/canonicalJson.js";
import { toolRiskTier } from "./risk.js";
import { toolRefParts, toolShortNames } from "./toolRef.js";
import { normaliseToolSpec } from "./toolSpec.js";

/** Toolset names: lowercase, like skill names (the layer title of a toolset package). */
export const TOOLSET_NAME = /^[a-z0-9][a-z0-9._-]*$/;

/** One tool of a toolset, as the lock, the toolset package config and the agent's package config record it. */
export interface ToolsetTool {
  ref: string;
  namespace: string;
  name: string;
  server?: string;
  riskTier: "high" | "medium";
  /** sha256 of the tool's spec file, or of the canonical JSON `{ref}` for a tool declared without a spec. */
  digest: string;
  specFormat?: "mcp" | "openai" | "anthropic" | "utcp" | "plain";
  description?: string;
  inputSchema?: unknown;
  outputSchema?: unknown;
}

export interface Toolset {
  name: string;
  version?: string;
  description?: string;
  tools: ToolsetTool[];
  /** The spec files the toolset names, relative to its directory (a toolset package packs them). */
  specFiles: string[];
}

/** A problem in a toolset manifest or one of its spec files, at a 1-based line and column of that file. */
export interface ToolsetProblem {
  code: "TOOLSET_INVALID" | "INVALID_TOOL_SPEC" | "TOOL_SPEC_UNRECOGNISED";
  /** The file, relative to `root` (what the caller reports against). */
  file: string;
  line: number;
  column: number;
  message: string;
}

/**
 * Reads a toolset manifest: `{ "name", "version"?, "description"?, "tools": [{ "ref": "<ns>:<name>", "spec"?:
 * "<path>" }] }`, every spec path relative to the manifest's directory and inside `root`, each spec in any format
 * `normaliseToolSpec` knows (MCP, OpenAI, Anthropic, UTCP, plain). The result lists the tools in manifest order,
 * each with its digest; a problem anywhere leaves `toolset` undefined.
 */
export async function readToolset(
  root: string,
  manifestPath: string,
): Promise<{ toolset?: Toolset; problems: ToolsetProblem[] }> {
  const problems: ToolsetProblem[] = [];
  const file = relative(root, manifestPath).split(sep).join("/");
  const fail = (message: string, line = 1, column = 1) => {
    problems.push({ code: "TOOLSET_INVALID", file, line, column, message });
    return { problems };
  };
  let text: string;
  try {
    text = await readFile(manifestPath, "utf8");
  } catch (e) {
    return fail(`cannot be read: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
  const parsed = parseJsonSource(text);
  if (!parsed.ok) return fail(`is not JSON: ${parsed.message}`, parsed.position.line, parsed.position.column);
  const at = (pointer: string) => parsed.locate(pointer);
  const value = parsed.value as Record<string, unknown> | null;
  if (value === null || typeof value !== "object" || Array.isArray(value))
    return fail("must be a JSON object");
  const { name, version, description, tools } = value;
  if (typeof name !== "string" || !TOOLSET_NAME.test(name)) {
    const p = at("/name");
    return fail(
      `"name" must be a lowercase toolset name (got ${JSON.stringify(name ?? null)})`,
      p.line,
      p.column,
    );
  }
  if (version !== undefined && typeof version !== "string") {
    const p = at("/version");
    return fail(`"version" must be a string`, p.line, p.column);
  }
  if (description !== undefined && typeof description !== "string") {
    const p = at("/description");
    return fail(`"description" must be a string`, p.line, p.column);
  }
  if (!Array.isArray(tools) || tools.length === 0) {
    const p = at("/tools");
    return fail(
      `"tools" must be a non-empty array of { "ref": "<ns>:<name>", "spec"?: "<path>" }`,
      p.line,
      p.column,
    );
  }
  const out: ToolsetTool[] = [];
  const specFiles: string[] = [];
  const seen = new Set<string>();
  const realRoot = await realpath(root);
  for (const [i, entry] of tools.entries()) {
    const p = at(`/tools/${i}`);
    const ref = (entry as { ref?: unknown } | null)?.ref;
    const parts = typeof ref === "string" ? toolRefParts(ref) : undefined;
    if (!parts) {
      fail(
        `tools[${i}].ref must be a tool reference <ns>:<name> (got ${JSON.stringify(ref ?? null)})`,
        p.line,
        p.column,
      );
      continue;
    }
    if (seen.has(parts.ref)) {
      fail(`tools[${i}]: ${parts.ref} is listed twice`, p.line, p.column);
      continue;
    }
    seen.add(parts.ref);
    const tool: ToolsetTool = {
      ref: parts.ref,
      namespace: parts.namespace,
      name: parts.name,
      ...(parts.server === undefined ? {} : { server: parts.server }),
      riskTier: toolRiskTier(parts.ref),
      digest: `sha256:${createHash("sha256")
        .update(canonicalJson({ ref: parts.ref }))
        .digest("hex")}`,
    };
    const spec = (entry as { spec?: unknown }).spec;
    if (spec !== undefined) {
      const sp = at(`/tools/${i}/spec`);
      if (typeof spec !== "string" || spec === "") {
        fail(`tools[${i}].spec must be a path`, sp.line, sp.column);
        continue;
      }
      const absolute = join(dirname(manifestPath), spec);
      const real = await realpath(absolute).catch(() => undefined);
      const inside = real !== undefined && (real === realRoot || real.startsWith(realRoot + sep));
      if (!inside) {
        fail(
          real === undefined
            ? `tools[${i}].spec ${spec} does not exist`
            : `tools[${i}].spec ${spec} leaves the toolset's directory`,
          sp.line,
          sp.column,
        );
        continue;
      }
      const specFile = relative(root, absolute).split(sep).join("/");
      const bytes = await readFile(real);
      const specSource = parseJsonSource(bytes.toString("utf8"));
      if (!specSource.ok) {
        problems.push({
          code: "INVALID_TOOL_SPEC",
          file: specFile,
          line: specSource.position.line,
          column: specSource.position.column,
          message: `${specFile} is not JSON: ${specSource.message}`,
        });
        continue;
      }
      const normalised = normaliseToolSpec(specSource.value, [parts.ref, ...toolShortNames(parts.ref)]);
      for (const problem of normalised.problems) {
        if (problem.code === "TOOL_SPEC_NO_OUTPUT_SCHEMA") continue;
        const pos = specSource.locate(problem.pointer);
        problems.push({
          code: problem.code,
          file: specFile,
          line: pos.line,
          column: pos.column,
          message: `${specFile}: ${problem.message}`,
        });
      }
      if (!normalised.spec) continue;
      tool.digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
      tool.specFormat = normalised.spec.format;
      if (normalised.spec.description !== undefined) tool.description = normalised.spec.description;
      tool.inputSchema = normalised.spec.inputSchema;
      if (normalised.spec.outputSchema !== undefined) tool.outputSchema = normalised.spec.outputSchema;
      specFiles.push(specFile);
    }
    out.push(tool);
  }
  if (problems.length > 0) return { problems };
  return {
    toolset: {
      name,
      ...(version === undefined ? {} : { version }),
      ...(description === undefined ? {} : { description }),
      tools: out,
      specFiles,
    },
    problems,
  };
}
