import { resolve } from "node:path";
import { build } from "../../api.js";
import { summarise } from "../../diagnostics/format.js";
import { defaultCacheDir } from "../../fs/fileDigest.js";
import { parseReference } from "../../registry/reference.js";
import { agentArgs, type Command, checkArgument, STORE_FLAG, storePath } from "../context.js";
import { formatBytes, PackProgressPlugin } from "../progress.js";
import { REGISTRY_OPTIONS, REGISTRY_USAGE, registryOptions } from "../registryFlags.js";
import { printDiagnostics } from "../report.js";
import { TransferProgress } from "../transferProgress.js";
import { TRUST_POLICY_FLAG, trustPolicyFile } from "../trustFlags.js";
import { CONCURRENCY_FLAG, parseConcurrency, pushJson, pushSummary } from "./push.js";

export const buildCommand: Command = {
  name: "build",
  summary: "Build the agent into a reproducible OCI package (local store, --output layout or oci-archive).",
  usage: `agentrc build [dir] [-t <ref>]... [--output <dir|file>] [--output-format oci|oci-archive] [--frozen-lockfile] [--image] [--store <dir>] [--push] [--sign-key <private-key>] [--trust-policy <file>] [--cache-from <ref>]... [--cache-to <ref>] [--concurrency <n>] ${REGISTRY_USAGE} [--json]`,
  options: {
    tag: {
      type: "string",
      short: "t",
      multiple: true,
      value: "<ref>",
      description: "tag the package in the store (repeatable)",
    },
    output: {
      type: "string",
      short: "o",
      value: "<dir|file>",
      description: "write an OCI layout directory (or an archive) instead of the store",
    },
    "output-format": {
      type: "string",
      value: "<oci|oci-archive>",
      description: "format of --output (default oci)",
    },
    "frozen-lockfile": {
      type: "boolean",
      description: "fail if agentrc.lock would change instead of writing it",
    },
    image: {
      type: "boolean",
      description: "also produce a plain OCI image of the agent, tagged <tag>-image (podman, Kubernetes)",
    },
    store: STORE_FLAG,
    push: { type: "boolean", description: "push the package to every -t reference after building" },
    "sign-key": {
      type: "string",
      value: "<private-key>",
      description: "sign the package and its provenance with this key ($AGENTRC_KEY_PASSPHRASE if encrypted)",
    },
    "trust-policy": TRUST_POLICY_FLAG,
    "cache-from": {
      type: "string",
      multiple: true,
      value: "<ref>",
      description: "read layers from this shared build cache on a registry (repeatable; docs/cache.md)",
    },
    "cache-to": {
      type: "string",
      value: "<ref>",
      description: "add this build's layers to this shared build cache on a registry",
    },
    concurrency: CONCURRENCY_FLAG,
    ...REGISTRY_OPTIONS,
  },
  async run(ctx) {
    const format = ctx.values["output-format"];
    if (format !== undefined && format !== "oci" && format !== "oci-archive") {
      return ctx.usage(`--output-format must be oci or oci-archive, got "${String(format)}"`);
    }
    if (format !== undefined && ctx.values.output === undefined) {
      return ctx.usage("--output-format needs --output");
    }
    const args = agentArgs(ctx);
    if (typeof args === "number") return args;
    const concurrency = parseConcurrency(ctx.values.concurrency);
    if (concurrency === null) return ctx.usage("--concurrency must be an integer from 1 to 32");
    const tags = (ctx.values.tag as string[] | undefined) ?? [];
    for (const tag of tags) checkArgument("-t", () => parseReference(tag));
    const cacheFrom = (ctx.values["cache-from"] as string[] | undefined) ?? [];
    const cacheTo = typeof ctx.values["cache-to"] === "string" ? ctx.values["cache-to"] : undefined;
    for (const ref of cacheFrom) checkArgument("--cache-from", () => parseReference(ref));
    if (cacheTo !== undefined) checkArgument("--cache-to", () => parseReference(cacheTo));
    const output = typeof ctx.values.output === "string" ? resolve(ctx.io.cwd, ctx.values.output) : undefined;
    const store = storePath(ctx);
    const showProgress = !ctx.json && !ctx.quiet;
    if (ctx.values.push === true && tags.length === 0) {
      return ctx.usage("--push needs at least one -t <host/repo:tag> to push to");
    }
    const tty = ctx.io.stderr.isTTY === true;
    const transfers = new Map<string, TransferProgress>();
    const push =
      ctx.values.push === true
        ? {
            ...(showProgress
              ? {
                  onProgress: (e: Parameters<TransferProgress["update"]>[0], reference: string) => {
                    let p = transfers.get(reference);
                    if (!p) {
                      p = new TransferProgress(
                        (s) => ctx.io.stderr.write(s),
                        tty,
                        tags.length > 1 ? `${reference} ` : "",
                        { size: () => ctx.io.stderr },
                      );
                      transfers.set(reference, p);
                    }
                    p.update(e);
                  },
                }
              : {}),
          }
        : undefined;
    const result = await build({
      ...args,
      cacheDir: defaultCacheDir(ctx.io.env),
      config: {
        build: {
          tags,
          ...(ctx.values["frozen-lockfile"] === true ? { frozenLockfile: true } : {}),
          ...(ctx.values.image === true ? { image: true } : {}),
          ...(cacheFrom.length > 0 ? { cacheFrom } : {}),
          ...(cacheTo === undefined ? {} : { cacheTo }),
          ...(output ? { output } : {}),
          ...(format ? { outputFormat: format } : {}),
          store,
        },
      },
      plugins: showProgress
        ? [
            new PackProgressPlugin((s) => ctx.io.stderr.write(s), ctx.io.stderr.isTTY === true, {
              size: () => ctx.io.stderr,
            }),
          ]
        : [],
      // FROM pinning and SKILL oci:// reach registries in every build, not only with --push
      registry: { ...registryOptions(ctx), ...(concurrency === undefined ? {} : { concurrency }) },
      ...(push ? { push } : {}),
      ...(typeof ctx.values["sign-key"] === "string"
        ? { signKey: resolve(ctx.io.cwd, ctx.values["sign-key"]) }
        : {}),
      ...(trustPolicyFile(ctx) === undefined ? {} : { trustPolicy: trustPolicyFile(ctx)! }),
    });
    for (const p of transfers.values()) p.finish();
    const { compilation, diagnostics } = result;
    const pkg = compilation.package;
    const ok = result.errorCount === 0 && pkg !== undefined && compilation.emitted !== undefined;
    if (ctx.json) {
      ctx.out(
        JSON.stringify(
          {
            version: 1,
            ok,
            ...(pkg
              ? {
                  digest: pkg.descriptor.digest,
                  size: pkg.descriptor.size,
                  mediaType: pkg.descriptor.mediaType,
                  artifactType: pkg.manifest.artifactType,
                  config: pkg.config.descriptor,
                  layers: pkg.layers.map((l) => ({
                    title: l.descriptor.annotations?.["org.opencontainers.image.title"],
                    mediaType: l.descriptor.mediaType,
                    digest: l.descriptor.digest,
                    size: l.descriptor.size,
                    ...(l.diffId ? { uncompressedDigest: l.diffId } : {}),
                    cached: l.cached === true,
                  })),
                  annotations: pkg.manifest.annotations ?? {},
                  ...(pkg.image
                    ? {
                        image: {
                          digest: pkg.image.descriptor.digest,
                          size: pkg.image.descriptor.size,
                          mediaType: pkg.image.descriptor.mediaType,
                          config: pkg.image.config.descriptor,
                        },
                      }
                    : {}),
                }
              : {}),
            ...(pkg
              ? {
                  attached: pkg.attached.map((a) => ({
                    digest: a.descriptor.digest,
                    artifactType: a.descriptor.artifactType,
                    subject: a.subject,
                  })),
                }
              : {}),
            ...(compilation.emitted ? { output: compilation.emitted } : {}),
            ...(result.pushed ? { pushed: result.pushed.map(pushJson) } : {}),
            timings: compilation.timings,
            diagnostics,
          },
          null,
          2,
        ),
      );
      return ok ? 0 : 1;
    }
    printDiagnostics(ctx, compilation.context, diagnostics);
    if (!ok || !pkg) {
      if (!ctx.quiet) ctx.err(`✖ build failed: ${summarise(diagnostics)}`);
      return 1;
    }
    if (!ctx.quiet) {
      const emitted = compilation.emitted!;
      const where = emitted.format === "store" ? "local store" : `${emitted.format} ${emitted.target}`;
      const total = pkg.layers.reduce((n, l) => n + l.descriptor.size, pkg.config.descriptor.size);
      ctx.err(
        `✔ built ${compilation.packageName ?? compilation.spec.agent} (${pkg.layers.length} layers, ${formatBytes(total)}) into ${where}`,
      );
      for (const t of emitted.tags) ctx.err(`  tagged ${t}`);
      if (pkg.image) ctx.err(`  image ${pkg.image.descriptor.digest}`);
      for (const t of emitted.imageTags ?? []) ctx.err(`  tagged ${t} (image)`);
      for (const r of result.pushed ?? []) ctx.err(`  ${pushSummary(r)}`);
    }
    ctx.out(pkg.descriptor.digest);
    return 0;
  },
};
