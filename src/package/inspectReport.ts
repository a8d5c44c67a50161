import { effectiveDirectives } from "../compiler/inheritance.js";
import { deriveRiskTier, type RiskTier } from "../compiler/risk.js";
import {
  ANNOTATION_BASE_DIGEST,
  ANNOTATION_CREATED,
  ANNOTATION_REVISION,
  ANNOTATION_RISK_TIER,
  ANNOTATION_SOURCE,
  ANNOTATION_TITLE,
  ANNOTATION_VERSION,
  MEDIA_TYPE_POLICY_CEDAR,
  MEDIA_TYPE_SKILL_LAYER,
} from "../oci/mediaTypes.js";
import { toolRiskTier } from "../tools/risk.js";
import { type ProvenanceSummary, summariseProvenance } from "../trust/provenance.js";
import { checkAttachments } from "../trust/verify.js";
import type { OpenedPackage, PackageSourceKind } from "./open.js";

/**
 * `agentrc inspect`: what a reviewer reads before running an agent, from the manifest, the config and the policy blob
 * only (no other layer is read): who it is, what it may do (tools and their risk, egress, credentials and where
 * they may go, mounts, binds, skills, functions), the policy, the risk tier and why, the base, signatures and
 * provenance (not looked up yet: `null`), and the run hints recorded beside the package.
 */
export interface InspectReport {
  identity: {
    name: string;
    ref: string;
    kind: PackageSourceKind;
    source: string;
    digest: string;
    size: number;
    configDigest: string;
    agentfileVersion: string;
    formatVersion: string;
    builder: string;
    version: string | null;
    created: string | null;
    sourceUrl: string | null;
    revision: string | null;
  };
  /** `origin` of an item: the base `<ref>@<digest>` it is inherited from (FROM), `TOOLSET <ref>`, or null: the agent's own. */
  tools: Array<{
    ref: string;
    risk: "high" | "medium";
    path: string | null;
    digest: string | null;
    origin: string | null;
  }>;
  egress: Array<{ host: string; directive: string; value: string; origin: string | null }>;
  credentials: Array<{ name: string; source: string; hosts: string[]; inject: string | null }>;
  mounts: Array<{ path: string; mode: string }>;
  binds: Array<{ source: string; target: string; mode: string }>;
  skills: Array<{
    name: string;
    source: string;
    ref: string;
    layer: string | null;
    digest: string | null;
    origin: string | null;
  }>;
  functions: Array<{ path: string; symbol: string | null; digest: string | null; origin: string | null }>;
  policy: {
    hash: string;
    statements: Array<{
      effect: "permit" | "forbid";
      principal: string;
      action: string;
      resource: string;
      conditions: boolean;
      /** The base `<ref>@<digest>` the statement is inherited from, or null: the agent's own. */
      origin: string | null;
    }>;
  } | null;
  risk: { tier: string | null; derived: RiskTier; reasons: string[] };
  /**
   * FROM: the base as written and pinned; with an agentrc base, the chain of bases (nearest first) and the bases'
   * declarations the agent replaced (`SKILL review` from `<ref>@<digest>`).
   */
  base: {
    ref: string | null;
    digest: string | null;
    chain?: Array<{ ref: string; digest: string }>;
    overridden?: Array<{ directive: string; name: string; origin: string }>;
  } | null;
  /**
   * Signatures attached to the package (Sigstore bundles signing the manifest digest), by key id; not verified here
   * (`agentrc verify --key` does): `failed` marks a bundle that is malformed, tampered or about another digest.
   */
  signatures: Array<{
    referrer: string;
    keyId: string | null;
    status: "unverified" | "failed";
    message?: string;
  }>;
  /** The package's SLSA provenance (signed or not), when one is attached; null otherwise. */
  provenance: ProvenanceSummary | null;
  runHints: Array<{ directive: string; values: string[] }>;
  command: unknown;
  audit: string | null;
}

const str = (v: unknown): string =>
  typeof v === "string" ? v : v === undefined || v === null ? "" : JSON.stringify(v);

/**
 * Builds the report; reads the policy blob (when there is one), the referrers' manifests and bundles (signatures,
 * provenance: a few KiB each) and nothing else beyond the manifest and config.
 */
export async function inspectReport(pkg: OpenedPackage): Promise<InspectReport> {
  const { manifest, config } = pkg;
  const annotations = manifest.annotations ?? {};
  const directives = effectiveDirectives(config);
  const originOf = new Map(directives.map((d) => [d.args, d.origin ?? null]));
  const of = (name: string) => directives.filter((d) => d.directive === name).map((d) => d.args);
  const own = (name: string) =>
    config.agent.directives.filter((d) => d.directive === name).map((d) => d.args);
  const origin = (args: Record<string, unknown>) => originOf.get(args) ?? null;
  const fileDigest = (layer: string, path: unknown) => {
    if (typeof path !== "string") return null;
    const clean = path.replace(/^\.\//, "");
    const inPackage = clean.startsWith(`${layer}/`) ? clean : `${layer}/${clean}`;
    return config.files.find((f) => f.path === inPackage)?.sha256 ?? null;
  };

  const skillLayers = new Map(
    manifest.layers
      .filter((l) => l.mediaType === MEDIA_TYPE_SKILL_LAYER)
      .map((l) => [l.annotations?.[ANNOTATION_TITLE] ?? "", l.digest]),
  );
  const skills = of("SKILL").map((s) => {
    const ref = str(s.ref);
    const source = str(s.source);
    const name = source === "name" ? ref : ref.replace(/\/+$/, "").split("/").pop()!;
    const layer = `skills/${name}`;
    return {
      name,
      source,
      ref,
      layer: skillLayers.has(layer) ? layer : null,
      digest: skillLayers.get(layer) ?? null,
      origin: origin(s),
    };
  });

  const egress = [
    ...of("URL").map((u) => ({
      host: hostOf(str(u.url)),
      directive: "URL",
      value: str(u.url),
      origin: origin(u),
    })),
    ...of("SERVER").map((s) => ({
      host: hostOf(str(s.url)),
      directive: "SERVER",
      value: `${str(s.name)} ${str(s.url)}`,
      origin: origin(s),
    })),
    ...of("MCP").map((m) => ({ host: str(m.ref), directive: "MCP", value: str(m.ref), origin: origin(m) })),
    ...of("TOOLSET").map((t) => ({
      host: str(t.ref),
      directive: "TOOLSET",
      value: str(t.ref),
      origin: origin(t),
    })),
  ];

  const policyLayer = manifest.layers.find((l) => l.mediaType === MEDIA_TYPE_POLICY_CEDAR);
  const policyText = policyLayer ? (await pkg.readBlob(policyLayer)).toString("utf8") : "";
  const risk = deriveRiskTier(directives);
  const from = own("FROM")[0];
  const inherited = config.inherited;
  const base =
    from !== undefined || annotations[ANNOTATION_BASE_DIGEST] !== undefined
      ? {
          ref: from ? str(from.ref) : null,
          digest: annotations[ANNOTATION_BASE_DIGEST] ?? null,
          ...(inherited ? { chain: inherited.chain, overridden: inherited.overridden } : {}),
        }
      : null;
  const statementOrigin = (i: number) => {
    const file = config.policyOrigins?.[i]?.file;
    return file?.startsWith("FROM ") ? file.slice("FROM ".length) : null;
  };
  // Tools the agent did not declare (inherited, from a TOOLSET) are listed from the config's tool metadata.
  const declaredTools = new Set(of("TOOL").map((t) => str(t.ref)));
  const extraTools = (config.tools ?? []).filter((t) => t.origin !== undefined && !declaredTools.has(t.ref));

  return {
    identity: {
      name: config.agent.name,
      ref: pkg.ref,
      kind: pkg.kind,
      source: pkg.source,
      digest: pkg.descriptor.digest,
      size: manifest.layers.reduce((n, l) => n + l.size, pkg.descriptor.size + manifest.config.size),
      configDigest: manifest.config.digest,
      agentfileVersion: config.agentfileVersion,
      formatVersion: config.formatVersion,
      builder: `${config.builder?.name ?? "?"} ${config.builder?.version ?? "?"}`,
      version: annotations[ANNOTATION_VERSION] ?? null,
      created: annotations[ANNOTATION_CREATED] ?? null,
      sourceUrl: annotations[ANNOTATION_SOURCE] ?? null,
      revision: annotations[ANNOTATION_REVISION] ?? null,
    },
    tools: [
      ...of("TOOL").map((t) => ({
        ref: str(t.ref),
        risk: toolRiskTier(str(t.ref)),
        path: typeof t.path === "string" ? t.path : null,
        digest: fileDigest("tools", t.path),
        origin: origin(t),
      })),
      ...extraTools.map((t) => ({
        ref: t.ref,
        risk: t.riskTier,
        path: null,
        digest: t.digest ?? null,
        origin: t.origin ?? null,
      })),
    ],
    egress,
    credentials: of("CRED").map((c) => ({
      name: str(c.name),
      source: str(c.source),
      hosts: Array.isArray(c.hosts) ? c.hosts.map(str) : [],
      inject: typeof c.inject === "string" ? c.inject : null,
    })),
    mounts: of("MOUNT").map((m) => ({ path: str(m.path), mode: str(m.mode) })),
    binds: of("BIND").map((b) => ({ source: str(b.source), target: str(b.target), mode: str(b.mode) })),
    skills,
    functions: of("FUNCTION").map((f) => ({
      path: str(f.path),
      symbol: typeof f.symbol === "string" ? f.symbol : null,
      digest: fileDigest("src", f.path),
      origin: origin(f),
    })),
    policy:
      config.policyHash === undefined
        ? null
        : {
            hash: config.policyHash,
            statements: policyStatements(policyText).map((st, i) => ({ ...st, origin: statementOrigin(i) })),
          },
    risk: { tier: annotations[ANNOTATION_RISK_TIER] ?? null, derived: risk.tier, reasons: risk.reasons },
    base,
    ...(await attachmentsOf(pkg)),
    runHints: pkg.runHints,
    command: own("CMD")[0] ?? null,
    audit: of("AUDIT")[0] ? str(of("AUDIT")[0]!.level) : null,
  };
}

function hostOf(url: string): string {
  try {
    return new URL(url).host || url;
  } catch {
    return url;
  }
}

/**
 * The scope of every statement of a formatted Cedar policy (effect, principal, action, resource, and whether
 * `when`/`unless` conditions follow). Comments are skipped; string literals may hold any character.
 */
export function policyStatements(text: string): Array<{
  effect: "permit" | "forbid";
  principal: string;
  action: string;
  resource: string;
  conditions: boolean;
}> {
  const out: ReturnType<typeof policyStatements> = [];
  const code = withoutComments(text);
  const re = /\b(permit|forbid)\s*\(/g;
  for (let m = re.exec(code); m !== null; m = re.exec(code)) {
    const scope = balanced(code, m.index + m[0].length - 1);
    if (scope === undefined) break;
    const parts = splitTopLevel(scope.inner).map((p) => p.replace(/\s+/g, " ").trim());
    const rest = code.slice(scope.end + 1).trimStart();
    out.push({
      effect: m[1] as "permit" | "forbid",
      principal: parts[0] ?? "",
      action: parts[1] ?? "",
      resource: parts[2] ?? "",
      conditions: /^(when|unless)\b/.test(rest),
    });
    re.lastIndex = scope.end + 1;
  }
  return out;
}

/** The text inside the parentheses opening at `open`, skipping string literals. */
function balanced(text: string, open: number): { inner: string; end: number } | undefined {
  let depth = 0;
  for (let i = open; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
    } else if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") {
      depth--;
      if (depth === 0) return { inner: text.slice(open + 1, i), end: i };
    }
  }
  return undefined;
}

function splitTopLevel(text: string): string[] {
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === '"') {
      for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === "\\") i++;
    } else if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    else if (c === "," && depth === 0) {
      parts.push(text.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(text.slice(start));
  return parts;
}

/** `text` with `//` comments blanked (outside string literals), offsets unchanged. */
function withoutComments(text: string): string {
  let out = "";
  for (let i = 0; i < text.length; i++) {
    const c = text[i]!;
    if (c === '"') {
      let j = i + 1;
      for (; j < text.length && text[j] !== '"'; j++) if (text[j] === "\\") j++;
      out += text.slice(i, j + 1);
      i = j;
    } else if (c === "/" && text[i + 1] === "/") {
      const end = text.indexOf("\n", i);
      const stop = end < 0 ? text.length : end;
      out += " ".repeat(stop - i);
      i = stop - 1;
    } else out += c;
  }
  return out;
}

/** Signatures and provenance attached to the package, read (not verified against a key) from its referrers. */
async function attachmentsOf(pkg: OpenedPackage): Promise<Pick<InspectReport, "signatures" | "provenance">> {
  const report = await checkAttachments(pkg.attachments, pkg.descriptor.digest, []);
  return {
    signatures: report.bundles
      .filter((b) => b.kind === "signature")
      .map((b) => ({
        referrer: b.referrer,
        keyId: b.keyId ?? null,
        status: b.status === "failed" ? ("failed" as const) : ("unverified" as const),
        ...(b.message === undefined ? {} : { message: b.message }),
      })),
    provenance: report.provenance ? summariseProvenance(report.provenance, report.provenanceCheck) : null,
  };
}
