import { resolve } from "node:path";
import { inspectRemote } from "../../api.js";
import { AgentrcError, isAgentrcError } from "../../diagnostics/AgentrcError.js";
import { LocalStore } from "../../oci/store.js";
import { openPackageSource, type PackageView, readPackage, summarisePackage } from "../../package/read.js";
import { parseReference } from "../../registry/reference.js";
import { printable } from "../../util/terminal.js";
import { type Command, type CommandContext, storePath } from "../context.js";
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
    const view = await inspectTarget(ctx, target);
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

/**
 * Local first: a path or `oci:` layout, else the local store (the reference as written, then normalised). A
 * reference that is not in the store, names a registry host explicitly (`host.tld/…`, `host:port/…`, `localhost/…`)
 * and whose host no package in the store comes from is fetched from that registry, manifest and config only (a
 * host the store knows is a local miss: `OCI_REF_NOT_FOUND`, with a hint to use `--remote`); `--remote` skips the
 * store.
 */
async function inspectTarget(ctx: CommandContext, target: string): Promise<PackageView> {
  const remote = () => inspectRemote(target, registryOptions(ctx));
  if (ctx.values.remote === true) return remote();
  const store = storePath(ctx);
  const isPath = target.startsWith(".") || target.startsWith("/");
  if (isPath || (target.startsWith("oci:") && !target.startsWith("oci://"))) {
    const { layout, ref, source } = await openPackageSource(
      isPath ? resolve(ctx.io.cwd, target) : target,
      store,
    );
    return readPackage(layout, ref, source);
  }
  const candidates = target.startsWith("oci://") ? [] : [target];
  let explicitHost = false;
  let registry: string | undefined;
  try {
    const parsed = parseReference(target);
    registry = parsed.registry;
    candidates.push(parsed.toString());
    const name = target.replace(/^oci:\/\//, "");
    const first = name.split("/")[0]!;
    explicitHost =
      name.includes("/") && (/[.:]/.test(first) || first === "localhost" || first.startsWith("["));
  } catch {
    // not a registry reference: only the store can have it
  }
  let notFound: unknown;
  for (const candidate of [...new Set(candidates)]) {
    try {
      const { layout, ref, source } = await openPackageSource(candidate, store);
      return await readPackage(layout, ref, source);
    } catch (err) {
      if (!isAgentrcError(err) || err.code !== "OCI_REF_NOT_FOUND") throw err;
      notFound ??= err;
    }
  }
  if (explicitHost && registry !== undefined) {
    const store = await LocalStore.open({ path: storePath(ctx) });
    const known = (await store.list()).some((e) => registryOf(e.ref) === registry);
    if (!known) return remote();
    throw new AgentrcError("OCI_REF_NOT_FOUND", (notFound as Error).message, {
      hint: `The local store has other packages from ${registry}; pass --remote to read it from the registry.`,
      cause: notFound,
    });
  }
  throw notFound;
}

function registryOf(ref: string): string | undefined {
  try {
    return parseReference(ref).registry;
  } catch {
    return undefined;
  }
}
