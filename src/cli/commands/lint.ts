import { lint } from "../../api.js";
import { summarise } from "../../diagnostics/format.js";
import { defaultCacheDir } from "../../fs/fileDigest.js";
import { agentArgs, type Command } from "../context.js";
import { REGISTRY_OPTIONS, REGISTRY_USAGE, registryOptions } from "../registryFlags.js";
import { printDiagnostics } from "../report.js";

export const lintCommand: Command = {
  name: "lint",
  summary: "Check an agent source tree: Agentfile, referenced files, secrets, policy.",
  usage: `agentrc lint [dir] [--json] [--config <file>] [--no-color] ${REGISTRY_USAGE}`,
  // lint itself stays offline; the flags reach plugins that do resolve during lint
  options: { ...REGISTRY_OPTIONS },
  async run(ctx) {
    const args = agentArgs(ctx);
    if (typeof args === "number") return args;
    const result = await lint({
      ...args,
      cacheDir: defaultCacheDir(ctx.io.env),
      registry: registryOptions(ctx),
    });
    const { compilation, diagnostics } = result;
    if (ctx.json) {
      ctx.out(
        JSON.stringify(
          {
            version: 1,
            ok: result.errorCount === 0,
            context: compilation.context,
            agent: compilation.spec?.agent ?? null,
            errorCount: result.errorCount,
            warningCount: result.warningCount,
            diagnostics,
          },
          null,
          2,
        ),
      );
    } else {
      printDiagnostics(ctx, compilation.context, diagnostics);
      if (!ctx.quiet) ctx.err(`${result.errorCount === 0 ? "✔" : "✖"} ${summarise(diagnostics)}`);
    }
    return result.errorCount === 0 ? 0 : 1;
  },
};
