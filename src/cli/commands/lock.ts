import { join } from "node:path";
import { lock } from "../../api.js";
import { summarise } from "../../diagnostics/format.js";
import { defaultCacheDir } from "../../fs/fileDigest.js";
import { LOCKFILE_NAME } from "../../lockfile/types.js";
import { agentArgs, type Command } from "../context.js";
import { REGISTRY_OPTIONS, REGISTRY_USAGE, registryOptions } from "../registryFlags.js";
import { printDiagnostics } from "../report.js";
import { TRUST_POLICY_FLAG, trustPolicyFile } from "../trustFlags.js";

export const lockCommand: Command = {
  name: "lock",
  summary: "Resolve and pin the agent's inputs into agentrc.lock.",
  usage: `agentrc lock [dir] [--frozen-lockfile] [--trust-policy <file>] ${REGISTRY_USAGE} [--json]`,
  options: {
    "frozen-lockfile": {
      type: "boolean",
      description: "fail if agentrc.lock would change instead of writing it",
    },
    "trust-policy": TRUST_POLICY_FLAG,
    ...REGISTRY_OPTIONS,
  },
  async run(ctx) {
    const args = agentArgs(ctx);
    if (typeof args === "number") return args;
    const frozen = ctx.values["frozen-lockfile"] === true;
    const result = await lock({
      ...args,
      cacheDir: defaultCacheDir(ctx.io.env),
      registry: registryOptions(ctx),
      ...(frozen ? { config: { build: { frozenLockfile: true } } } : {}),
      ...(trustPolicyFile(ctx) === undefined ? {} : { trustPolicy: trustPolicyFile(ctx)! }),
    });
    const { compilation, diagnostics } = result;
    if (ctx.json) {
      ctx.out(
        JSON.stringify(
          {
            version: 1,
            ok: result.errorCount === 0,
            context: compilation.context,
            lockfile: compilation.resolvedLock ?? null,
            lockfileStatus: compilation.lockfileStatus ?? null,
            diagnostics,
          },
          null,
          2,
        ),
      );
    } else {
      printDiagnostics(ctx, compilation.context, diagnostics);
      if (!ctx.quiet) {
        const path = join(compilation.context, LOCKFILE_NAME);
        const status = compilation.lockfileStatus;
        ctx.err(
          result.errorCount > 0
            ? `✖ ${summarise(diagnostics)}`
            : status === "created" || status === "updated"
              ? `✔ wrote ${path} (${status})`
              : `✔ ${path} is up to date (not written)`,
        );
      }
    }
    return result.errorCount === 0 ? 0 : 1;
  },
};
