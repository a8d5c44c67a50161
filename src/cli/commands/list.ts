import { LocalStore } from "../../oci/store.js";
import { type Command, storePath } from "../context.js";
import { formatBytes } from "../progress.js";

export const listCommand: Command = {
  name: "list",
  summary: "List the packages in the local store.",
  usage: "agentrc list [--store <dir>] [--json]",
  options: { store: { type: "string" } },
  async run(ctx) {
    const path = storePath(ctx);
    const store = await LocalStore.open({ path });
    const entries = await store.list();
    if (ctx.json) {
      ctx.out(
        JSON.stringify(
          {
            version: 1,
            store: store.path,
            packages: entries.map((e) => ({
              ref: e.ref,
              digest: e.descriptor.digest,
              size: e.descriptor.size,
              artifactType: e.descriptor.artifactType,
            })),
          },
          null,
          2,
        ),
      );
      return 0;
    }
    if (entries.length === 0) {
      if (!ctx.quiet) ctx.err(`no packages in ${store.path}`);
      return 0;
    }
    const width = Math.max(...entries.map((e) => e.ref.length), 9);
    ctx.out(`${"REFERENCE".padEnd(width)}  ${"DIGEST".padEnd(19)}  SIZE`);
    for (const e of entries) {
      ctx.out(
        `${e.ref.padEnd(width)}  ${e.descriptor.digest.slice(0, 19)}  ${formatBytes(e.descriptor.size)}`,
      );
    }
    return 0;
  },
};
