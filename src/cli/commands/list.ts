import { LocalStore } from "../../oci/store.js";
import type { ImageManifest } from "../../oci/types.js";
import { type Command, storePath } from "../context.js";
import { formatBytes } from "../progress.js";

export const listCommand: Command = {
  name: "list",
  summary: "List the packages in the local store (untagged ones as <none>).",
  usage: "agentrc list [--store <dir>] [--json]",
  options: {
    store: {
      type: "string",
      value: "<dir>",
      description: "local store directory (default $AGENTRC_STORE, else XDG data dir)",
    },
  },
  async run(ctx) {
    if (ctx.positionals.length > 0)
      return ctx.usage(`takes no arguments, got "${ctx.positionals.join(" ")}"`);
    const store = await LocalStore.open({ path: storePath(ctx) });
    const entries = await Promise.all(
      (await store.layout.list()).map(async (e) => {
        // Size as docker shows it: the whole package (manifest, config, layers), not the manifest alone.
        const manifest = JSON.parse(
          (await store.layout.readBlob(e.descriptor.digest, 4 * 1024 * 1024)).toString(),
        ) as ImageManifest;
        const size = [manifest.config, ...(manifest.layers ?? [])].reduce(
          (n, d) => n + (d?.size ?? 0),
          e.descriptor.size,
        );
        return {
          ref: e.ref ?? null,
          digest: e.descriptor.digest,
          size,
          artifactType: e.descriptor.artifactType,
        };
      }),
    );
    if (ctx.json) {
      ctx.out(JSON.stringify({ version: 1, ok: true, store: store.path, packages: entries }, null, 2));
      return 0;
    }
    if (entries.length === 0) {
      if (!ctx.quiet) ctx.err(`no packages in ${store.path}`);
      return 0;
    }
    const width = entries.reduce((w, e) => Math.max(w, (e.ref ?? "<none>").length), 9);
    ctx.out(`${"REFERENCE".padEnd(width)}  ${"DIGEST".padEnd(19)}  SIZE`);
    for (const e of entries) {
      ctx.out(`${(e.ref ?? "<none>").padEnd(width)}  ${e.digest.slice(0, 19)}  ${formatBytes(e.size)}`);
    }
    return 0;
  },
};
