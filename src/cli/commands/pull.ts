import { resolve } from "node:path";
import { pull } from "../../api.js";
import { type Command, STORE_FLAG, storePath } from "../context.js";
import { formatBytes } from "../progress.js";
import { REGISTRY_OPTIONS, REGISTRY_USAGE, registryOptions } from "../registryFlags.js";
import { printDiagnostics } from "../report.js";
import { TransferProgress } from "../transferProgress.js";
import { TRUST_POLICY_FLAG, trustPolicyFile } from "../trustFlags.js";
import { CONCURRENCY_FLAG, parseConcurrency } from "./push.js";

export const pullCommand: Command = {
  name: "pull",
  summary:
    "Pull a package into the local store (every digest verified); -o also unpacks it into a new directory.",
  usage: `agentrc pull <ref> [-o <dir>] [--store <dir>] [--concurrency <n>] [--trust-policy <file>] ${REGISTRY_USAGE} [--json]`,
  options: {
    output: {
      type: "string",
      short: "o",
      value: "<dir>",
      description: "also unpack the files into this new directory",
    },
    store: STORE_FLAG,
    concurrency: CONCURRENCY_FLAG,
    "trust-policy": TRUST_POLICY_FLAG,
    ...REGISTRY_OPTIONS,
  },
  async run(ctx) {
    const [ref, ...extra] = ctx.positionals;
    if (!ref || extra.length > 0) {
      return ctx.usage("expected one reference (host[:port]/repo:tag or …@sha256:<hex>)");
    }
    const concurrency = parseConcurrency(ctx.values.concurrency);
    if (concurrency === null) {
      return ctx.usage("--concurrency must be an integer from 1 to 32");
    }
    const output = typeof ctx.values.output === "string" ? resolve(ctx.io.cwd, ctx.values.output) : undefined;
    const progress =
      ctx.json || ctx.quiet
        ? undefined
        : new TransferProgress((s) => ctx.io.stderr.write(s), ctx.io.stderr.isTTY === true, "", {
            size: () => ctx.io.stderr,
          });
    const result = await pull(ref, {
      ...registryOptions(ctx),
      store: storePath(ctx),
      ...(output === undefined ? {} : { output }),
      ...(concurrency === undefined ? {} : { concurrency }),
      ...(progress ? { onProgress: (e) => progress.update(e) } : {}),
      cwd: ctx.io.cwd,
      ...(typeof ctx.values.config === "string"
        ? { configFile: resolve(ctx.io.cwd, ctx.values.config) }
        : {}),
      ...(trustPolicyFile(ctx) === undefined ? {} : { trustPolicy: trustPolicyFile(ctx)! }),
    });
    progress?.finish();
    if (ctx.json) {
      ctx.out(
        JSON.stringify(
          {
            version: 1,
            ok: true,
            digest: result.digest,
            reference: result.reference,
            tag: result.tag,
            mediaType: result.mediaType,
            size: result.size,
            blobs: result.blobs,
            ...(result.output ? { output: result.output } : {}),
            referrers: result.referrers,
            ...(result.trust
              ? {
                  trust: {
                    scope: result.trust.scope,
                    requirement: result.trust.requirement,
                    policy: result.trust.policy,
                    signers: result.trust.signers,
                  },
                }
              : {}),
            warnings: result.warnings,
          },
          null,
          2,
        ),
      );
      return 0;
    }
    printDiagnostics(ctx, ctx.io.cwd, result.warnings);
    if (!ctx.quiet) {
      const downloaded = result.blobs.filter((b) => b.status === "downloaded");
      const bytes = downloaded.reduce((n, b) => n + b.size, 0);
      ctx.err(
        `pulled ${result.reference}: ${downloaded.length} downloaded ${formatBytes(bytes)}, ${result.blobs.length - downloaded.length} already in the store; tagged ${result.tag}`,
      );
      if (result.trust?.scope !== undefined) {
        ctx.err(
          `trust policy scope "${result.trust.scope}": ${result.trust.requirement}${result.trust.signers.length > 0 ? `, signed by ${result.trust.signers.join(", ")}` : ""}`,
        );
      }
      if (result.output) {
        ctx.err(
          `unpacked ${result.output.files} files (${formatBytes(result.output.bytes)}) into ${result.output.dir}`,
        );
      }
    }
    ctx.out(result.reference);
    return 0;
  },
};
