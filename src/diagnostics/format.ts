import { printable } from "../util/terminal.js";
import { CODES, type CodeInfo } from "./codes.js";
import type { Diagnostic } from "./types.js";

/** What the code frame shows instead of the secret a diagnostic points at. */
export const REDACTED = "<redacted>";

const pointsAtSecret = (code: string): boolean =>
  (CODES as Record<string, CodeInfo | undefined>)[code]?.secret === true;

export interface FormatOptions {
  color: boolean;
  /** Returns the text of a file (relative path as in the location), or undefined when unreadable. */
  source: (file: string) => string | undefined;
}

const paint = (on: boolean, code: string, s: string): string => (on ? `\u001b[${code}m${s}\u001b[0m` : s);

/**
 * Formats diagnostics the way compilers do: `file:line:col severity CODE message`, the source line with a caret
 * under the offending word, and the hint.
 */
export function formatDiagnostics(list: readonly Diagnostic[], options: FormatOptions): string {
  const lines: string[] = [];
  const cache = new Map<string, string[] | undefined>();
  const sourceLines = (file: string): string[] | undefined => {
    if (!cache.has(file)) {
      const text = options.source(file);
      cache.set(file, text === undefined ? undefined : text.replace(/^\uFEFF/, "").split(/\r\n|\n|\r/));
    }
    return cache.get(file);
  };
  // Where secrets start, per `file:line`: no code frame of that line (whatever its diagnostic) shows them.
  const secretFrom = new Map<string, number>();
  for (const d of list) {
    const at = d.location;
    if (!at || at.line <= 0 || !pointsAtSecret(d.code)) continue;
    const key = `${at.file}:${at.line}`;
    secretFrom.set(
      key,
      Math.min(secretFrom.get(key) ?? Number.POSITIVE_INFINITY, Math.max(0, at.column - 1)),
    );
  }
  for (const d of list) {
    const loc = d.location;
    const where = loc ? `${loc.file}${loc.line > 0 ? `:${loc.line}:${loc.column}` : ""}` : "agentrc";
    const sev =
      d.severity === "error"
        ? paint(options.color, "31;1", "error")
        : paint(options.color, "33;1", "warning");
    lines.push(
      `${paint(options.color, "1", printable(where))} ${sev} ${paint(options.color, "2", printable(d.code))} ${printable(d.message)}`,
    );
    const text = loc && loc.line > 0 ? sourceLines(loc.file)?.[loc.line - 1] : undefined;
    if (loc && text !== undefined && text.length <= 500) {
      const gutter = String(loc.line);
      const pad = " ".repeat(gutter.length);
      const start = Math.max(0, loc.column - 1);
      const cut = secretFrom.get(`${loc.file}:${loc.line}`);
      const visible = cut === undefined ? text : `${text.slice(0, cut)}${REDACTED}`;
      const shown = printable(visible.replaceAll("\t", " "));
      const word = /^\S*/.exec(shown.slice(start))?.[0].length ?? 1;
      lines.push(`  ${gutter} | ${shown}`);
      lines.push(
        `  ${pad} | ${" ".repeat(start)}${paint(options.color, "32;1", `^${"~".repeat(Math.max(0, Math.min(word, 60) - 1))}`)}`,
      );
    }
    if (d.hint) lines.push(`  ${paint(options.color, "36", "hint:")} ${printable(d.hint)}`);
  }
  return lines.join("\n");
}

/** "2 errors, 1 warning" */
export function summarise(list: readonly Diagnostic[]): string {
  const errors = list.filter((d) => d.severity === "error").length;
  const warnings = list.length - errors;
  const plural = (n: number, w: string) => `${n} ${w}${n === 1 ? "" : "s"}`;
  return `${plural(errors, "error")}, ${plural(warnings, "warning")}`;
}
