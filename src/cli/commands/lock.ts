import { join } from "node:path";
import { lock } from "../../api.js";
import { summarise } from "../../diagnostics/format.js";
import { agentArgs, type Command } from "../context.js";
import { printDiagnostics } from "../report.js";

export const lockCommand: Command = {
  name: "lock",
  summary: "Resolve and pin the agent's inputs into agentrc.lock.",
  usage: "agentrc lock [dir] [--frozen-lockfile] [--json]",
  options: {
    "frozen-lockfile": {
      type: "boolean",
      description: "fail if agentrc.lock would change instead of writing it",
    },
  },
  async run(ctx) {
    const args = agentArgs(ctx);
    if (typeof args === "number") return args;
    const frozen = ctx.values["frozen-lockfile"] === true;
    const result = await lock({
      ...args,
      ...(frozen ? { config: { build: { frozenLockfile: true } } } : {}),
    });
    const { compilation, diagnostics } = result;
    if (ctx.json) {
      ctx.out(
        JSON.stringify(
          {
            version: 1,
            ok: result.errorCount === 0,
            lockfile: compilation.resolvedLock ?? null,
            diagnostics,
          },
          null,
          2,
        ),
      );
    } else {
      printDiagnostics(ctx, compilation.context, diagnostics);
      if (!ctx.quiet) {
        ctx.err(
          result.errorCount === 0
            ? `✔ ${join(compilation.context, "agentrc.lock")} is up to date`
            : `✖ ${summarise(diagnostics)}`,
        );
      }
    }
    return result.errorCount === 0 ? 0 : 1;
  },
};
