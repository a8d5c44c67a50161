import { join, resolve } from "node:path";
import { lock } from "../../api.js";
import { summarise } from "../../diagnostics/format.js";
import type { Command } from "../context.js";
import { printDiagnostics } from "../report.js";

export const lockCommand: Command = {
  name: "lock",
  summary: "Resolve and pin the agent's inputs into agentrc.lock.",
  usage: "agentrc lock [dir] [--frozen-lockfile] [--json]",
  options: { "frozen-lockfile": { type: "boolean" } },
  async run(ctx) {
    if (ctx.positionals.length > 1) {
      ctx.err(`agentrc lock: expected at most one directory, got ${ctx.positionals.length}`);
      return 2;
    }
    const dir = resolve(ctx.io.cwd, ctx.positionals[0] ?? ".");
    const configFile =
      typeof ctx.values.config === "string" ? resolve(ctx.io.cwd, ctx.values.config) : undefined;
    const frozen = ctx.values["frozen-lockfile"] === true;
    const result = await lock({
      dir,
      ...(configFile ? { configFile } : {}),
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
