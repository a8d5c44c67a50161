import { resolve } from "node:path";
import { openPackageSource, readPackage, summarisePackage } from "../../package/read.js";
import { type Command, storePath } from "../context.js";
import { formatBytes } from "../progress.js";

export const inspectCommand: Command = {
  name: "inspect",
  summary:
    "Show a package's manifest, annotations, layers and agent summary (store ref, layout dir or oci:<dir>:<tag>).",
  usage: "agentrc inspect <ref | dir | oci:<dir>:<tag>> [--store <dir>] [--json]",
  options: { store: { type: "string" } },
  async run(ctx) {
    const [target, ...extra] = ctx.positionals;
    if (!target || extra.length > 0) {
      ctx.err("agentrc inspect: expected one reference or layout");
      return 2;
    }
    const store = storePath(ctx);
    const isPath = target.startsWith(".") || target.startsWith("/");
    const { layout, ref, source } = await openPackageSource(
      isPath ? resolve(ctx.io.cwd, target) : target,
      store,
    );
    const view = await readPackage(layout, ref, source);
    const summary = summarisePackage(view);
    if (ctx.json) {
      ctx.out(
        JSON.stringify(
          {
            version: 1,
            ref: view.ref,
            source: view.source,
            descriptor: view.descriptor,
            manifest: view.manifest,
            config: view.config,
            summary,
          },
          null,
          2,
        ),
      );
      return 0;
    }
    ctx.out(`${view.ref}`);
    ctx.out(`  digest        ${view.descriptor.digest}`);
    ctx.out(`  artifactType  ${view.manifest.artifactType ?? "-"}`);
    ctx.out("  annotations");
    for (const [k, v] of Object.entries(view.manifest.annotations ?? {})) ctx.out(`    ${k}: ${v}`);
    ctx.out("  layers");
    for (const l of view.manifest.layers) {
      const title = l.annotations?.["org.opencontainers.image.title"] ?? "";
      ctx.out(`    ${title.padEnd(20)} ${formatBytes(l.size).padStart(10)}  ${l.digest}  ${l.mediaType}`);
    }
    ctx.out("  agent");
    for (const [k, v] of Object.entries(summary)) {
      const shown = Array.isArray(v)
        ? v.length === 0
          ? "-"
          : v.map((x) => (typeof x === "string" ? x : JSON.stringify(x))).join(", ")
        : v === null
          ? "-"
          : typeof v === "object"
            ? JSON.stringify(v)
            : String(v);
      ctx.out(`    ${k.padEnd(12)} ${shown}`);
    }
    return 0;
  },
};
