import { type BuiltinCode, CODES } from "./codes.js";
import type { Diagnostic, Severity, SourceLocation } from "./types.js";

/** Builds a diagnostic for a built-in code, filling severity and hint from the catalogue. */
export function diagnostic(
  code: BuiltinCode,
  message: string,
  location?: SourceLocation,
  extra: { hint?: string; severity?: Severity; plugin?: string } = {},
): Diagnostic {
  const info = CODES[code];
  const d: Diagnostic = {
    code,
    severity: extra.severity ?? info.severity,
    message,
    hint: extra.hint ?? info.hint,
  };
  if (location) d.location = location;
  if (extra.plugin) d.plugin = extra.plugin;
  return d;
}

/** Orders diagnostics by file, line, column, then code, so output is stable. */
export function sortDiagnostics(list: readonly Diagnostic[]): Diagnostic[] {
  return [...list].sort((a, b) => {
    const fa = a.location?.file ?? "";
    const fb = b.location?.file ?? "";
    if (fa !== fb) return fa < fb ? -1 : 1;
    const la = a.location?.line ?? 0;
    const lb = b.location?.line ?? 0;
    if (la !== lb) return la - lb;
    const ca = a.location?.column ?? 0;
    const cb = b.location?.column ?? 0;
    if (ca !== cb) return ca - cb;
    return a.code < b.code ? -1 : a.code > b.code ? 1 : 0;
  });
}
