import { stat } from "node:fs/promises";
import type { PackageConfig } from "../compiler/payloads.js";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { OciLayout } from "../oci/layout.js";
import { MAX_MANIFEST_BYTES, parseImageManifest } from "../oci/manifest.js";
import { ARTIFACT_TYPE_AGENT, MEDIA_TYPE_AGENT_CONFIG } from "../oci/mediaTypes.js";
import { LocalStore } from "../oci/store.js";
import type { Descriptor, ImageManifest } from "../oci/types.js";

/** A package's manifest and config as read back from any source (see OpenedPackage in open.ts for the reader). */
export interface PackageView {
  source: string;
  ref: string;
  descriptor: Descriptor;
  manifest: ImageManifest;
  config: PackageConfig;
}

const MAX_CONFIG = 16 * 1024 * 1024;

/**
 * Resolves `target` to a layout and a reference: `oci:<dir>[:<tag>]`, an existing directory holding an OCI layout
 * (tag `latest` unless the only entry is tagged otherwise), or else a reference in the local store.
 */
export async function openPackageSource(
  target: string,
  storePath?: string,
): Promise<{ layout: OciLayout; ref: string; source: string }> {
  // `oci://host/repo:tag` is a registry reference, not a layout.
  if (target.startsWith("oci:") && !target.startsWith("oci://")) {
    const rest = target.slice(4);
    const colon = rest.lastIndexOf(":");
    const dir = colon > 0 ? rest.slice(0, colon) : rest;
    const tag = colon > 0 ? rest.slice(colon + 1) : undefined;
    const layout = await OciLayout.open(dir);
    return { layout, ref: tag ?? (await onlyTag(layout)), source: dir };
  }
  const isDir = await stat(target).then(
    (s) => s.isDirectory(),
    () => false,
  );
  if (isDir) {
    const layout = await OciLayout.open(target);
    return { layout, ref: await onlyTag(layout), source: target };
  }
  const store = await LocalStore.open(storePath === undefined ? {} : { path: storePath });
  return { layout: store.layout, ref: target, source: store.path };
}

async function onlyTag(layout: OciLayout): Promise<string> {
  const tags = (await layout.list()).map((e) => e.ref).filter((r): r is string => r !== undefined);
  if (tags.length === 1) return tags[0]!;
  if (tags.includes("latest")) return "latest";
  throw new AgentrcError(
    "OCI_REF_NOT_FOUND",
    `${layout.root} holds ${tags.length} tags (${tags.join(", ")}); name one`,
    {
      hint: "Use oci:<dir>:<tag>.",
    },
  );
}

/** Reads the manifest and package config of `ref`, checking they are an agentrc package. */
export async function readPackage(
  layout: OciLayout,
  ref: string,
  source = layout.root,
): Promise<PackageView> {
  const descriptor = await layout.resolve(ref.includes("@") ? ref.slice(ref.lastIndexOf("@") + 1) : ref);
  const manifest = parseImageManifest(
    await layout.readBlob(descriptor.digest, MAX_MANIFEST_BYTES),
    descriptor.mediaType,
    ref,
    "OCI_MANIFEST_INVALID",
  ) as ImageManifest;
  if (
    manifest.config.mediaType !== MEDIA_TYPE_AGENT_CONFIG &&
    manifest.artifactType !== ARTIFACT_TYPE_AGENT
  ) {
    throw new AgentrcError(
      "NOT_AN_AGENT_PACKAGE",
      `${ref} is not an agentrc package (config ${manifest.config.mediaType})`,
      {
        hint: "agentrc inspects packages built by agentrc (artifactType application/vnd.agentrc.agent.v1).",
      },
    );
  }
  const config = parseConfig(
    (await layout.readBlob(manifest.config.digest, MAX_CONFIG)).toString("utf8"),
    ref,
  );
  return { source, ref, descriptor, manifest, config };
}

/** What a reviewer needs before running an agent (spec "review before run"), from the config alone. */
export function summarisePackage(view: PackageView): Record<string, unknown> {
  const d = view.config.agent.directives;
  const args = (name: string) => d.filter((x) => x.directive === name).map((x) => x.args);
  const pick = (name: string, key: string) => args(name).map((a) => a[key]);
  return {
    name: view.config.agent.name,
    riskTier: view.manifest.annotations?.["io.agentrc.risk.tier"],
    command: args("CMD")[0] ?? null,
    tools: pick("TOOL", "ref"),
    skills: pick("SKILL", "ref"),
    functions: pick("FUNCTION", "ref"),
    egress: pick("URL", "url"),
    servers: args("SERVER"),
    mcp: pick("MCP", "ref"),
    credentials: pick("CRED", "name"),
    mounts: args("MOUNT"),
    binds: args("BIND"),
    audit: pick("AUDIT", "level")[0] ?? null,
    policyHash: view.config.policyHash ?? null,
    files: view.config.files.length,
  };
}

/** The package config, checked for the fields readers rely on (it may come from any registry). */
export function parseConfig(text: string, ref: string): PackageConfig {
  let config: unknown;
  try {
    config = JSON.parse(text);
  } catch (e) {
    throw new AgentrcError(
      "PACKAGE_CONFIG_INVALID",
      `the package config of ${ref} is not JSON: ${(e as Error).message}`,
    );
  }
  const c = config as Partial<PackageConfig> | null;
  const ok =
    c !== null &&
    typeof c === "object" &&
    typeof c.agent?.name === "string" &&
    Array.isArray(c.agent.directives) &&
    c.agent.directives.every(
      (d) => d && typeof d.directive === "string" && typeof d.args === "object" && d.args !== null,
    ) &&
    Array.isArray(c.files) &&
    Array.isArray(c.layers);
  if (!ok) {
    throw new AgentrcError(
      "PACKAGE_CONFIG_INVALID",
      `the package config of ${ref} lacks agent.name, agent.directives, layers or files`,
    );
  }
  return c as PackageConfig;
}
