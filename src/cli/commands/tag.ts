import { LocalStore } from "../../oci/store.js";
import { type Command, storePath } from "../context.js";

export const tagCommand: Command = {
  name: "tag",
  summary: "Add a reference to a package in the local store.",
  usage: "agentrc tag <source-ref> <target-ref> [--store <dir>]",
  options: {
    store: {
      type: "string",
      value: "<dir>",
      description: "local store directory (default $AGENTRC_STORE, else XDG data dir)",
    },
  },
  async run(ctx) {
    if (ctx.positionals.length !== 2) {
      return ctx.usage("expected <source-ref> <target-ref>");
    }
    const [source, target] = ctx.positionals as [string, string];
    const path = storePath(ctx);
    const store = await LocalStore.open({ path });
    const descriptor = await store.resolve(source);
    await store.tag(target, descriptor);
    if (ctx.json)
      ctx.out(JSON.stringify({ version: 1, ok: true, source, target, digest: descriptor.digest }));
    else if (!ctx.quiet) ctx.err(`tagged ${target} → ${descriptor.digest}`);
    return 0;
  },
};
