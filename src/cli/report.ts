import { readFileSync } from "node:fs";
import { join } from "node:path";
import { formatDiagnostics } from "../diagnostics/format.js";
import type { Diagnostic } from "../diagnostics/types.js";
import type { CommandContext } from "./context.js";

/** Prints diagnostics compiler-style on stderr, reading source lines from the build context (errors only with --quiet). */
export function printDiagnostics(
  ctx: CommandContext,
  context: string,
  diagnostics: readonly Diagnostic[],
): void {
  const shown = ctx.quiet ? diagnostics.filter((d) => d.severity === "error") : diagnostics;
  if (shown.length === 0) return;
  const source = (file: string) => {
    try {
      return readFileSync(join(context, file), "utf8");
    } catch {
      return undefined;
    }
  };
  ctx.err(formatDiagnostics(shown, { color: ctx.color, source }));
}
