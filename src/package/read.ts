import { effectiveDirectives } from "../compiler/inheritance.js";
import type { PackageConfig } from "../compiler/payloads.js";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import type { Descriptor, ImageManifest } from "../oci/types.js";

/** A package's manifest and config as read back from any source (see OpenedPackage in open.ts for the reader). */
export interface PackageView {
  source: string;
  ref: string;
  descriptor: Descriptor;
  manifest: ImageManifest;
  config: PackageConfig;
}

/** What a reviewer needs before running an agent (spec "review before run"), from the config alone. */
export function summarisePackage(view: PackageView): Record<string, unknown> {
  // What is in force: the inherited declarations (FROM) as well as the agent's own.
  const d = effectiveDirectives(view.config);
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
