import { AgentrcError } from "../../diagnostics/AgentrcError.js";
import { LocalStore } from "../../oci/store.js";
import { findInStore } from "../../package/push.js";
import { parseReference } from "../../registry/reference.js";
import { type Command, STORE_FLAG, storePath } from "../context.js";

export const tagCommand: Command = {
  name: "tag",
  summary:
    "Add a reference to a package in the local store (normalised as docker does: busybox → docker.io/library/busybox:latest).",
  usage: "agentrc tag <source-ref> <target-ref> [--store <dir>] [--json]",
  options: {
    store: STORE_FLAG,
  },
  async run(ctx) {
    if (ctx.positionals.length !== 2) return ctx.usage("expected <source-ref> <target-ref>");
    const [source, targetArg] = ctx.positionals as [string, string];
    // Checked before the store is touched: a bad target leaves nothing behind (REFERENCE_INVALID).
    const parsed = parseReference(targetArg);
    if (parsed.digest !== undefined) {
      throw new AgentrcError("REFERENCE_INVALID", `cannot tag with a digest reference "${targetArg}"`, {
        hint: "Name the new tag: agentrc tag <source-ref> host/repo:tag.",
      });
    }
    const target = parsed.toString();
    const store = await LocalStore.open({ path: storePath(ctx) });
    const { descriptor } = await findInStore(store, source);
    await store.tag(target, descriptor);
    if (ctx.json) {
      ctx.out(JSON.stringify({ version: 1, ok: true, source, target, digest: descriptor.digest }, null, 2));
    } else if (!ctx.quiet) ctx.err(`tagged ${target} → ${descriptor.digest}`);
    return 0;
  },
};
