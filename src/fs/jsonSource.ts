import { createRequire } from "node:module";
import type { Ajv, AnySchema } from "ajv";

/** A 1-based line and column (UTF-16 code units), as in diagnostics. */
export interface JsonPosition {
  line: number;
  column: number;
}

export type JsonSourceResult =
  | {
      ok: true;
      value: unknown;
      /** Position of the value at a JSON pointer (`/input_schema/properties/x`), or of its closest parent. */
      locate(pointer: string): JsonPosition;
    }
  | { ok: false; message: string; position: JsonPosition };

/**
 * Parses JSON text (RFC 8259; a leading BOM is skipped) and remembers where every value starts, so that problems
 * found later (a schema that does not compile) can be reported at their line and column in the file.
 */
export function parseJsonSource(text: string): JsonSourceResult {
  const parser = new JsonParser(text);
  try {
    const value = parser.parseDocument();
    const positions = parser.positions;
    return {
      ok: true,
      value,
      locate(pointer: string): JsonPosition {
        let p = pointer;
        for (;;) {
          const at = positions.get(p);
          if (at !== undefined) return parser.position(at);
          if (p === "") return parser.position(parser.start);
          p = p.slice(0, p.lastIndexOf("/"));
        }
      },
    };
  } catch (e) {
    if (e instanceof JsonSyntaxError)
      return { ok: false, message: e.message, position: parser.position(e.offset) };
    throw e;
  }
}

class JsonSyntaxError extends Error {
  readonly offset: number;
  constructor(message: string, offset: number) {
    super(message);
    this.offset = offset;
  }
}

const STRING = /"(?:[^"\\\u0000-\u001f]|\\(?:["\\/bfnrt]|u[0-9a-fA-F]{4}))*"/y;
const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;
const WS = /[ \t\n\r]*/y;

const escapePointer = (key: string): string => key.replaceAll("~", "~0").replaceAll("/", "~1");

class JsonParser {
  readonly text: string;
  readonly positions = new Map<string, number>();
  readonly start: number;
  #i: number;
  #lineStarts: number[] | undefined;

  constructor(text: string) {
    this.text = text;
    this.start = text.charCodeAt(0) === 0xfeff ? 1 : 0;
    this.#i = this.start;
  }

  position(offset: number): JsonPosition {
    if (!this.#lineStarts) {
      this.#lineStarts = [0];
      for (let i = 0; i < this.text.length; i++) if (this.text[i] === "\n") this.#lineStarts.push(i + 1);
    }
    const starts = this.#lineStarts;
    let lo = 0;
    let hi = starts.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (starts[mid]! <= offset) lo = mid;
      else hi = mid - 1;
    }
    const columnBase = lo === 0 ? this.start : starts[lo]!;
    return { line: lo + 1, column: Math.max(1, offset - columnBase + 1) };
  }

  parseDocument(): unknown {
    this.#ws();
    const value = this.#value("");
    this.#ws();
    if (this.#i < this.text.length) this.#fail(`unexpected ${this.#describe()} after the JSON value`);
    return value;
  }

  #ws(): void {
    WS.lastIndex = this.#i;
    WS.exec(this.text);
    this.#i = WS.lastIndex;
  }

  #describe(): string {
    if (this.#i >= this.text.length) return "end of input";
    return `character ${JSON.stringify(this.text[this.#i])}`;
  }

  #fail(message: string, offset = this.#i): never {
    throw new JsonSyntaxError(message, offset);
  }

  #value(pointer: string): unknown {
    this.positions.set(pointer, this.#i);
    const c = this.text[this.#i];
    if (c === "{") return this.#object(pointer);
    if (c === "[") return this.#array(pointer);
    if (c === '"') return this.#string();
    if (c === "-" || (c !== undefined && c >= "0" && c <= "9")) {
      NUMBER.lastIndex = this.#i;
      const m = NUMBER.exec(this.text);
      if (!m) this.#fail("invalid number");
      this.#i = NUMBER.lastIndex;
      return Number(m[0]);
    }
    for (const [word, v] of [
      ["true", true],
      ["false", false],
      ["null", null],
    ] as const) {
      if (this.text.startsWith(word, this.#i)) {
        this.#i += word.length;
        return v;
      }
    }
    return this.#fail(`unexpected ${this.#describe()}, expected a JSON value`);
  }

  #string(): string {
    STRING.lastIndex = this.#i;
    const m = STRING.exec(this.text);
    if (!m) {
      // Find what is wrong for a precise message.
      for (let j = this.#i + 1; j < this.text.length; j++) {
        const ch = this.text.charCodeAt(j);
        if (ch === 0x22) break;
        if (ch === 0x5c) {
          if (!/^(?:["\\/bfnrt]|u[0-9a-fA-F]{4})/.test(this.text.slice(j + 1, j + 6))) {
            this.#fail("invalid escape in string", j);
          }
          j++;
          continue;
        }
        if (ch < 0x20) this.#fail("unescaped control character in string", j);
      }
      this.#fail("unterminated string");
    }
    this.#i = STRING.lastIndex;
    return JSON.parse(m[0]) as string;
  }

  #object(pointer: string): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    if (this.#empty("}")) return out;
    for (;;) {
      if (this.text[this.#i] !== '"') this.#fail(`unexpected ${this.#describe()}, expected a property name`);
      const key = this.#string();
      this.#ws();
      if (this.text[this.#i] !== ":") this.#fail(`unexpected ${this.#describe()}, expected ':'`);
      this.#i++;
      this.#ws();
      const value = this.#value(`${pointer}/${escapePointer(key)}`);
      Object.defineProperty(out, key, { value, enumerable: true, writable: true, configurable: true });
      if (!this.#more("}")) return out;
    }
  }

  #array(pointer: string): unknown[] {
    const out: unknown[] = [];
    if (this.#empty("]")) return out;
    for (;;) {
      out.push(this.#value(`${pointer}/${out.length}`));
      if (!this.#more("]")) return out;
    }
  }

  /** Past the opening bracket: true (and past `close` too) when the object or array is empty. */
  #empty(close: "}" | "]"): boolean {
    this.#i++;
    this.#ws();
    if (this.text[this.#i] !== close) return false;
    this.#i++;
    return true;
  }

  /** After a member or an element: true past a `,` (another follows), false past `close`; anything else fails. */
  #more(close: "}" | "]"): boolean {
    this.#ws();
    const c = this.text[this.#i];
    if (c === ",") {
      this.#i++;
      this.#ws();
      return true;
    }
    if (c === close) {
      this.#i++;
      return false;
    }
    this.#fail(`unexpected ${this.#describe()}, expected ',' or '${close}'`);
  }
}

export type JsonSchemaDraft = "draft-07" | "2019-09" | "2020-12";

export type SchemaCheckResult =
  | { ok: true; draft: JsonSchemaDraft }
  | { ok: false; errors: Array<{ pointer: string; message: string }> };

const instances = new Map<JsonSchemaDraft, Ajv>();

function ajvFor(draft: JsonSchemaDraft): Ajv {
  let a = instances.get(draft);
  if (!a) {
    const options = {
      allErrors: true,
      strict: false,
      logger: false,
      validateSchema: true,
      // Users' schemas are compiled in isolation: two files may reuse the same $id.
      addUsedSchema: false,
    } as const;
    // Loaded on first use: only an OUTPUT schema that is not cached yet needs ajv here.
    const require = createRequire(import.meta.url);
    type AjvClass = new (o: typeof options) => Ajv;
    const module =
      draft === "2020-12" ? "ajv/dist/2020.js" : draft === "2019-09" ? "ajv/dist/2019.js" : "ajv";
    const AjvForDraft = (require(module) as { default: AjvClass }).default;
    a = new AjvForDraft(options);
    (require("ajv-formats") as { default: (x: Ajv) => void }).default(a);
    instances.set(draft, a);
  }
  return a;
}

/** The draft a `$schema` URI names; undefined for one ajv cannot compile (draft-04, unknown URIs). */
export function schemaDraft(uri: unknown): JsonSchemaDraft | undefined {
  if (uri === undefined) return "2020-12";
  if (typeof uri !== "string") return undefined;
  if (/^https?:\/\/json-schema\.org\/draft-07\/schema#?$/.test(uri)) return "draft-07";
  if (/^https?:\/\/json-schema\.org\/draft\/2019-09\/schema#?$/.test(uri)) return "2019-09";
  if (/^https?:\/\/json-schema\.org\/draft\/2020-12\/schema#?$/.test(uri)) return "2020-12";
  return undefined;
}

/**
 * Checks that a user's JSON Schema compiles with ajv: draft-07, 2019-09 or 2020-12 as its `$schema` says
 * (2020-12 when it has none). Errors carry JSON pointers into the schema, one error per pointer.
 */
export function checkJsonSchema(schema: unknown): SchemaCheckResult {
  if (typeof schema === "boolean") return { ok: true, draft: "2020-12" };
  if (schema === null || typeof schema !== "object" || Array.isArray(schema)) {
    return { ok: false, errors: [{ pointer: "", message: "a JSON Schema must be an object or a boolean" }] };
  }
  const declared = (schema as { $schema?: unknown }).$schema;
  const draft = schemaDraft(declared);
  if (!draft) {
    return {
      ok: false,
      errors: [
        {
          pointer: "/$schema",
          message: `unsupported $schema ${JSON.stringify(declared)}; use draft-07 or 2020-12 (or 2019-09)`,
        },
      ],
    };
  }
  const ajv = ajvFor(draft);
  if (!ajv.validateSchema(schema as AnySchema)) {
    const errors = (ajv.errors ?? [])
      .filter((e) => e.keyword !== "if")
      .map((e) => ({ pointer: e.instancePath, message: e.message ?? "is invalid" }));
    return { ok: false, errors: firstPerPointer(errors) };
  }
  try {
    ajv.compile(schema as AnySchema);
  } catch (e) {
    return { ok: false, errors: [{ pointer: "", message: `does not compile: ${(e as Error).message}` }] };
  }
  return { ok: true, draft };
}

/** One error per location: ajv reports every branch of an anyOf; the first one is the most direct. */
function firstPerPointer<T extends { pointer: string; message: string }>(list: T[]): T[] {
  const seen = new Set<string>();
  return list.filter((e) => {
    if (seen.has(e.pointer)) return false;
    seen.add(e.pointer);
    return true;
  });
}
