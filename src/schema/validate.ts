import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
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
  schemaSha256?: string;
  ajvVersion?: string;
}

const compiled = new Map<string, ValidateFunction>();

/**
 * Loads `schemas/<name>` from the package and compiles it once. Compiling the Agentfile schema costs about a quarter
 * of a second, so `npm run build` compiles agentrc's schemas ahead of time to `dist/validators/<name>.cjs`; that
 * code is used only when it was compiled from these exact schema bytes by this ajv version, else the schema is
 * compiled here.
 */
export function schemaValidator(name: string): ValidateFunction {
  let v = compiled.get(name);
  if (!v) {
    const text = readFileSync(join(packageRoot(), "schemas", name), "utf8");
    v =
      loadPrecompiled(join(packageRoot(), PRECOMPILED_DIR, `${name}.cjs`), text) ??
      ajv().compile(JSON.parse(text));
    compiled.set(name, v);
  }
  return v;
}

/** The validator in `file` if it was compiled from `schemaText` by this ajv version; undefined otherwise. */
export function loadPrecompiled(file: string, schemaText: string): ValidateFunction | undefined {
  const require = createRequire(import.meta.url);
  try {
    const v = require(file) as PrecompiledValidator;
    const sha = createHash("sha256").update(schemaText).digest("hex");
    return typeof v === "function" && v.schemaSha256 === sha && v.ajvVersion === ajvVersion() ? v : undefined;
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
