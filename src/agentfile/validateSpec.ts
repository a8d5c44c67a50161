import type { ErrorObject } from "ajv";
import { diagnostic } from "../diagnostics/create.js";
import type { Diagnostic } from "../diagnostics/types.js";
import { objectValidator, relevantErrors, schemaValidator } from "../schema/validate.js";
import type { DirectiveRegistry } from "./registry.js";
import type { AgentSpec, DirectiveNode, Position } from "./types.js";

/** Validates the spec against schemas/agentfile.schema.json and each plugin directive's own schema. */
export function validateSpec(spec: AgentSpec, registry: DirectiveRegistry): Diagnostic[] {
  const out: Diagnostic[] = [];
  const validate = schemaValidator("agentfile.schema.json");
  if (!validate(spec as unknown)) {
    for (const e of dedupe(relevantErrors(validate.errors))) {
      const m = /^\/directives\/(\d+)(\/args)?(\/.*)?$/.exec(e.instancePath);
      const node = m ? spec.directives[Number(m[1])] : undefined;
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
  const text = message.startsWith(node.directive)
    ? message
    : `${node.directive}: ${describe(pointer, e, message)}`;
  return diagnostic("INVALID_ARGUMENTS", text, { file, line: pos.line, column: pos.column });
}

function describe(pointer: string, e: ErrorObject, message: string): string {
  if (e.keyword === "additionalProperties") {
    return `unexpected argument "${(e.params as { additionalProperty: string }).additionalProperty}"`;
  }
  const name = pointer.split("/").filter(Boolean).join(".");
  if (e.keyword === "errorMessage" || !name) return message;
  return `${name} ${message}`;
}

/** The most specific recorded position for a JSON pointer into the args, else the directive itself. */
function locate(node: DirectiveNode, pointer: string, e: ErrorObject): Position {
  let p = pointer;
  if (e.keyword === "required")
    p = `${pointer}/${(e.params as { missingProperty?: string }).missingProperty ?? ""}`;
  while (p) {
    const hit = node.argLocs[p];
    if (hit) return hit;
    p = p.slice(0, p.lastIndexOf("/"));
  }
  return { line: node.loc.line, column: node.loc.column };
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
