import type { ErrorObject } from "ajv";
import { diagnostic } from "../diagnostics/create.js";
import type { Diagnostic } from "../diagnostics/types.js";
import { objectValidator, relevantErrors, schemaValidator } from "../schema/validate.js";
import type { DirectiveRegistry } from "./registry.js";
import type { AgentSpec, DirectiveNode, Position } from "./types.js";

/** Validates the spec against schemas/agentfile.schema.json and each plugin directive's own schema. */
export function validateSpec(
  spec: AgentSpec,
  registry: DirectiveRegistry,
  /** Directives whose argument parser could not build their args; schema errors would only repeat its report. */
  incomplete: ReadonlySet<DirectiveNode> = new Set(),
): Diagnostic[] {
  const out: Diagnostic[] = [];
  const validate = schemaValidator("agentfile.schema.json");
  if (!validate(spec as unknown)) {
    for (const e of dedupe(relevantErrors(validate.errors))) {
      const m = /^\/directives\/(\d+)(\/args)?(\/.*)?$/.exec(e.instancePath);
      const node = m ? spec.directives[Number(m[1])] : undefined;
      if (node && incomplete.has(node)) continue;
      if (!node) {
        out.push(
          diagnostic("INVALID_ARGUMENTS", e.message ?? "invalid agent spec", {
            file: spec.file,
            line: 1,
            column: 1,
          }),
        );
        continue;
      }
      out.push(argumentDiagnostic(spec.file, node, m?.[3] ?? "", e));
    }
  }
  for (const node of spec.directives) {
    if (incomplete.has(node)) continue;
    const schema = node.plugin ? registry.get(node.directive)?.schema : undefined;
    if (!schema) continue;
    const v = objectValidator(schema);
    if (!v(node.args)) {
      for (const e of dedupe(relevantErrors(v.errors))) {
        out.push({ ...argumentDiagnostic(spec.file, node, e.instancePath, e), plugin: node.plugin! });
      }
    }
  }
  return out;
}

function argumentDiagnostic(file: string, node: DirectiveNode, pointer: string, e: ErrorObject): Diagnostic {
  const pos = locate(node, pointer, e);
  const message = e.message ?? "is invalid";
  const text = message.startsWith(node.directive) ? message : describe(node.directive, pointer, e, message);
  return diagnostic("INVALID_ARGUMENTS", text, { file, line: pos.line, column: pos.column });
}

/** "MOUNT path must be …": directive, argument name, then the schema's message. */
function describe(directive: string, pointer: string, e: ErrorObject, message: string): string {
  if (e.keyword === "additionalProperties") {
    return `${directive}: unexpected argument "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  }
  const name = pointer.split("/").filter(Boolean).join(".");
  return name ? `${directive} ${name} ${message}` : `${directive}: ${message}`;
}

/** The most specific recorded position for a JSON pointer into the args, else the directive itself. */
function locate(node: DirectiveNode, pointer: string, e: ErrorObject): Position {
  let p = pointer;
  // ajv-errors wraps the original errors; a custom message for `required` still names the missing property.
  const original =
    e.keyword === "errorMessage" ? ((e.params as { errors?: ErrorObject[] }).errors?.[0] ?? e) : e;
  if (original.keyword === "required") {
    p = `${pointer}/${(original.params as { missingProperty?: string }).missingProperty ?? ""}`;
  }
  while (p) {
    const hit = node.argLocs[p] ?? firstChild(node, p);
    if (hit) return hit;
    p = p.slice(0, p.lastIndexOf("/"));
  }
  return { line: node.loc.line, column: node.loc.column };
}

function firstChild(node: DirectiveNode, pointer: string): Position | undefined {
  const key = Object.keys(node.argLocs).find((k) => k.startsWith(`${pointer}/`));
  return key === undefined ? undefined : node.argLocs[key];
}

function dedupe(errors: ErrorObject[]): ErrorObject[] {
  const seen = new Set<string>();
  return errors.filter((e) => {
    const k = `${e.instancePath}|${e.message}`;
    if (seen.has(k)) return false;
    seen.add(k);
    return true;
  });
}
