import { LIFECYCLE_STATES, type LifecycleState, promotePackage } from "../../package/promote.js";
import { type Command, STORE_FLAG, storePath } from "../context.js";
import { REGISTRY_OPTIONS, REGISTRY_USAGE, registryOptions } from "../registryFlags.js";

export const promoteCommand: Command = {
  name: "promote",
  summary:
    "Move a package one lifecycle state on (draft → testing → published → deprecated → archived): retag it, record the state as a referrer; the digest stays.",
  usage: `agentrc promote <ref> --to <testing|published|deprecated|archived> [--local] [--store <dir>] ${REGISTRY_USAGE} [--json]`,
  options: {
    to: {
      type: "string",
      value: "<state>",
      description: "the next state: testing, published, deprecated or archived",
    },
    local: { type: "boolean", description: "promote in the local store instead of the registry" },
    store: STORE_FLAG,
    ...REGISTRY_OPTIONS,
  },
  async run(ctx) {
    const [ref, ...extra] = ctx.positionals;
    if (!ref || extra.length > 0) return ctx.usage("expected one reference (host[:port]/repo:tag)");
    const to = ctx.values.to;
    if (typeof to !== "string" || !LIFECYCLE_STATES.includes(to as LifecycleState) || to === "draft") {
      return ctx.usage(
        `--to must be testing, published, deprecated or archived${to === undefined ? "" : `, got "${String(to)}"`}`,
      );
    }
    const result = await promotePackage(ref, to as LifecycleState, {
      ...registryOptions(ctx),
      ...(ctx.values.local === true ? { local: true, store: storePath(ctx) } : {}),
    });
    if (ctx.json) {
      ctx.out(JSON.stringify({ version: 1, ok: true, ...result }, null, 2));
      return 0;
    }
    if (!ctx.quiet) {
      ctx.err(
        `promoted ${result.repository}@${result.digest} (${result.packageVersion}): ${result.from} → ${result.to}`,
      );
      for (const t of result.added) ctx.err(`  tagged ${t}`);
      for (const t of result.removed) ctx.err(`  untagged ${t}`);
    }
    ctx.out(result.digest);
    return 0;
  },
};
