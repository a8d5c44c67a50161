import { MAX_MANIFEST_SIZE } from "../../oci/layout.js";
import { ANNOTATION_CREATED } from "../../oci/mediaTypes.js";
import { untaggedReferrerSubjects } from "../../oci/referrers.js";
import { LocalStore } from "../../oci/store.js";
import type { ImageManifest } from "../../oci/types.js";
import { listInstalled } from "../../package/install.js";
import { type Command, type CommandContext, STORE_FLAG, storePath } from "../context.js";
import { humanDuration, listFilter, renderTemplate, TEMPLATE_FIELDS } from "../listFormat.js";
import { formatBytes } from "../progress.js";
import { INSTALL_DIR_FLAG, installDir, installedJson } from "./install.js";

export const listCommand: Command = {
  name: "list",
  summary:
    "List the packages in the local store (untagged ones as <none>), optionally only a repository's (`localhost/acme/*`).",
  usage:
    "agentrc list [<repository>[:<tag>]] [-q] [--format <template>] [--store <dir>] [--json]\n       agentrc list --installed [--install-dir <dir>] [--json]",
  options: {
    store: STORE_FLAG,
    installed: {
      type: "boolean",
      description: "list the installed packages (agentrc install) with their source instead of the store",
    },
    "install-dir": INSTALL_DIR_FLAG,
    format: {
      type: "string",
      value: "<template>",
      description: `one line per package from a template: ${TEMPLATE_FIELDS.map((f) => `{{.${f}}}`).join(" ")}`,
    },
  },
  async run(ctx) {
    if (ctx.values.installed === true) return listInstalledPackages(ctx);
    if (ctx.positionals.length > 1)
      return ctx.usage(`expected at most one repository filter, got "${ctx.positionals.join(" ")}"`);
    const format = typeof ctx.values.format === "string" ? ctx.values.format : undefined;
    const template = format === undefined ? undefined : renderTemplate(format);
    if (typeof template === "string") return ctx.usage(template);
    if (format !== undefined && (ctx.json || ctx.quiet))
      return ctx.usage("--format cannot be combined with --json or -q");
    const matches = ctx.positionals[0] === undefined ? () => true : listFilter(ctx.positionals[0]);
    const store = await LocalStore.open({ path: storePath(ctx) });
    const now = Date.now();
    // Untagged referrers (signatures, attestations) belong to their package; `agentrc inspect` shows them.
    const referrers = await untaggedReferrerSubjects(store.layout);
    // Many tags may name one manifest: each is read and parsed once, however many tags it has.
    const manifests = new Map<string, Promise<ImageManifest>>();
    const manifestOf = (digest: string): Promise<ImageManifest> => {
      let manifest = manifests.get(digest);
      if (manifest === undefined) {
        manifest = store.layout
          .readBlob(digest, MAX_MANIFEST_SIZE)
          .then((bytes) => JSON.parse(bytes.toString()) as ImageManifest);
        manifests.set(digest, manifest);
      }
      return manifest;
    };
    const entries = await Promise.all(
      (await store.layout.list())
        .filter((e) => matches(e.ref) && !(e.ref === undefined && referrers.has(e.descriptor.digest)))
        .map(async (e) => {
          const manifest = await manifestOf(e.descriptor.digest);
          // Size as docker shows it: the whole package (manifest, config, layers), not the manifest alone.
          const size = [manifest.config, ...(manifest.layers ?? [])].reduce(
            (n, d) => n + (d?.size ?? 0),
            e.descriptor.size,
          );
          const created = manifest.annotations?.[ANNOTATION_CREATED];
          return {
            ref: e.ref ?? null,
            ...splitRef(e.ref),
            digest: e.descriptor.digest,
            size,
            created: typeof created === "string" ? created : null,
            ...(e.descriptor.artifactType === undefined ? {} : { artifactType: e.descriptor.artifactType }),
          };
        }),
    );
    if (ctx.json) {
      ctx.out(JSON.stringify({ version: 1, ok: true, store: store.path, packages: entries }, null, 2));
      return 0;
    }
    if (ctx.quiet) {
      // Like `docker images -q`: each package once, so `agentrc rm $(agentrc list -q)` works.
      for (const digest of new Set(entries.map((e) => e.digest))) ctx.out(digest);
      return 0;
    }
    const rows = entries.map((e) => {
      const createdSince = e.created === null ? "N/A" : humanDuration(e.created, now);
      return {
        Repository: e.repository ?? "<none>",
        Tag: e.tag ?? "<none>",
        Reference: e.ref ?? "<none>",
        Digest: e.digest,
        ID: e.digest.slice(0, 19),
        Size: formatBytes(e.size),
        CreatedAt: e.created ?? "N/A",
        CreatedSince: createdSince,
        ArtifactType: e.artifactType ?? "",
      } satisfies Record<(typeof TEMPLATE_FIELDS)[number], string>;
    });
    if (template !== undefined) {
      for (const row of rows) ctx.out(template(row));
      return 0;
    }
    if (entries.length === 0) {
      ctx.err(`no packages in ${store.path}${ctx.positionals[0] ? ` matching ${ctx.positionals[0]}` : ""}`);
      return 0;
    }
    // reduce, not Math.max(...rows): a spread of a huge store's rows would overflow the stack.
    const width = rows.reduce((w, r) => Math.max(w, r.Reference.length), 9);
    const createdWidth = rows.reduce((w, r) => Math.max(w, r.CreatedSince.length), 7);
    ctx.out(`${"REFERENCE".padEnd(width)}  ${"DIGEST".padEnd(19)}  ${"CREATED".padEnd(createdWidth)}  SIZE`);
    for (const r of rows) {
      ctx.out(`${r.Reference.padEnd(width)}  ${r.ID}  ${r.CreatedSince.padEnd(createdWidth)}  ${r.Size}`);
    }
    return 0;
  },
};

/** `list --installed`: every installation with its id, agent name, digest and the reference it came from. */
async function listInstalledPackages(ctx: CommandContext): Promise<number> {
  if (ctx.positionals.length > 0 || ctx.values.format !== undefined) {
    return ctx.usage("--installed takes no filter and no --format");
  }
  const dir = installDir(ctx);
  const installed = await listInstalled({ dir });
  if (ctx.json) {
    ctx.out(JSON.stringify({ version: 1, ok: true, dir, installed: installed.map(installedJson) }, null, 2));
    return 0;
  }
  if (ctx.quiet) {
    for (const p of installed) ctx.out(p.id);
    return 0;
  }
  if (installed.length === 0) {
    ctx.err(`nothing installed in ${dir}`);
    return 0;
  }
  const nameWidth = installed.reduce((w, p) => Math.max(w, p.name.length), 4);
  const idWidth = installed.reduce((w, p) => Math.max(w, p.id.length), 2);
  ctx.out(`${"NAME".padEnd(nameWidth)}  ${"ID".padEnd(idWidth)}  ${"DIGEST".padEnd(19)}  SOURCE`);
  for (const p of installed) {
    ctx.out(
      `${p.name.padEnd(nameWidth)}  ${p.id.padEnd(idWidth)}  ${p.digest.slice(0, 19)}  oci://${p.source}`,
    );
  }
  return 0;
}

/** `host/repo:tag` → repository and tag (a store reference never carries a digest: `tag` refuses one). */
function splitRef(ref: string | undefined): { repository: string | null; tag: string | null } {
  if (ref === undefined) return { repository: null, tag: null };
  const colon = ref.lastIndexOf(":");
  return colon > ref.lastIndexOf("/")
    ? { repository: ref.slice(0, colon), tag: ref.slice(colon + 1) }
    : { repository: ref, tag: null };
}
