import { toolShortNames } from "../../src/core.js";

/**
 * Cedar entity ids as people write them. A tool's Cedar id is its full TOOL reference (`utcp:file_read`) and a
 * function's is `<path>:<symbol>`, but policies are naturally written with the short name
 * (`AgentRC::Tool::"file_read"`, `AgentRC::Function::"label"`). Cedar compares ids exactly, so a short id would
 * never match a request: it is rewritten to the full id of the one declared entity it names.
 *
 * Cedar finds the ids: the source is validated once more against a copy of the schema in which Tool and Function
 * are enumerated entity types, and Cedar reports every id of those types with its exact source span. agentrc never
 * pattern-matches Cedar text.
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

export type Resolution = { id: string } | NameProblem | undefined;

interface Kind {
  /** The short names of a full id. */
  shortNames(full: string): string[];
  /** The full form, for messages. */
  form: string;
  list(names: EntityNames): readonly string[];
}

const KINDS: Readonly<Record<string, Kind>> = {
  "AgentRC::Tool": { shortNames: toolShortNames, form: "<ns>:<name>", list: (n) => n.tools },
  "AgentRC::Function": {
    shortNames: (ref) => {
      const colon = ref.lastIndexOf(":");
      return colon > 0 ? [ref.slice(colon + 1)] : [];
    },
    form: "<path>:<symbol>",
    list: (n) => n.functions,
  },
};

/** The full form of an entity type with short names (`<ns>:<name>` for tools), for messages. */
export const fullForm = (type: string): string | undefined => KINDS[type]?.form;

/** The declared entities by short name, built once per compilation (a policy set may name thousands of tools). */
export class EntityNameIndex {
  readonly #byType = new Map<string, Map<string, string[]>>();

  constructor(names: EntityNames) {
    for (const [type, kind] of Object.entries(KINDS)) {
      const byName = new Map<string, string[]>();
      for (const full of new Set(kind.list(names))) {
        for (const short of kind.shortNames(full)) {
          const list = byName.get(short);
          if (list) list.push(full);
          else byName.set(short, [full]);
        }
      }
      this.#byType.set(type, byName);
    }
  }

  /** Resolves one id: undefined to keep it (a full id, or a type without short names), else the rewrite or the problem. */
  resolve(type: string, id: string): Resolution {
    const byName = this.#byType.get(type);
    // An id with a colon is already in the full form (declared or not: a TOOLSET may bring tools at run time).
    if (!byName || id.includes(":")) return undefined;
    const candidates = byName.get(id) ?? [];
    if (candidates.length === 1) return { id: candidates[0]! };
    if (candidates.length === 0) return { kind: "unknown", type, written: id };
    return { kind: "ambiguous", type, written: id, candidates: [...candidates].sort() };
  }
}

/** Resolves one id against `names` (see EntityNameIndex). */
export function resolveEntityId(names: EntityNames, type: string, id: string): Resolution {
  return new EntityNameIndex(names).resolve(type, id);
}

/**
 * A copy of the JSON schema in which every entity type with short names is an enumeration of the one id `":"`, so
 * that Cedar reports every id of those types, with its span. (Not the declared ids: Cedar then looks for a close
 * match among them for each unknown id, which costs seconds with thousands of tools; an id with a colon is never
 * rewritten, so `":"` itself needs no report.) Undefined when the schema does not declare those types.
 */
export function enumeratedSchema(schema: unknown): unknown {
  if (schema === null || typeof schema !== "object") return undefined;
  const copy = structuredClone(schema) as Record<string, { entityTypes?: Record<string, unknown> }>;
  for (const type of Object.keys(KINDS)) {
    const at = type.lastIndexOf("::");
    const entityTypes = copy[type.slice(0, at)]?.entityTypes;
    const name = type.slice(at + 2);
    if (!entityTypes?.[name]) return undefined;
    entityTypes[name] = { enum: [":"] };
  }
  return copy;
}

const NOT_DECLARED =
  /^for policy `[^`]*`: entity `([A-Za-z_][A-Za-z0-9_]*(?:::[A-Za-z_][A-Za-z0-9_]*)*)::"((?:[^"\\]|\\.)*)"` is of an enumerated entity type/;

/** The entity type and id of Cedar's "not declared as a valid eid" validation error, or undefined for any other. */
export function undeclaredEntity(message: string): { type: string; id: string } | undefined {
  const m = NOT_DECLARED.exec(message);
  if (!m) return undefined;
  const id = decodeCedarString(m[2]!);
  return id === undefined ? undefined : { type: m[1]!, id };
}

const ESCAPES: Readonly<Record<string, string>> = {
  n: "\n",
  r: "\r",
  t: "\t",
  "0": "\0",
  "\\": "\\",
  '"': '"',
  "'": "'",
};

/** The value of the body of a Cedar string literal as Cedar prints it (`\n`, `\u{e9}`, …). */
export function decodeCedarString(body: string): string | undefined {
  let out = "";
  for (let i = 0; i < body.length; i++) {
    const c = body[i]!;
    if (c !== "\\") {
      out += c;
      continue;
    }
    const next = body[i + 1];
    if (next === undefined) return undefined;
    if (next === "u") {
      const m = /^\\u\{([0-9a-fA-F]{1,6})\}/.exec(body.slice(i));
      if (!m) return undefined;
      out += String.fromCodePoint(Number.parseInt(m[1]!, 16));
      i += m[0].length - 1;
      continue;
    }
    const escaped = ESCAPES[next];
    if (escaped === undefined) return undefined;
    out += escaped;
    i++;
  }
  return out;
}
