import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type * as CedarWasm from "@cedar-policy/cedar-wasm/nodejs";
import {
  type BuiltinCode,
  type Diagnostic,
  diagnostic,
  packageRoot,
  type SourceLocation,
} from "../../src/core.js";
import { locateOffset } from "./location.js";

export type Cedar = typeof CedarWasm;
type DetailedError = CedarWasm.DetailedError;

let engine: Promise<Cedar> | undefined;

/** The real Cedar engine (WebAssembly), loaded on first use so that commands without policies do not pay for it. */
export function loadCedar(): Promise<Cedar> {
  engine ??= import("@cedar-policy/cedar-wasm/nodejs");
  return engine;
}

export const SCHEMA_FILE = "agentrc.cedarschema";
let schemaText: string | undefined;

/** The agentrc Cedar schema shipped in `schemas/agentrc.cedarschema` (Cedar schema syntax). */
export function agentrcCedarSchema(): string {
  schemaText ??= readFileSync(join(packageRoot(), "schemas", SCHEMA_FILE), "utf8");
  return schemaText;
}

const schemaJson = new Map<string, CedarWasm.Schema>();

/**
 * The schema in Cedar's JSON form, converted once per schema text: `validate` re-parses a text schema on every call,
 * which costs about five times more than reading the JSON form (measured: 60 calls, 1.9 s vs 0.4 s).
 */
function parsedSchema(cedar: Cedar, text: string): CedarWasm.Schema {
  let json = schemaJson.get(text);
  if (!json) {
    const answer = cedar.schemaToJson(text);
    json = answer.type === "success" ? answer.json : text;
    schemaJson.set(text, json);
  }
  return json;
}

/** One piece of Cedar text that goes into the merged policy set. */
export interface PolicySource {
  kind: "inline" | "file" | "shorthand";
  /** Cedar text, as written (inline blocks, files) or generated (shorthands). */
  text: string;
  /** File that holds the text (the Agentfile or policy/<x>.cedar), relative to the build context. */
  file: string;
  /**
   * Line of `file` on which the text's first line sits (1 for a .cedar file, the line after POLICY for a block).
   * Absent for generated text: every problem in it is reported at `anchor`.
   */
  firstLine?: number;
  /** Where problems without a source span are reported: the POLICY line, line 1 of the file, the directive. */
  anchor: SourceLocation;
  /** Comment written above the text in the merged policy, naming where it comes from. */
  label?: string;
  /** Short human description, used in messages ("the POLICY block at line 12"). */
  describe: string;
}

export interface PolicyCompileResult {
  /** Present when every source parsed and validated. */
  text?: string;
  hash?: string;
  /** Diagnostics in source order; the caller adds its plugin name. */
  diagnostics: Diagnostic[];
  /** Number of policies each source contributes, in merge order (to attribute Cedar decisions to sources). */
  counts: number[];
}

/** Formatter settings are fixed: the formatted text is hashed, so it must not depend on anyone's preferences. */
const FORMAT = { lineWidth: 80, indentWidth: 2 } as const;

/** `sha256:<hex>` of the UTF-8 bytes of `text`. */
export function policyHash(text: string): string {
  return `sha256:${createHash("sha256").update(text, "utf8").digest("hex")}`;
}

/**
 * Checks every source (syntax, then validation against the agentrc schema in strict mode), then merges them in the
 * given order, formats the result canonically and hashes it. Problems are mapped back to the source they come from.
 */
export async function compilePolicySources(
  sources: readonly PolicySource[],
  schema: string = agentrcCedarSchema(),
): Promise<PolicyCompileResult> {
  const cedar = await loadCedar();
  const validationSchema = parsedSchema(cedar, schema);
  const diagnostics: Diagnostic[] = [];
  const counts: number[] = [];
  let failed = false;
  // Shorthands are generated, one policy each: checked all at once (one Cedar call, not three per line).
  const shorthands = sources.filter((s) => s.kind === "shorthand");
  const batched = shorthands.length > 1 && checkShorthands(cedar, validationSchema, shorthands, diagnostics);
  if (batched === "failed") failed = true;
  for (const source of sources) {
    if (batched && source.kind === "shorthand") {
      counts.push(1);
      continue;
    }
    const parsed = cedar.checkParsePolicySet({ staticPolicies: source.text });
    if (parsed.type === "failure") {
      failed = true;
      for (const e of parsed.errors) diagnostics.push(toDiagnostic("POLICY_SYNTAX", e, source));
      counts.push(0);
      continue;
    }
    const parts = cedar.policySetTextToParts(source.text);
    counts.push(parts.type === "success" ? parts.policies.length : 0);
    const validated = cedar.validate({
      schema: validationSchema,
      policies: { staticPolicies: source.text },
      validationSettings: { mode: "strict" },
    });
    if (validated.type === "failure") {
      failed = true;
      for (const e of validated.errors) diagnostics.push(toDiagnostic("POLICY_INVALID", e, source));
      continue;
    }
    const reported = new Set<string>();
    for (const { policyId, error } of validated.validationErrors) {
      failed = true;
      reported.add(policyId);
      diagnostics.push(toDiagnostic("POLICY_INVALID", error, source));
    }
    // A policy with errors usually also draws "impossible policy" warnings, which add nothing; and one warning
    // per policy is enough (Cedar often gives two for the same cause).
    for (const { policyId, error } of validated.validationWarnings) {
      if (reported.has(policyId)) continue;
      reported.add(policyId);
      diagnostics.push(toDiagnostic("POLICY_WARNING", error, source));
    }
  }
  if (failed) return { diagnostics, counts };
  const merged = mergeText(sources);
  if (merged === "") return { text: "", hash: policyHash(""), diagnostics, counts };
  const formatted = formatMerged(cedar, sources);
  if (formatted.type === "failure") {
    const [first] = sources;
    for (const e of formatted.errors) {
      diagnostics.push(
        diagnostic("POLICY_SYNTAX", `Cedar could not format the merged policy: ${e.message}`, first?.anchor),
      );
    }
    return { diagnostics, counts };
  }
  const text = formatted.formatted_policy;
  return { text, hash: policyHash(text), diagnostics, counts };
}

/** The merged text of some sources: each with its label comment, in order, separated by a blank line. */
function mergeText(sources: readonly PolicySource[]): string {
  return sources.map((s) => `${s.label ? `// ${s.label}\n` : ""}${s.text.trimEnd()}\n`).join("\n");
}

/** Shorthand policies formatted per call: Cedar's formatter takes time quadratic in the policies it is given. */
const FORMAT_CHUNK = 64;

/**
 * Formats the merged policy as one `formatPolicies` call would, in linear time: everything up to and including the
 * first shorthands in one call (comments attach across that boundary), then the remaining shorthands — generated
 * text without comments, so formatting them apart gives the same bytes — in chunks.
 */
function formatMerged(
  cedar: Cedar,
  sources: readonly PolicySource[],
): { type: "success"; formatted_policy: string } | { type: "failure"; errors: { message: string }[] } {
  let split = sources.findIndex((s) => s.kind === "shorthand");
  split = split < 0 ? sources.length : Math.min(sources.length, split + FORMAT_CHUNK);
  const parts: string[] = [];
  for (let start = 0; start < sources.length; ) {
    const end = start === 0 ? split : Math.min(sources.length, start + FORMAT_CHUNK);
    const chunk = sources.slice(start, end);
    if (start > 0 && chunk.some((s) => s.kind !== "shorthand" || s.label !== undefined)) {
      // Not generated text after all: format the rest in one call.
      const rest = cedar.formatPolicies({ policyText: mergeText(sources.slice(start)), ...FORMAT });
      if (rest.type === "failure") return rest;
      parts.push(rest.formatted_policy);
      break;
    }
    const formatted = cedar.formatPolicies({ policyText: mergeText(chunk), ...FORMAT });
    if (formatted.type === "failure") return formatted;
    parts.push(formatted.formatted_policy);
    start = end;
  }
  return { type: "success", formatted_policy: parts.join("\n") };
}

/**
 * Parses and validates every shorthand in one Cedar call, reporting problems at the directive each policy comes
 * from. Returns false when the batch does not parse (each source is then checked alone, for precise messages),
 * "failed" when a policy is invalid, true when all are valid.
 */
function checkShorthands(
  cedar: Cedar,
  schema: CedarWasm.Schema,
  shorthands: readonly PolicySource[],
  diagnostics: Diagnostic[],
): boolean | "failed" {
  const text = shorthands.map((s) => s.text).join("\n");
  const parts = cedar.policySetTextToParts(text);
  if (parts.type === "failure" || parts.policies.length !== shorthands.length) return false;
  const validated = cedar.validate({
    schema,
    policies: { staticPolicies: text },
    validationSettings: { mode: "strict" },
  });
  if (validated.type === "failure") return false;
  // Cedar numbers the policies of a text policy set policy0, policy1, … in order.
  const sourceOf = (policyId: string) => shorthands[Number(/^policy(\d+)$/.exec(policyId)?.[1] ?? 0)]!;
  const reported = new Set<string>();
  let ok = true;
  for (const { policyId, error } of validated.validationErrors) {
    ok = false;
    reported.add(policyId);
    diagnostics.push(toDiagnostic("POLICY_INVALID", error, sourceOf(policyId)));
  }
  for (const { policyId, error } of validated.validationWarnings) {
    if (reported.has(policyId)) continue;
    reported.add(policyId);
    diagnostics.push(toDiagnostic("POLICY_WARNING", error, sourceOf(policyId)));
  }
  return ok ? true : "failed";
}

export interface ToolDecision {
  allowed: boolean;
  /** Indices (into the compiled sources) of the policies that decided: the forbids when denied by one. */
  determining: number[];
}

/**
 * Asks Cedar whether `agent` may invoke `tool` under the compiled policy: the request has an empty context and no
 * entities, i.e. only what the policy grants unconditionally.
 */
export async function decideToolInvoke(
  policyText: string,
  counts: readonly number[],
  agent: string,
  tool: string,
): Promise<ToolDecision> {
  const cedar = await loadCedar();
  // From here on synchronous: the preparsed set cannot be replaced by another compilation before it is used.
  const policySetId = preparsed(cedar, policyText);
  const answer = cedar.statefulIsAuthorized({
    principal: { type: "AgentRC::Agent", id: agent },
    action: { type: "AgentRC::Action", id: "tool.invoke" },
    resource: { type: "AgentRC::Tool", id: tool },
    context: {},
    preparsedPolicySetId: policySetId,
    entities: [],
  });
  if (answer.type === "failure") {
    throw new Error(
      `Cedar could not evaluate the compiled policy: ${answer.errors.map((e) => e.message).join("; ")}`,
    );
  }
  const { decision, diagnostics } = answer.response;
  const determining = new Set<number>();
  for (const id of diagnostics.reason) {
    const n = /^policy(\d+)$/.exec(id);
    if (n) determining.add(sourceOfPolicy(counts, Number(n[1])));
  }
  return { allowed: decision === "allow", determining: [...determining].sort((a, b) => a - b) };
}

const PREPARSED_ID = "agentrc-compiled-policy";
let preparsedText: string | undefined;

/**
 * The id of `policyText` parsed once into Cedar's cache (one slot, replaced when the text changes): asking about
 * every TOOL with the text itself parsed the whole policy again per TOOL, tools × policies in all.
 */
function preparsed(cedar: Cedar, policyText: string): string {
  if (preparsedText !== policyText) {
    const answer = cedar.preparsePolicySet(PREPARSED_ID, { staticPolicies: policyText });
    if (answer.type === "failure") {
      preparsedText = undefined;
      throw new Error(
        `Cedar could not parse the compiled policy: ${answer.errors.map((e) => e.message).join("; ")}`,
      );
    }
    preparsedText = policyText;
  }
  return PREPARSED_ID;
}

/** Cedar numbers the policies of a text policy0, policy1, … in order; find the source holding policy `n`. */
function sourceOfPolicy(counts: readonly number[], n: number): number {
  let seen = 0;
  for (let i = 0; i < counts.length; i++) {
    seen += counts[i]!;
    if (n < seen) return i;
  }
  return counts.length - 1;
}

const PARSE_PREFIX = /^failed to parse polic(y|ies)( set)? from string: /;
const POLICY_PREFIX = /^for policy `[^`]*`, /;

function toDiagnostic(code: BuiltinCode, error: DetailedError, source: PolicySource): Diagnostic {
  let message = error.message.replace(PARSE_PREFIX, "").replace(POLICY_PREFIX, "");
  const span =
    error.sourceLocations?.[0] ?? error.related?.find((r) => r.sourceLocations?.length)?.sourceLocations?.[0];
  if (span?.label) message += ` (${span.label})`;
  let location = source.anchor;
  if (source.firstLine !== undefined) {
    let offset = span?.start;
    if (offset === undefined && /includes a template/.test(error.message)) {
      // Cedar gives no span for a template in a static policy set: point at the first slot.
      const slot = /\?(principal|resource)\b/.exec(source.text);
      if (slot) offset = Buffer.byteLength(source.text.slice(0, slot.index), "utf8");
      message = "a policy template (a policy with ?principal or ?resource slots) cannot be packaged";
    }
    if (offset !== undefined) {
      const at = locateOffset(source.text, offset);
      location = { file: source.file, line: source.firstLine + at.line - 1, column: at.column };
    }
  } else {
    message = `${source.describe}: ${message}`;
  }
  return diagnostic(code, `Cedar: ${message}`, location, error.help ? { hint: error.help } : {});
}
