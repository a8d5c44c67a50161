import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { Ajv, type ErrorObject, type ValidateFunction } from "ajv";
import ajvErrors from "ajv-errors";
import ajvFormats from "ajv-formats";
import { packageRoot } from "../util/packageRoot.js";

let shared: Ajv | undefined;

/** The one ajv instance for agentrc's own schemas: all errors, formats, custom `errorMessage`s. */
export function ajv(): Ajv {
  if (shared) return shared;
  shared = new Ajv({ allErrors: true, strict: false, allowUnionTypes: true });
  // The packages are CommonJS with `default` exports; under NodeNext the namespace objects are what we get.
  (ajvFormats as unknown as (a: Ajv) => void)(shared);
  (ajvErrors as unknown as (a: Ajv) => void)(shared);
  return shared;
}

const compiled = new Map<string, ValidateFunction>();
let registered = false;

/**
 * Adds every `schemas/*.schema.json` to the ajv instance once (compiled lazily), so a schema can `$ref` another by
 * file name (`cli-definitions.schema.json#/definitions/diagnostic`).
 */
function registerSchemas(a: Ajv): void {
  if (registered) return;
  const dir = join(packageRoot(), "schemas");
  for (const file of readdirSync(dir).filter((f) => f.endsWith(".schema.json"))) {
    a.addSchema(JSON.parse(readFileSync(join(dir, file), "utf8")));
  }
  registered = true;
}

/** Loads `schemas/<name>` from the package and compiles it once. */
export function schemaValidator(name: string): ValidateFunction {
  let v = compiled.get(name);
  if (!v) {
    const a = ajv();
    registerSchemas(a);
    const id = (JSON.parse(readFileSync(join(packageRoot(), "schemas", name), "utf8")) as { $id?: string })
      .$id;
    const found = id === undefined ? undefined : a.getSchema(id);
    if (!found) throw new Error(`schemas/${name} has no $id under which it was registered`);
    v = found;
    compiled.set(name, v);
  }
  return v;
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
