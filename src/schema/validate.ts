import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { join } from "node:path";
import type { Ajv, ErrorObject, Options, ValidateFunction } from "ajv";
import { packageRoot } from "../util/packageRoot.js";

let shared: Ajv | undefined;

/** An ajv configured for agentrc's schemas: all errors, formats, custom `errorMessage`s. */
export function createAjv(extra: Options = {}): Ajv {
  // Loaded on first use: with the schemas compiled ahead of time, most runs never need ajv itself.
  const require = createRequire(import.meta.url);
  const AjvClass = (require("ajv") as { default: new (o: Options) => Ajv }).default;
  const instance = new AjvClass({ allErrors: true, strict: false, allowUnionTypes: true, ...extra });
  (require("ajv-formats") as { default: (a: Ajv) => void }).default(instance);
  (require("ajv-errors") as { default: (a: Ajv) => void }).default(instance);
  return instance;
}

/** The one ajv instance for agentrc's own schemas. */
export function ajv(): Ajv {
  shared ??= createAjv();
  return shared;
}

/** Where `npm run build` writes the schemas compiled ahead of time (scripts/compile-validators.mjs). */
export const PRECOMPILED_DIR = join("dist", "validators");

/** What a precompiled validator module exports besides the function: what it was compiled from. */
export interface PrecompiledValidator extends ValidateFunction {
  /** `schemasDigest()` of the schema files it was compiled from. */
  schemaSha256?: string;
  ajvVersion?: string;
}

const compiled = new Map<string, ValidateFunction>();
let registered = false;

/** The file names of agentrc's schemas (`schemas/*.schema.json`), sorted. */
function schemaFiles(): string[] {
  return readdirSync(join(packageRoot(), "schemas"))
    .filter((f) => f.endsWith(".schema.json"))
    .sort();
}

/**
 * Adds every `schemas/*.schema.json` to an ajv instance (compiled lazily), so a schema can `$ref` another by file
 * name (`cli-definitions.schema.json#/definitions/diagnostic`).
 */
export function addAgentrcSchemas(a: Ajv): void {
  for (const file of schemaFiles()) {
    a.addSchema(JSON.parse(readFileSync(join(packageRoot(), "schemas", file), "utf8")));
  }
}

/** sha256 of every schema file (names and bytes): a precompiled validator may `$ref` any of them. */
export function schemasDigest(): string {
  const hash = createHash("sha256");
  for (const file of schemaFiles()) {
    hash
      .update(`${file}\0`)
      .update(readFileSync(join(packageRoot(), "schemas", file)))
      .update("\0");
  }
  return hash.digest("hex");
}

/**
 * Loads `schemas/<name>` from the package and compiles it once. Compiling the Agentfile schema costs about a quarter
 * of a second, so `npm run build` compiles agentrc's schemas ahead of time to `dist/validators/<name>.cjs`; that
 * code is used only when it was compiled from these exact schema files by this ajv version, else the schema is
 * compiled here.
 */
export function schemaValidator(name: string): ValidateFunction {
  let v = compiled.get(name);
  if (!v) {
    v =
      loadPrecompiled(join(packageRoot(), PRECOMPILED_DIR, `${name}.cjs`), schemasDigest()) ??
      compileHere(name);
    compiled.set(name, v);
  }
  return v;
}

function compileHere(name: string): ValidateFunction {
  const a = ajv();
  if (!registered) {
    addAgentrcSchemas(a);
    registered = true;
  }
  const id = (JSON.parse(readFileSync(join(packageRoot(), "schemas", name), "utf8")) as { $id?: string }).$id;
  const found = id === undefined ? undefined : a.getSchema(id);
  if (!found) throw new Error(`schemas/${name} has no $id under which it was registered`);
  return found;
}

/** The validator in `file` if it was compiled from schema files with this digest by this ajv version. */
export function loadPrecompiled(file: string, digest: string): ValidateFunction | undefined {
  const require = createRequire(import.meta.url);
  try {
    const v = require(file) as PrecompiledValidator;
    return typeof v === "function" && v.schemaSha256 === digest && v.ajvVersion === ajvVersion()
      ? v
      : undefined;
  } catch {
    return undefined;
  }
}

/** The installed ajv's version (part of what a precompiled validator must match). */
export function ajvVersion(): string {
  const require = createRequire(import.meta.url);
  return (require("ajv/package.json") as { version: string }).version;
}

/** Compiles a schema object supplied by a plugin (cached by identity). */
const byObject = new WeakMap<object, ValidateFunction>();
export function objectValidator(schema: object): ValidateFunction {
  let v = byObject.get(schema);
  if (!v) {
    v = ajv().compile(schema);
    byObject.set(schema, v);
  }
  return v;
}

/**
 * Keeps the errors a person should read: drops `if` wrappers (their `then` error is kept) and, for `oneOf`, the
 * branch noise when a custom message exists.
 */
export function relevantErrors(errors: readonly ErrorObject[] | null | undefined): ErrorObject[] {
  if (!errors) return [];
  return errors.filter((e) => e.keyword !== "if");
}

/** "must be …" with the property path, for config-style messages. */
export function describeError(e: ErrorObject): string {
  const where = e.instancePath ? e.instancePath.slice(1).replaceAll("/", ".") : "(root)";
  if (e.keyword === "additionalProperties") {
    return `${where === "(root)" ? "" : `${where}: `}unknown property "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  }
  return `${where}: ${e.message ?? "is invalid"}`;
}
