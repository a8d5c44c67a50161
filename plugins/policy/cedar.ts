import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import type * as CedarWasm from "@cedar-policy/cedar-wasm/nodejs";
import {
  type BuiltinCode,
  type Diagnostic,
  diagnostic,
  type PolicyOrigin,
  packageRoot,
  type SourceLocation,
} from "../../src/core.js";
import { clauseAt, guardedClause } from "./conditions.js";
import {
  EntityNameIndex,
  type EntityNames,
  enumeratedSchema,
  fullForm,
  type NameProblem,
  undeclaredEntity,
} from "./entityNames.js";
import { lineColumn, locateOffset, utf16Index, utf16Indexer } from "./location.js";
import { cedarString } from "./shorthand.js";

export type Cedar = typeof CedarWasm;
type DetailedError = CedarWasm.DetailedError;

let engine: Promise<Cedar> | undefined;

/** The real Cedar engine (WebAssembly), loaded on first use so that commands without policies do not pay for it. */
export function loadCedar(): Promise<Cedar> {
  engine ??= import("@cedar-policy/cedar-wasm/nodejs");
  return engine;
}

let version: string | undefined;

/** The installed Cedar engine's version, read from its package.json without loading the engine. */
export function cedarVersion(): string {
  version ??= (() => {
    const entry = createRequire(import.meta.url).resolve("@cedar-policy/cedar-wasm/nodejs");
    const pkg = JSON.parse(readFileSync(join(dirname(entry), "..", "package.json"), "utf8")) as {
      version?: unknown;
    };
    return String(pkg.version);
  })();
  return version;
}

export const SCHEMA_FILE = "agentrc.cedarschema";
let schemaText: string | undefined;

/** The agentrc Cedar schema shipped in `schemas/agentrc.cedarschema` (Cedar schema syntax). */
export function agentrcCedarSchema(): string {
  schemaText ??= readFileSync(join(packageRoot(), "schemas", SCHEMA_FILE), "utf8");
  return schemaText;
}

const schemaJson = new Map<string, CedarWasm.Schema>();

/** Where `npm run build` writes the shipped schema's JSON form (scripts/compile-cedar-schema.mjs). */
export const PRECOMPILED_SCHEMA = join("dist", "validators", `${SCHEMA_FILE}.json`);

/** What the precompiled file holds: the JSON form, and what it was converted from. */
export interface PrecompiledCedarSchema {
  /** sha256 (hex) of the schema text it was converted from. */
  textSha256: string;
  /** The Cedar engine version that converted it. */
  cedarVersion: string;
  json: CedarWasm.Schema;
}

/**
 * The JSON form `npm run build` stored for `text`, when it was converted from these very bytes by this Cedar
 * version (a schema edited since, or another engine, falls back to converting here).
 */
export function precompiledSchema(
  text: string,
  file = join(packageRoot(), PRECOMPILED_SCHEMA),
): CedarWasm.Schema | undefined {
  let stored: PrecompiledCedarSchema;
  try {
    stored = JSON.parse(readFileSync(file, "utf8")) as PrecompiledCedarSchema;
  } catch {
    return undefined;
  }
  const sha = createHash("sha256").update(text, "utf8").digest("hex");
  return stored.textSha256 === sha && stored.cedarVersion === cedarVersion() ? stored.json : undefined;
}

/**
 * The schema in Cedar's JSON form, once per schema text: `validate` re-parses a text schema on every call, which
 * costs about five times more than reading the JSON form (measured: 60 calls, 1.9 s vs 0.4 s). The shipped schema's
 * JSON form is converted at build time (`precompiledSchema`), so a start does not pay for the conversion.
 */
export function parsedSchema(cedar: Cedar, text: string): CedarWasm.Schema {
  let json = schemaJson.get(text);
  if (!json) {
    json = precompiledSchema(text);
    if (json === undefined) {
      const answer = cedar.schemaToJson(text);
      json = answer.type === "success" ? answer.json : text;
    }
    schemaJson.set(text, json);
  }
  return json;
}

const enumerated = new Map<CedarWasm.Schema, CedarWasm.Schema | undefined>();

/** The schema with Tool and Function enumerated (entityNames.ts), built once per schema. */
function enumeratedSchemaOf(schema: CedarWasm.Schema): CedarWasm.Schema | undefined {
  if (!enumerated.has(schema))
    enumerated.set(schema, enumeratedSchema(schema) as CedarWasm.Schema | undefined);
  return enumerated.get(schema);
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
  /** Where each policy of `text` was written, in the order of `text` (Cedar's `policy0`, `policy1`, …). */
  origins: PolicyOrigin[];
}

/** Formatter settings are fixed: the formatted text is hashed, so it must not depend on anyone's preferences. */
const FORMAT = { lineWidth: 80, indentWidth: 2 } as const;

/** `sha256:<hex>` of the UTF-8 bytes of `text`. */
export function policyHash(text: string): string {
  return `sha256:${createHash("sha256").update(text, "utf8").digest("hex")}`;
}

export interface PolicyCompileOptions {
  /** Cedar schema text; default schemas/agentrc.cedarschema. */
  schema?: string;
  /** The agent's declared entities: short ids (`AgentRC::Tool::"file_read"`) are rewritten to their full ids. */
  entityNames?: EntityNames;
}

/**
 * Checks every source (syntax, then validation against the agentrc schema in strict mode), resolves short entity
 * ids to the declared entities, then merges the sources in the given order, formats the result canonically and
 * hashes it. Problems are mapped back to the source they come from.
 */
export async function compilePolicySources(
  sources: readonly PolicySource[],
  options: PolicyCompileOptions = {},
): Promise<PolicyCompileResult> {
  const cedar = await loadCedar();
  const validationSchema = parsedSchema(cedar, options.schema ?? agentrcCedarSchema());
  const diagnostics: Diagnostic[] = [];
  const counts: number[] = [];
  const origins: PolicyOrigin[] = [];
  const texts: string[] = [];
  const names = options.entityNames ? new EntityNameIndex(options.entityNames) : undefined;
  const namesSchema = names ? enumeratedSchemaOf(validationSchema) : undefined;
  let failed = false;
  // Shorthands are generated, one policy each: checked all at once (one Cedar call, not three per line).
  const shorthands = sources.filter((s) => s.kind === "shorthand");
  const batched = shorthands.length > 1 && checkShorthands(cedar, validationSchema, shorthands, diagnostics);
  if (batched === "failed") failed = true;
  for (const source of sources) {
    if (batched && source.kind === "shorthand") {
      counts.push(1);
      origins.push(...policyOrigins(source, [source.text]));
      texts.push(source.text);
      continue;
    }
    const parsed = cedar.checkParsePolicySet({ staticPolicies: source.text });
    if (parsed.type === "failure") {
      failed = true;
      for (const e of parsed.errors) diagnostics.push(toDiagnostic("POLICY_SYNTAX", e, source));
      counts.push(0);
      texts.push(source.text);
      continue;
    }
    const parts = cedar.policySetTextToParts(source.text);
    const policies = parts.type === "success" ? parts.policies : [];
    counts.push(policies.length);
    origins.push(...policyOrigins(source, policies));
    // Entity ids do not take part in validation, so the source is validated as written (Cedar's spans stay true)
    // and the short ids are rewritten for the compiled policy only. Shorthands are generated with full ids.
    if (names && namesSchema && source.kind !== "shorthand") {
      const named = resolveShortNames(cedar, source, names, namesSchema);
      texts.push(named.text);
      for (const d of named.diagnostics) {
        if (d.severity === "error") failed = true;
        diagnostics.push(d);
      }
    } else {
      texts.push(source.text);
    }
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
      reported.add(policyId);
      const unguarded = unguardedAttribute(error, source);
      if (unguarded) {
        diagnostics.push(unguarded);
        continue;
      }
      failed = true;
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
  if (failed) return { diagnostics, counts, origins };
  // The texts with short entity ids resolved; layout and source labels unchanged.
  const resolved = sources.map((s, i) => (texts[i] === s.text ? s : { ...s, text: texts[i]! }));
  const merged = mergeText(resolved);
  if (merged === "") return { text: "", hash: policyHash(""), diagnostics, counts, origins };
  const formatted = formatMerged(cedar, resolved);
  if (formatted.type === "failure") {
    const [first] = sources;
    for (const e of formatted.errors) {
      diagnostics.push(
        diagnostic("POLICY_SYNTAX", `Cedar could not format the merged policy: ${e.message}`, first?.anchor),
      );
    }
    return { diagnostics, counts, origins };
  }
  const text = formatted.formatted_policy;
  return { text, hash: policyHash(text), diagnostics, counts, origins };
}

/**
 * The line each policy of `source` starts on (its first annotation, else its effect). Cedar hands back every
 * policy as the exact slice of the text it parsed, in order, so each is found after the previous one.
 */
export function policyOrigins(source: PolicySource, policies: readonly string[]): PolicyOrigin[] {
  if (source.firstLine === undefined)
    return policies.map(() => ({ file: source.file, line: source.anchor.line }));
  const firstLine = source.firstLine;
  let from = 0;
  return policies.map((policy) => {
    const at = source.text.indexOf(policy, from);
    const index = at < 0 ? from : at;
    from = at < 0 ? from : at + policy.length;
    return { file: source.file, line: firstLine + lineColumn(source.text, index).line - 1 };
  });
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

/** Where UTF-16 index `index` of the source's text is, in its file (the anchor for generated text). */
function locateInSource(source: PolicySource, index: number): SourceLocation {
  if (source.firstLine === undefined) return source.anchor;
  const at = lineColumn(source.text, index);
  return { file: source.file, line: source.firstLine + at.line - 1, column: at.column };
}

/**
 * The source with every short entity id rewritten to the full id of the declared entity it names. Cedar finds the
 * ids (validation against the enumerated schema, entityNames.ts) and gives their exact spans, which are replaced in
 * the text: comments and layout stay as written. Ambiguous names are errors, names that match nothing warnings
 * (Cedar would never match them); each is reported once per source, at its first use.
 */
function resolveShortNames(
  cedar: Cedar,
  source: PolicySource,
  names: EntityNameIndex,
  schema: CedarWasm.Schema,
): { text: string; diagnostics: Diagnostic[] } {
  const diagnostics: Diagnostic[] = [];
  const answer = cedar.validate({
    schema,
    policies: { staticPolicies: source.text },
    validationSettings: { mode: "strict" },
  });
  if (answer.type === "failure") return { text: source.text, diagnostics };
  const edits: Array<{ start: number; end: number; text: string }> = [];
  const reported = new Set<string>();
  const toIndex = utf16Indexer(source.text);
  for (const { error } of answer.validationErrors) {
    const entity = undeclaredEntity(error.message);
    const span = error.sourceLocations?.[0];
    if (!entity || !span) continue;
    const resolution = names.resolve(entity.type, entity.id);
    if (resolution === undefined) continue;
    const start = toIndex(span.start);
    if ("id" in resolution) {
      edits.push({
        start,
        end: toIndex(span.end),
        text: `${entity.type}::${cedarString(resolution.id)}`,
      });
      continue;
    }
    const key = `${entity.type}::${entity.id}`;
    if (reported.has(key)) continue;
    reported.add(key);
    diagnostics.push(nameDiagnostic(resolution, locateInSource(source, start), source));
  }
  const pieces: string[] = [];
  let cursor = 0;
  for (const edit of edits.sort((x, y) => x.start - y.start)) {
    pieces.push(source.text.slice(cursor, edit.start), edit.text);
    cursor = edit.end;
  }
  pieces.push(source.text.slice(cursor));
  return { text: pieces.join(""), diagnostics };
}

function nameDiagnostic(problem: NameProblem, location: SourceLocation, source: PolicySource): Diagnostic {
  const written = `${problem.type}::${JSON.stringify(problem.written)}`;
  const prefix = source.firstLine === undefined ? `${source.describe}: ` : "";
  if (problem.kind === "ambiguous") {
    const list = problem.candidates.map((c) => `${problem.type}::${JSON.stringify(c)}`);
    return diagnostic(
      "POLICY_NAME_AMBIGUOUS",
      `${prefix}${written} could name ${problem.candidates.join(" or ")}`,
      location,
      { hint: `Write the full id: ${list.join(" or ")}.` },
    );
  }
  const kind = problem.type.slice(problem.type.lastIndexOf(":") + 1);
  return diagnostic(
    "POLICY_NAME_UNKNOWN",
    `${prefix}${written} names no declared ${kind.toUpperCase()}; Cedar ids of a ${kind} are ${fullForm(problem.type)}, so this policy can never apply`,
    location,
    { hint: `Declare the ${kind.toUpperCase()} it means, or write its full id (${fullForm(problem.type)}).` },
  );
}

const UNGUARDED = /unable to guarantee safety of access to optional attribute `([^`]+)` in context/;

/**
 * Cedar's strict validator rejects reading an optional context attribute without `has`. agentrc accepts the policy
 * (Cedar evaluates it as written) and warns, because the outcome is easy to misread: when the attribute is absent the
 * policy errors and Cedar skips it, so a forbid then denies nothing. The hint is the clause with its `has` test.
 */
function unguardedAttribute(error: DetailedError, source: PolicySource): Diagnostic | undefined {
  const match = UNGUARDED.exec(error.message);
  const span = error.sourceLocations?.[0];
  if (!match || span === undefined || source.firstLine === undefined) return undefined;
  const attribute = match[1]!;
  const index = utf16Index(source.text, span.start);
  const clause = clauseAt(source.text, index);
  if (!clause) return undefined;
  const access = source.text.slice(index, utf16Index(source.text, span.end));
  const rewrite = guardedClause(clause, attribute);
  const does = clause.effect === "forbid" ? "the deny does not apply" : "the permit does not apply";
  return diagnostic(
    "POLICY_UNGUARDED_ATTRIBUTE",
    `this ${clause.effect} reads ${access} without \`has\` (context.${attribute} is optional): when the attribute is absent Cedar skips the policy, so ${does}`,
    locateInSource(source, index),
    {
      hint:
        clause.effect === "forbid"
          ? `write \`${rewrite.today}\` (what Cedar does today, made explicit), or \`${rewrite.appliesWhenAbsent}\` to deny also when ${attribute} is absent`
          : `write \`${rewrite.today}\``,
    },
  );
}
