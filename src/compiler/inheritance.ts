import type { ParsedImageManifest } from "../oci/manifest.js";
import { canonicalJson } from "../util/canonicalJson.js";
import type { InheritedDirective, InheritedSection, PackageConfig, PackageToolMetadata } from "./payloads.js";
import type { DeclaredDirective } from "./risk.js";
import { skillTarget } from "./skillName.js";

/**
 * Directives a child inherits from its FROM base (docs/agentfile.md#inheritance): skills, tools, toolsets,
 * functions, data (INGEST, INCLUDE, OUTPUT), SOPs, limits (LIMIT, RATELIMIT, TIMEOUT, SLICE), the audit level and
 * the declared egress (URL, MCP, SERVER). The policy is inherited as the base's compiled Cedar, not as directives.
 */
export const INHERITED_DIRECTIVES: readonly string[] = [
  "SKILL",
  "TOOL",
  "TOOLSET",
  "FUNCTION",
  "INGEST",
  "INCLUDE",
  "OUTPUT",
  "SOP",
  "LIMIT",
  "RATELIMIT",
  "TIMEOUT",
  "SLICE",
  "AUDIT",
  "URL",
  "MCP",
  "SERVER",
];

/**
 * The name a declaration is replaced by: a child's declaration with the same name replaces the base's
 * (`SKILL review`, `TOOL utcp:shell`, `LIMIT max_issues`, `AUDIT`); undefined for what cannot be named.
 */
export function inheritanceName(d: DeclaredDirective): string | undefined {
  const a = d.args;
  const str = (v: unknown) => (typeof v === "string" ? v : undefined);
  switch (d.directive) {
    case "SKILL": {
      const ref = str(a.ref);
      if (ref === undefined) return undefined;
      const t = skillTarget({ ref, source: a.source });
      return t.ok ? t.name : ref;
    }
    case "TOOL":
    case "TOOLSET":
    case "FUNCTION":
    case "MCP":
      return str(a.ref);
    case "SOP":
    case "LIMIT":
    case "SERVER":
      return str(a.name);
    case "RATELIMIT":
      return str(a.tool);
    case "URL":
      return str(a.url);
    case "AUDIT":
    case "TIMEOUT":
    case "SLICE":
    case "OUTPUT":
      return "";
    case "INGEST":
    case "INCLUDE":
      return canonicalJson(a);
    default:
      return undefined;
  }
}

/** `SKILL review`, `AUDIT`: how an item is named in reports. */
export function itemLabel(directive: string, name: string): string {
  return name === "" ? directive : `${directive} ${name}`;
}

/** Every declaration in force in a package: what it inherits, then its own (the package config's view). */
export function effectiveDirectives(
  config: Pick<PackageConfig, "agent" | "inherited">,
): Array<DeclaredDirective & { origin?: string }> {
  return [...(config.inherited?.directives ?? []), ...config.agent.directives];
}

/** A FROM base, fetched and checked: what the build merges into the agent (`compilation.base`). */
export interface ResolvedBase {
  /** The reference as written in FROM. */
  ref: string;
  digest: string;
  /** `<ref without digest>@<digest>`: how inherited items name their origin. */
  origin: string;
  manifest: ParsedImageManifest;
  config: PackageConfig;
  /** The config's `inherited` section of the agent being built. */
  section: InheritedSection;
  /** The base's compiled Cedar policy, when it has one: merged before the agent's own policies. */
  policy?: string;
  /** Inherited tool metadata (not overridden), with origins. */
  tools: PackageToolMetadata[];
  /** Where the base's blobs lie (the dependency cache). */
  blobPath(digest: string): string;
}

export type { InheritedDirective };
