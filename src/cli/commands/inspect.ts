import { openPackage } from "../../api.js";
import { summarisePackage } from "../../package/read.js";
import { printable } from "../../util/terminal.js";
import { type Command, storePath } from "../context.js";
import { formatBytes } from "../progress.js";
import { REGISTRY_OPTIONS, REGISTRY_USAGE, registryOptions } from "../registryFlags.js";

export const inspectCommand: Command = {
  name: "inspect",
  summary:
    "Show a package's manifest, annotations, layers and agent summary (store ref, layout dir, oci:<dir>:<tag>, or a registry ref).",
  usage: `agentrc inspect <ref | dir | oci:<dir>:<tag>> [--remote] [--store <dir>] ${REGISTRY_USAGE} [--json]`,
  options: {
    store: {
      type: "string",
      value: "<dir>",
      description: "local store directory (default $AGENTRC_STORE, else XDG data dir)",
    },
    remote: {
      type: "boolean",
      description: "read the registry, not the local store (manifest and config only)",
    },
    ...REGISTRY_OPTIONS,
  },
  async run(ctx) {
    const [target, ...extra] = ctx.positionals;
    if (!target || extra.length > 0) {
      return ctx.usage("expected one reference or layout");
    }
    const view = await openPackage(target, {
      ...registryOptions(ctx),
      store: storePath(ctx),
      cwd: ctx.io.cwd,
      ...(ctx.values.remote === true ? { remote: true } : {}),
    });
    await view.close();
    const summary = summarisePackage(view);
    if (ctx.json) {
      ctx.out(
        JSON.stringify(
          {
            version: 1,
            ok: true,
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
    // Annotations and titles come from whoever built the package (or a registry): never print them raw.
    const say = (line: string) => ctx.out(printable(line));
    say(`${view.ref}`);
    say(`  digest        ${view.descriptor.digest}`);
    say(`  artifactType  ${view.manifest.artifactType ?? "-"}`);
    say("  annotations");
    for (const [k, v] of Object.entries(view.manifest.annotations ?? {})) say(`    ${k}: ${v}`);
    say("  layers");
    for (const l of view.manifest.layers) {
      const title = l.annotations?.["org.opencontainers.image.title"] ?? "";
      say(`    ${title.padEnd(20)} ${formatBytes(l.size).padStart(10)}  ${l.digest}  ${l.mediaType}`);
    }
    say("  agent");
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
      say(`    ${k.padEnd(12)} ${shown}`);
    }
    return 0;
  },
};
