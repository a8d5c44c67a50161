import { LocalStore } from "../../oci/store.js";
import { storeCandidates } from "../../package/push.js";
import { type Command, STORE_FLAG, storePath } from "../context.js";

export const rmCommand: Command = {
  name: "rm",
  summary:
    "Remove references from the local store (a digest removes every entry of that package); `agentrc prune` then frees the blobs.",
  usage: "agentrc rm <ref>... [--store <dir>] [--json]",
  options: { store: STORE_FLAG },
  async run(ctx) {
    if (ctx.positionals.length === 0) return ctx.usage("expected at least one <ref>");
    const store = await LocalStore.open({ path: storePath(ctx) });
    const removed = await store.remove(
      ctx.positionals.map((ref) => ({ ref, candidates: storeCandidates(ref) })),
    );
    if (ctx.json) {
      ctx.out(JSON.stringify({ version: 1, ok: true, store: store.path, removed }, null, 2));
    } else if (!ctx.quiet) {
      for (const r of removed)
        ctx.out(
          r.referrerOf === undefined
            ? `Untagged: ${r.ref ?? "<none>"}@${r.digest}`
            : `Removed referrer ${r.digest} of ${r.referrerOf}`,
        );
    }
    return 0;
  },
};
