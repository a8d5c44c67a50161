import { push } from "../../api.js";
import { DEFAULT_CONCURRENCY, type PushImageResult } from "../../transfer/index.js";
import { type Command, type Flag, STORE_FLAG, storePath } from "../context.js";
import { formatBytes } from "../progress.js";
import { REGISTRY_OPTIONS, REGISTRY_USAGE, registryOptions } from "../registryFlags.js";
import { TransferProgress } from "../transferProgress.js";

/** The `--json` shape shared by push and build --push (docs/registry.md). */
export function pushJson(r: PushImageResult): Record<string, unknown> {
  return {
    digest: r.digest,
    reference: r.reference,
    ...(r.tag === undefined ? {} : { tag: r.tag }),
    mediaType: r.mediaType,
    size: r.size,
    blobs: r.blobs.map((b) => ({ digest: b.digest, size: b.size, status: b.status })),
  };
}

/** One summary line: `pushed host/repo@sha256:… (3 uploaded 2.1 MiB, 4 exist)`. */
export function pushSummary(r: PushImageResult): string {
  const count = (s: string) => r.blobs.filter((b) => b.status === s);
  const uploaded = count("uploaded");
  const parts = [`${uploaded.length} uploaded ${formatBytes(uploaded.reduce((n, b) => n + b.size, 0))}`];
  if (count("exists").length > 0) parts.push(`${count("exists").length} already there`);
  if (count("mounted").length > 0) parts.push(`${count("mounted").length} mounted`);
  return `pushed ${r.reference}${r.tag ? ` (tag ${r.tag})` : ""}: ${parts.join(", ")}`;
}

export const CONCURRENCY_FLAG: Flag = {
  type: "string",
  value: "<n>",
  description: `blobs transferred at once, 1 to 32 (default ${DEFAULT_CONCURRENCY})`,
};

export const pushCommand: Command = {
  name: "push",
  summary: "Push a package from the local store to a registry; prints the digest-pinned reference.",
  usage: `agentrc push <ref> [--store <dir>] [--concurrency <n>] ${REGISTRY_USAGE} [--json]`,
  options: {
    store: STORE_FLAG,
    concurrency: CONCURRENCY_FLAG,
    ...REGISTRY_OPTIONS,
  },
  async run(ctx) {
    const [ref, ...extra] = ctx.positionals;
    if (!ref || extra.length > 0) {
      return ctx.usage("expected one reference (host[:port]/repo:tag)");
    }
    const concurrency = parseConcurrency(ctx.values.concurrency);
    if (concurrency === null) {
      return ctx.usage("--concurrency must be an integer from 1 to 32");
    }
    const progress =
      ctx.json || ctx.quiet
        ? undefined
        : new TransferProgress((s) => ctx.io.stderr.write(s), ctx.io.stderr.isTTY === true, "", {
            size: () => ctx.io.stderr,
          });
    const result = await push(ref, {
      ...registryOptions(ctx),
      store: storePath(ctx),
      ...(concurrency === undefined ? {} : { concurrency }),
      ...(progress ? { onProgress: (e) => progress.update(e) } : {}),
    });
    progress?.finish();
    if (ctx.json) {
      ctx.out(JSON.stringify({ version: 1, ok: true, ...pushJson(result) }, null, 2));
      return 0;
    }
    if (!ctx.quiet) ctx.err(pushSummary(result));
    ctx.out(result.reference);
    return 0;
  },
};

/** undefined: not given; null: invalid. */
export function parseConcurrency(value: unknown): number | undefined | null {
  if (value === undefined) return undefined;
  const n = Number(value);
  return Number.isInteger(n) && n >= 1 && n <= 32 ? n : null;
}
