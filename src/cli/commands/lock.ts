import { join } from "node:path";
import { lock } from "../../api.js";
import { summarise } from "../../diagnostics/format.js";
import { defaultCacheDir } from "../../fs/fileDigest.js";
import { dependencyMoves } from "../../lockfile/moves.js";
import { LOCKFILE_NAME } from "../../lockfile/types.js";
import { agentArgs, type Command } from "../context.js";
import { REGISTRY_OPTIONS, REGISTRY_USAGE, registryOptions } from "../registryFlags.js";
import { printDiagnostics } from "../report.js";
import { TRUST_POLICY_FLAG, trustPolicyFile } from "../trustFlags.js";

export const lockCommand: Command = {
  name: "lock",
  summary: "Resolve and pin the agent's inputs into agentrc.lock.",
  usage: `agentrc lock [dir] [--frozen-lockfile] [--trust-policy <file>] ${REGISTRY_USAGE} [--json]\n       agentrc lock --update [name…] [-C <dir>] ${REGISTRY_USAGE} [--json]`,
  options: {
    update: {
      type: "boolean",
      description:
        "re-resolve the tags of the pinned FROM, SKILL oci:// and TOOLSET oci:// (all, or the named ones) and print what moved",
    },
    directory: {
      type: "string",
      short: "C",
      value: "<dir>",
      description: "the agent directory (with --update, whose arguments are dependency names)",
    },
    "frozen-lockfile": {
      type: "boolean",
      description: "fail if agentrc.lock would change instead of writing it",
    },
    "trust-policy": TRUST_POLICY_FLAG,
    ...REGISTRY_OPTIONS,
  },
  async run(ctx) {
    const updating = ctx.values.update === true;
    const names = updating ? [...ctx.positionals] : undefined;
    if (updating && ctx.values["frozen-lockfile"] === true) {
      return ctx.usage("--update and --frozen-lockfile contradict each other");
    }
    const directory = typeof ctx.values.directory === "string" ? ctx.values.directory : undefined;
    if (!updating && directory !== undefined && ctx.positionals.length > 0) {
      return ctx.usage("give the directory once: as an argument or with -C");
    }
    const args = agentArgs(
      updating || directory !== undefined
        ? { ...ctx, positionals: directory === undefined ? [] : [directory] }
        : ctx,
    );
    if (typeof args === "number") return args;
    const frozen = ctx.values["frozen-lockfile"] === true;
    const result = await lock({
      ...args,
      ...(names === undefined ? {} : { update: names }),
      cacheDir: defaultCacheDir(ctx.io.env),
      registry: registryOptions(ctx),
      ...(frozen ? { config: { build: { frozenLockfile: true } } } : {}),
      ...(trustPolicyFile(ctx) === undefined ? {} : { trustPolicy: trustPolicyFile(ctx)! }),
    });
    const { compilation, diagnostics } = result;
    const updates =
      names === undefined || result.errorCount > 0
        ? undefined
        : dependencyMoves(compilation.lock, compilation.resolvedLock, names);
    if (ctx.json) {
      ctx.out(
        JSON.stringify(
          {
            version: 1,
            ok: result.errorCount === 0,
            context: compilation.context,
            lockfile: compilation.resolvedLock ?? null,
            lockfileStatus: compilation.lockfileStatus ?? null,
            ...(updates === undefined ? {} : { updates }),
            diagnostics,
          },
          null,
          2,
        ),
      );
    } else {
      printDiagnostics(ctx, compilation.context, diagnostics);
      for (const u of updates ?? []) {
        ctx.out(
          u.moved
            ? `moved     ${u.ref}  ${u.before ?? "(not pinned)"} → ${u.after}`
            : `unchanged ${u.ref}  ${u.after}`,
        );
      }
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
