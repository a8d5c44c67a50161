import { resolve } from "node:path";
import { BlobCache, type CachePruneResult, cacheExists } from "../../cache/BlobCache.js";
import { defaultCacheDir } from "../../fs/fileDigest.js";
import { LocalStore } from "../../oci/store.js";
import { type Command, STORE_FLAG, storePath } from "../context.js";
import { formatBytes } from "../progress.js";

export const pruneCommand: Command = {
  name: "prune",
  summary:
    "Delete blobs no reference uses from the local store and the build cache, and print the space reclaimed (safe while builds run).",
  usage: "agentrc prune [--all] [--store <dir>] [--cache <dir>] [--json]",
  options: {
    all: {
      type: "boolean",
      description: "also drop the whole layer cache (the next build packs every layer again)",
    },
    store: STORE_FLAG,
    cache: {
      type: "string",
      value: "<dir>",
      description: "build cache directory (default $AGENTRC_CACHE, else $XDG_CACHE_HOME/agentrc)",
    },
  },
  async run(ctx) {
    if (ctx.positionals.length > 0)
      return ctx.usage(`takes no arguments, got "${ctx.positionals.join(" ")}"`);
    const store = await LocalStore.open({ path: storePath(ctx) });
    const swept = await store.prune();
    const cacheDir =
      typeof ctx.values.cache === "string"
        ? resolve(ctx.io.cwd, ctx.values.cache)
        : defaultCacheDir(ctx.io.env);
    const cacheResult: CachePruneResult = (await cacheExists(cacheDir))
      ? await (await BlobCache.open(cacheDir)).prune({ all: ctx.values.all === true })
      : { deleted: 0, bytes: 0, kept: 0, keptBytes: 0, entries: 0, blockEntries: 0 };
    const reclaimed = swept.bytes + cacheResult.bytes;
    if (ctx.json) {
      ctx.out(
        JSON.stringify(
          {
            version: 1,
            ok: true,
            store: { path: store.path, ...swept },
            cache: { path: cacheDir, ...cacheResult },
            reclaimed,
          },
          null,
          2,
        ),
      );
      return 0;
    }
    if (!ctx.quiet) {
      ctx.out(`store ${store.path}: deleted ${plural(swept.deleted, "blob")}, ${formatBytes(swept.bytes)}`);
      ctx.out(
        `build cache ${cacheDir}: deleted ${plural(cacheResult.deleted, "blob")} and ${plural(cacheResult.entries, "layer entry", "layer entries")}, ${formatBytes(cacheResult.bytes)}`,
      );
      ctx.out(`Total reclaimed space: ${formatBytes(reclaimed)}`);
    }
    return 0;
  },
};

function plural(n: number, one: string, many = `${one}s`): string {
  return `${n} ${n === 1 ? one : many}`;
}
