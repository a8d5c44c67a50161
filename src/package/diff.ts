/**
 * The semantic difference between two packages, from their manifests, configs and packed policies (no layer is
 * read): directives by name, the permission surface, the policy policy by policy, files and layers. The policy's
 * effect is asked of Cedar by the caller (`diffPackages` in src/api.ts) over the requests `policyQuestions` lists.
 */
import { effectiveDirectives } from "../compiler/inheritance.js";
import type { PackageConfig, PolicyOrigin } from "../compiler/payloads.js";
import { type DeclaredDirective, deriveRiskTier, type RiskTier } from "../compiler/risk.js";
import type { ImageManifest } from "../oci/types.js";
import { toolRiskTier } from "../tools/risk.js";
import { canonicalJson } from "../util/canonicalJson.js";

/** What a diff needs of one package. */
export interface PackageContents {
  ref: string;
  source: string;
  digest: string;
  manifest: ImageManifest;
  config: PackageConfig;
  /** The packed Cedar text ("" without a policy layer). */
  policyText: string;
}

/** A policy of a packed policy set, as `packedPolicies` (plugins/policy) reads it. */
export interface PolicyEntry {
  id: string;
  effect: "permit" | "forbid";
  annotationId: string | undefined;
  text: string;
  /** What the policy says, layout, comments and annotations aside (equal bodies are the same policy). */
  body: string;
  origin: PolicyOrigin | undefined;
}

export interface DirectiveChange {
  directive: string;
  /** What names the directive among its kind: the tool ref, URL, credential name, mount path, … */
  name: string;
  before?: Record<string, unknown>[];
  after?: Record<string, unknown>[];
  /**
   * Where the item comes from on each side: the base `<ref>@<digest>` it is inherited from (FROM), or null, the
   * agent's own. Present when either side inherits it.
   */
  origin?: { before?: string | null; after?: string | null };
}

export interface SetChange {
  added: string[];
  removed: string[];
}

export interface PermissionDiff {
  egressHosts: SetChange;
  credentialHosts: SetChange;
  writableMounts: SetChange;
  shellTools: SetChange;
  riskTier: {
    before: RiskTier;
    after: RiskTier;
    change: "up" | "down" | "same";
    reasons: { before: string[]; after: string[] };
  };
}

export interface PolicyFlip {
  action: string;
  resource: { type: string; id: string };
  before: "allow" | "deny";
  after: "allow" | "deny";
  /** The policies that decided in the package the request flipped to (permits on allow, forbids on deny). */
  determining: Array<{ id: string; effect: string; origin: PolicyOrigin | undefined }>;
}

export interface PolicyDiff {
  hash: { before: string | null; after: string | null };
  added: PolicyEntry[];
  removed: PolicyEntry[];
  changed: Array<{ key: string; before: PolicyEntry; after: PolicyEntry }>;
  /** Requests over both packages' declared tools, hosts, paths, credentials, skills and functions. */
  requests: number;
  flips: PolicyFlip[];
}

export interface FileDiff {
  added: Array<{ path: string; size: number }>;
  removed: Array<{ path: string; size: number }>;
  changed: Array<{ path: string; before: number; after: number }>;
  unchanged: number;
}

export interface LayerDiff {
  added: Array<{ title: string; size: number }>;
  removed: Array<{ title: string; size: number }>;
  changed: Array<{ title: string; before: number; after: number }>;
  unchanged: number;
}

export interface PackageDiff {
  /** Same manifest digest: nothing else to compare. */
  identical: boolean;
  /** Anything below differs (a digest-only difference, such as the builder version, counts). */
  differ: boolean;
  directives: { added: DirectiveChange[]; removed: DirectiveChange[]; changed: DirectiveChange[] };
  permissions: PermissionDiff;
  policy: PolicyDiff;
  files: FileDiff;
  layers: LayerDiff;
}

/** Directives with one instance per agent: named by the directive itself. */
const SINGLE = new Set([
  "AGENT",
  "FROM",
  "SHELL",
  "CMD",
  "AUDIT",
  "TIMEOUT",
  "TRACE",
  "OPTIMIZER",
  "HEALTHCHECK",
  "OUTPUT",
]);
/** The argument that names each instance of a repeatable directive. */
const NAME_ARG: Readonly<Record<string, string>> = {
  TOOL: "ref",
  TOOLSET: "ref",
  FUNCTION: "ref",
  SKILL: "ref",
  MCP: "ref",
  SERVER: "name",
  URL: "url",
  CRED: "name",
  MOUNT: "path",
  BIND: "target",
  LIMIT: "name",
  SOP: "name",
  MEMORY: "name",
  RATELIMIT: "tool",
};

/** The name of a directive among its kind; ALLOW/DENY by action and resource, others by their arguments. */
export function directiveName(d: DeclaredDirective): string {
  if (SINGLE.has(d.directive)) return d.directive;
  const arg = NAME_ARG[d.directive];
  if (arg && typeof d.args[arg] === "string") return d.args[arg] as string;
  if (d.directive === "ALLOW" || d.directive === "DENY")
    return `${String(d.args.action)} ${String(d.args.resource)}`;
  if (d.directive === "POLICY") return canonicalJson(d.args.text ?? "");
  return canonicalJson(d.args);
}

function groupDirectives(directives: readonly DeclaredDirective[]): Map<string, DeclaredDirective[]> {
  const groups = new Map<string, DeclaredDirective[]>();
  for (const d of directives) {
    const key = `${d.directive}\u0000${directiveName(d)}`;
    const list = groups.get(key);
    if (list) list.push(d);
    else groups.set(key, [d]);
  }
  return groups;
}

export function diffDirectives(
  before: readonly (DeclaredDirective & { origin?: string })[],
  after: readonly (DeclaredDirective & { origin?: string })[],
): PackageDiff["directives"] {
  const a = groupDirectives(before);
  const b = groupDirectives(after);
  const out: PackageDiff["directives"] = { added: [], removed: [], changed: [] };
  const describe = (key: string) => {
    const [directive, name] = key.split("\u0000") as [string, string];
    // POLICY blocks are compared policy by policy in the policy section; here a changed block is one removed, one added.
    return { directive, name: directive === "POLICY" ? "(inline Cedar)" : name };
  };
  const originOf = (list: readonly (DeclaredDirective & { origin?: string })[] | undefined) =>
    (list?.[0] as { origin?: string } | undefined)?.origin ?? null;
  // An inherited item is named by its base's reference without the digest: a re-pushed base is no change of origin.
  const originRef = (o: string | null) => (o === null ? null : o.split("@")[0]);
  const origins = (x: typeof before | undefined, y: typeof before | undefined) => {
    const o: { before?: string | null; after?: string | null } = {};
    if (x) o.before = originOf(x);
    if (y) o.after = originOf(y);
    return o.before || o.after ? { origin: o } : {};
  };
  for (const [key, list] of a) {
    const other = b.get(key);
    const argsA = list.map((d) => d.args);
    if (!other) out.removed.push({ ...describe(key), before: argsA, ...origins(list, undefined) });
    else if (
      canonicalJson(argsA) !== canonicalJson(other.map((d) => d.args)) ||
      originRef(originOf(list)) !== originRef(originOf(other))
    ) {
      out.changed.push({
        ...describe(key),
        before: argsA,
        after: other.map((d) => d.args),
        ...origins(list, other),
      });
    }
  }
  for (const [key, list] of b)
    if (!a.has(key))
      out.added.push({ ...describe(key), after: list.map((d) => d.args), ...origins(undefined, list) });
  return out;
}

const str = (v: unknown): string | undefined => (typeof v === "string" ? v : undefined);
const of = (directives: readonly DeclaredDirective[], name: string) =>
  directives.filter((d) => d.directive === name);

function urlHost(url: string): string | undefined {
  try {
    return new URL(url).host || undefined;
  } catch {
    return undefined;
  }
}

/** The surface a reviewer weighs: where the agent may connect, where its secrets go, what it may write or run. */
export function permissionSurface(directives: readonly DeclaredDirective[]): {
  egressHosts: string[];
  credentialHosts: string[];
  writableMounts: string[];
  shellTools: string[];
} {
  const egress = [...of(directives, "URL"), ...of(directives, "SERVER")].flatMap((d) => {
    const host = urlHost(str(d.args.url) ?? "");
    return host ? [host] : [];
  });
  const credentialHosts = of(directives, "CRED").flatMap((d) =>
    Array.isArray(d.args.hosts) ? d.args.hosts.filter((h): h is string => typeof h === "string") : [],
  );
  const writable = [
    ...of(directives, "MOUNT").flatMap((d) =>
      d.args.mode === "rw" && str(d.args.path) ? [str(d.args.path)!] : [],
    ),
    ...of(directives, "BIND").flatMap((d) =>
      (d.args.mode === "rw" || d.args.mode === "direct") && str(d.args.target) ? [str(d.args.target)!] : [],
    ),
  ];
  const shell = of(directives, "TOOL").flatMap((d) => {
    const ref = str(d.args.ref);
    return ref && toolRiskTier(ref) === "high" ? [ref] : [];
  });
  const uniq = (xs: string[]) => [...new Set(xs)].sort();
  return {
    egressHosts: uniq(egress),
    credentialHosts: uniq(credentialHosts),
    writableMounts: uniq(writable),
    shellTools: uniq(shell),
  };
}

function setChange(before: readonly string[], after: readonly string[]): SetChange {
  const a = new Set(before);
  const b = new Set(after);
  return { added: after.filter((x) => !a.has(x)), removed: before.filter((x) => !b.has(x)) };
}

const TIER_RANK: Readonly<Record<RiskTier, number>> = { low: 0, medium: 1, high: 2 };

export function diffPermissions(
  before: readonly DeclaredDirective[],
  after: readonly DeclaredDirective[],
): PermissionDiff {
  const a = permissionSurface(before);
  const b = permissionSurface(after);
  const ra = deriveRiskTier(before);
  const rb = deriveRiskTier(after);
  const delta = TIER_RANK[rb.tier] - TIER_RANK[ra.tier];
  return {
    egressHosts: setChange(a.egressHosts, b.egressHosts),
    credentialHosts: setChange(a.credentialHosts, b.credentialHosts),
    writableMounts: setChange(a.writableMounts, b.writableMounts),
    shellTools: setChange(a.shellTools, b.shellTools),
    riskTier: {
      before: ra.tier,
      after: rb.tier,
      change: delta > 0 ? "up" : delta < 0 ? "down" : "same",
      reasons: { before: ra.reasons, after: rb.reasons },
    },
  };
}

/**
 * Policies matched by what they say (Cedar's JSON form without annotations), so a policy that only moved, was
 * reformatted or renumbered is unchanged; of the rest, two with the same `@id` are a change, others are added or
 * removed.
 */
export function diffPolicies(
  before: readonly PolicyEntry[],
  after: readonly PolicyEntry[],
): Pick<PolicyDiff, "added" | "removed" | "changed"> {
  const removed: PolicyEntry[] = [];
  const added = [...after];
  for (const p of before) {
    const same = added.findIndex((q) => q.body === p.body);
    if (same >= 0) added.splice(same, 1);
    else removed.push(p);
  }
  const changed: PolicyDiff["changed"] = [];
  for (const p of [...removed]) {
    if (p.annotationId === undefined) continue;
    const q = added.find((x) => x.annotationId === p.annotationId);
    if (!q) continue;
    changed.push({ key: p.annotationId, before: p, after: q });
    removed.splice(removed.indexOf(p), 1);
    added.splice(added.indexOf(q), 1);
  }
  return { added, removed, changed };
}

/** One request to ask both policies. */
export interface PolicyQuestion {
  action: string;
  resource: { type: string; id: string };
}

/**
 * The requests the policy effect is measured over: invoking every declared tool, function and skill, resolving
 * every credential, egress to every URL and SERVER host, and reading and writing every MOUNT and BIND path, in
 * either package (a request only one package can make still shows what the other's policy would decide).
 */
export function policyQuestions(...packages: ReadonlyArray<readonly DeclaredDirective[]>): PolicyQuestion[] {
  const seen = new Map<string, PolicyQuestion>();
  const ask = (action: string, type: string, id: string | undefined) => {
    if (!id) return;
    const key = `${action}\u0000${id}`;
    if (!seen.has(key)) seen.set(key, { action, resource: { type, id } });
  };
  for (const directives of packages) {
    for (const d of of(directives, "TOOL")) ask("tool.invoke", "Tool", str(d.args.ref));
    for (const d of of(directives, "FUNCTION")) ask("function.invoke", "Function", str(d.args.ref));
    for (const d of of(directives, "SKILL")) ask("skill.invoke", "Skill", skillName(str(d.args.ref)));
    for (const d of of(directives, "CRED")) ask("cred.resolve", "Credential", str(d.args.name));
    for (const d of [...of(directives, "URL"), ...of(directives, "SERVER")]) {
      ask("network.egress", "Host", urlHost(str(d.args.url) ?? ""));
    }
    const paths = [
      ...of(directives, "MOUNT").map((d) => str(d.args.path)),
      ...of(directives, "BIND").map((d) => str(d.args.target)),
    ];
    for (const p of paths) {
      if (!p?.startsWith("/")) continue;
      const path = p.replace(/\/+$/, "") || "/";
      ask("filesystem.read", "Path", path);
      ask("filesystem.write", "Path", path);
    }
  }
  return [...seen.values()];
}

/** A skill's Cedar id is its name: the last path segment of a path or OCI reference, without tag or digest. */
function skillName(ref: string | undefined): string | undefined {
  if (!ref) return undefined;
  const last =
    ref
      .replace(/^oci:\/\//, "")
      .replace(/\/+$/, "")
      .split("/")
      .at(-1) ?? ref;
  return last.replace(/[@:].*$/, "") || undefined;
}

export function diffFiles(before: PackageConfig, after: PackageConfig): FileDiff {
  const a = new Map(before.files.map((f) => [f.path, f]));
  const out: FileDiff = { added: [], removed: [], changed: [], unchanged: 0 };
  const seen = new Set<string>();
  for (const f of after.files) {
    seen.add(f.path);
    const old = a.get(f.path);
    if (!old) out.added.push({ path: f.path, size: f.size });
    else if (old.sha256 !== f.sha256 || old.mode !== f.mode) {
      out.changed.push({ path: f.path, before: old.size, after: f.size });
    } else out.unchanged++;
  }
  for (const f of before.files) if (!seen.has(f.path)) out.removed.push({ path: f.path, size: f.size });
  return out;
}

export function diffLayers(before: ImageManifest, after: ImageManifest): LayerDiff {
  const title = (l: ImageManifest["layers"][number]) =>
    l.annotations?.["org.opencontainers.image.title"] ?? l.digest;
  const a = new Map(before.layers.map((l) => [title(l), l]));
  const out: LayerDiff = { added: [], removed: [], changed: [], unchanged: 0 };
  const seen = new Set<string>();
  for (const l of after.layers) {
    const t = title(l);
    seen.add(t);
    const old = a.get(t);
    if (!old) out.added.push({ title: t, size: l.size });
    else if (old.digest !== l.digest) out.changed.push({ title: t, before: old.size, after: l.size });
    else out.unchanged++;
  }
  for (const l of before.layers) {
    const t = title(l);
    if (!seen.has(t)) out.removed.push({ title: t, size: l.size });
  }
  return out;
}

/** Everything but the policy effect (which needs Cedar): `flips` is left empty for the caller to fill. */
export function diffContents(
  a: PackageContents,
  b: PackageContents,
  policies: { before: readonly PolicyEntry[]; after: readonly PolicyEntry[] },
): PackageDiff {
  const before = effectiveDirectives(a.config);
  const after = effectiveDirectives(b.config);
  const directives = diffDirectives(before, after);
  const permissions = diffPermissions(before, after);
  const policyChanges = diffPolicies(policies.before, policies.after);
  const files = diffFiles(a.config, b.config);
  const layers = diffLayers(a.manifest, b.manifest);
  const identical = a.digest === b.digest;
  return {
    identical,
    differ: !identical,
    directives,
    permissions,
    policy: {
      hash: { before: a.config.policyHash ?? null, after: b.config.policyHash ?? null },
      ...policyChanges,
      requests: 0,
      flips: [],
    },
    files,
    layers,
  };
}
