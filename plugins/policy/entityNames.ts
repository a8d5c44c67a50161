import { toolShortNames } from "../../src/core.js";

/**
 * Cedar entity ids as people write them. A tool's Cedar id is its full TOOL reference (`utcp:file_read`) and a
 * function's is `<path>:<symbol>`, but policies are naturally written with the short name
 * (`AgentRC::Tool::"file_read"`, `AgentRC::Function::"label"`). Cedar compares ids exactly, so a short id would
 * never match a request: it is rewritten to the full id of the one declared entity it names. The rewrite works on
 * Cedar's JSON form of each policy (the engine parses, agentrc never pattern-matches Cedar text).
 */
export interface EntityNames {
  /** Full TOOL references (`utcp:file_read`, `mcp:github.get_issue`). */
  tools: readonly string[];
  /** Full FUNCTION references (`src/triage.py:label`). */
  functions: readonly string[];
}

export type NameProblem =
  | { kind: "ambiguous"; type: string; written: string; candidates: string[] }
  | { kind: "unknown"; type: string; written: string };

type Resolution = { id: string } | NameProblem | undefined;

interface Kind {
  /** The short names of a full id. */
  shortNames(full: string): string[];
  /** Example of the full form, for messages. */
  form: string;
}

const KINDS: Readonly<Record<string, { kind: Kind; list: (n: EntityNames) => readonly string[] }>> = {
  "AgentRC::Tool": {
    kind: { shortNames: toolShortNames, form: "<ns>:<name>" },
    list: (n) => n.tools,
  },
  "AgentRC::Function": {
    kind: {
      shortNames: (ref) => {
        const colon = ref.lastIndexOf(":");
        return colon > 0 ? [ref.slice(colon + 1)] : [];
      },
      form: "<path>:<symbol>",
    },
    list: (n) => n.functions,
  },
};

/** The full form of an entity type with short names (`<ns>:<name>` for tools), for messages. */
export const fullForm = (type: string): string | undefined => KINDS[type]?.kind.form;

/** Resolves one id: undefined to keep it (a full id, or a type without short names), else the rewrite or the problem. */
export function resolveEntityId(names: EntityNames, type: string, id: string): Resolution {
  const entry = KINDS[type];
  // An id with a colon is already in the full form (declared or not: a TOOLSET may bring tools at run time).
  if (!entry || id.includes(":")) return undefined;
  const candidates = entry
    .list(names)
    .filter((full) => entry.kind.shortNames(full).includes(id))
    .filter((full, i, all) => all.indexOf(full) === i);
  if (candidates.length === 1) return { id: candidates[0]! };
  if (candidates.length === 0) return { kind: "unknown", type, written: id };
  return { kind: "ambiguous", type, written: id, candidates: [...candidates].sort() };
}

interface EntityRef {
  type: string;
  id: string;
}

const isEntityRef = (v: unknown): v is EntityRef =>
  v !== null &&
  typeof v === "object" &&
  typeof (v as EntityRef).type === "string" &&
  typeof (v as EntityRef).id === "string";

/**
 * Rewrites the short entity ids of one policy in Cedar's JSON form (scope constraints `entity`/`entities`, entity
 * literals `__entity` in conditions). Returns the rewritten copy when anything changed, and the problems.
 */
export function rewritePolicyJson(
  json: unknown,
  names: EntityNames,
): { json: unknown; changed: boolean; problems: NameProblem[] } {
  const problems: NameProblem[] = [];
  let changed = false;
  const fix = (ref: EntityRef): EntityRef => {
    const r = resolveEntityId(names, ref.type, ref.id);
    if (r === undefined) return ref;
    if ("id" in r) {
      changed = true;
      return { ...ref, id: r.id };
    }
    if (!problems.some((p) => p.type === r.type && p.written === r.written)) problems.push(r);
    return ref;
  };
  const walk = (v: unknown): unknown => {
    if (Array.isArray(v)) return v.map(walk);
    if (v === null || typeof v !== "object") return v;
    const out: Record<string, unknown> = {};
    for (const [k, child] of Object.entries(v)) {
      if ((k === "entity" || k === "__entity") && isEntityRef(child)) out[k] = fix(child);
      else if (k === "entities" && Array.isArray(child))
        out[k] = child.map((e) => (isEntityRef(e) ? fix(e) : walk(e)));
      // Annotations are free text: `@id("x")` must never be taken for an entity.
      else if (k === "annotations") out[k] = child;
      else out[k] = walk(child);
    }
    return out;
  };
  const rewritten = walk(json);
  return { json: changed ? rewritten : json, changed, problems };
}
