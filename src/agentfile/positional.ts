import { diagnostic } from "../diagnostics/create.js";
import type { Token } from "./lexer.js";
import type { DirectiveInput, ParsedArgs, Position } from "./types.js";

export const at = (t: Token): Position => ({ line: t.line, column: t.column });

/**
 * Maps tokens onto named parameters; missing ones stay absent (the schema reports them), surplus ones are
 * an INVALID_ARGUMENTS diagnostic at the first surplus token, unless `rest` collects them.
 */
export function positional(input: DirectiveInput, params: readonly string[], rest?: string): ParsedArgs {
  const args: Record<string, unknown> = {};
  const argLocs: Record<string, Position> = {};
  params.forEach((p, i) => {
    const t = input.args[i];
    if (t) {
      args[p] = t.value;
      argLocs[`/${p}`] = at(t);
    }
  });
  const surplus = input.args.slice(params.length);
  if (rest !== undefined) {
    args[rest] = surplus.map((t) => t.value);
    surplus.forEach((t, i) => {
      argLocs[`/${rest}/${i}`] = at(t);
    });
    return { args, argLocs };
  }
  const first = surplus[0];
  if (!first) return { args, argLocs };
  const usage = params.map((p) => `<${p}>`).join(" ");
  return {
    args,
    argLocs,
    diagnostics: [
      diagnostic(
        "INVALID_ARGUMENTS",
        `${input.name.value} takes ${params.length} argument${params.length === 1 ? "" : "s"} (${input.name.value} ${usage}), got ${input.args.length}`,
        { file: input.file, ...at(first) },
      ),
    ],
  };
}
