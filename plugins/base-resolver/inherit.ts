import { readFile, rm } from "node:fs/promises";
import { join } from "node:path";
import {
  AgentrcError,
  type Compilation,
  type DirectiveNode,
  deps,
  diagnostic,
  hashFile,
  INHERITED_DIRECTIVES,
  type InheritedDirective,
  type InheritedSection,
  inheritanceName,
  itemLabel,
  type LayerKey,
  type LayerPlan,
  oci,
  type PackageConfig,
  type PackageToolMetadata,
  type PackedBlob,
  type ResolvedBase,
  RISK_TIERS,
  type RiskTier,
  registry,
} from "../../src/core.js";

/** Audit levels in rising order: a child may raise the base's level, never lower it. */
const AUDIT_LEVELS = ["off", "basic", "all", "compliance"];
const UNIT_SECONDS: Record<string, number> = {
  s: 1,
  sec: 1,
  second: 1,
  m: 60,
  min: 60,
  minute: 60,
  h: 3600,
  hr: 3600,
  hour: 3600,
  d: 86400,
  day: 86400,
};

/** Layer key of a base's directory layer, by its title. */
function layerKeyOf(title: string): LayerKey | undefined {
  if (title === oci.TITLE_SOURCE) return "source";
  if (title === oci.TITLE_TOOLS) return "tools";
  if (title === oci.TITLE_DATA) return "data";
  if (title.startsWith("skills/")) return `skill:${title.slice("skills/".length)}`;
  return undefined;
}

/** Where the packer puts a context path in a layer (plugins/oci-packager/plan.ts): under the title. */
const underTitle = (title: string, path: string) =>
  path.startsWith(`${title}/`) ? path : `${title}/${path}`;

const withoutDigest = (ref: string) => ref.split("@")[0]!;

/**
 * Fetches the base (dependency cache; offline in lint), checks it is an agentrc package and not part of a cycle,
 * and works out what the agent inherits: every base declaration of an inherited kind whose name the agent does not
 * declare itself (the others are reported as overridden), the base's compiled policy, its tool metadata. A child
 * never weakens the base's audit level, TIMEOUT or RATELIMITs (BASE_LIMIT_WEAKENED).
 */
export async function loadBase(
  compilation: Compilation,
  pin: { ref: string; digest: string },
  plugin: string,
): Promise<void> {
  const [from] = compilation.directives<{ ref: string }>("FROM");
  const where = compilation.locate(from as DirectiveNode, "/ref");
  const report = (code: Parameters<typeof diagnostic>[0], text: string, hint?: string) =>
    compilation.report(diagnostic(code, text, where, { plugin, ...(hint ? { hint } : {}) }));
  const cache = await deps.DependencyCache.open(compilation.options.cacheDir);
  let reference: registry.Reference;
  try {
    reference = registry.parseReference(pin.ref);
  } catch {
    return;
  }
  let fetched: deps.CachedDependency | undefined;
  try {
    if (compilation.mode === "lint") {
      fetched = await cache.get(pin.digest);
      if (!fetched) return; // not cached: lint stays offline
    } else {
      fetched = await cache.fetch(
        { kind: "base", written: pin.ref, reference },
        pin.digest,
        compilation.options.registry,
        (m) => checkAgentManifest(pin.ref, m),
      );
    }
    checkAgentManifest(pin.ref, fetched.manifest);
  } catch (e) {
    if (isCode(e, "BASE_NOT_AGENT_PACKAGE")) report("BASE_NOT_AGENT_PACKAGE", (e as Error).message);
    else if (isCode(e, "TRUST_POLICY_VIOLATION"))
      report("TRUST_POLICY_VIOLATION", `FROM ${pin.ref}: ${(e as Error).message}`);
    else
      report(
        "BASE_RESOLVE_FAILED",
        `FROM ${pin.ref}: cannot fetch the base package: ${(e as Error).message}`,
      );
    return;
  }
  const config = fetched.config as PackageConfig | undefined;
  if (
    !config ||
    typeof config !== "object" ||
    typeof config.formatVersion !== "string" ||
    !config.formatVersion.startsWith("agentrc.package/") ||
    !Array.isArray(config.agent?.directives) ||
    !Array.isArray(config.files)
  ) {
    report("BASE_NOT_AGENT_PACKAGE", `FROM ${pin.ref}: the base's config is not an agentrc package config`);
    return;
  }
  const origin = `${withoutDigest(pin.ref)}@${pin.digest}`;
  const chain = [{ ref: pin.ref, digest: pin.digest }, ...(config.inherited?.chain ?? [])];
  const cycle = findCycle(chain, compilation.options.build.tags);
  if (cycle) {
    report(
      "BASE_CYCLE",
      `FROM ${pin.ref}: the chain of bases is a cycle: ${cycle}`,
      "A package cannot be its own base: build the chain from the bottom up, each FROM naming a different package.",
    );
    return;
  }
  const childNames = new Map<string, DirectiveNode>();
  for (const d of compilation.spec.directives) {
    if (!INHERITED_DIRECTIVES.includes(d.directive)) continue;
    const name = inheritanceName(d);
    if (name !== undefined) childNames.set(`${d.directive}\u0000${name}`, d);
  }
  const baseItems: InheritedDirective[] = [
    ...(config.inherited?.directives ?? []),
    ...config.agent.directives
      .filter((d) => INHERITED_DIRECTIVES.includes(d.directive))
      .map((d) => ({ directive: d.directive, args: d.args, origin })),
  ];
  const kept: InheritedDirective[] = [];
  const overridden: InheritedSection["overridden"] = [];
  for (const item of baseItems) {
    const name = inheritanceName(item);
    const child = name === undefined ? undefined : childNames.get(`${item.directive}\u0000${name}`);
    if (!child || name === undefined) {
      kept.push(item);
      continue;
    }
    overridden.push({ directive: item.directive, name, origin: item.origin });
    const weakened = weakens(item, child);
    if (weakened) {
      compilation.report(
        diagnostic(
          "BASE_LIMIT_WEAKENED",
          `${itemLabel(child.directive, name)}: ${weakened}, which ${item.origin} sets; a child never weakens its base's ceilings`,
          compilation.locate(child),
          { plugin },
        ),
      );
    }
  }
  let policy: string | undefined;
  const policyLayer = fetched.manifest.layers.find((l) => l.mediaType === oci.MEDIA_TYPE_POLICY_CEDAR);
  if (policyLayer) {
    policy = (await readFile(fetched.blobPath(policyLayer.digest))).toString("utf8");
  }
  const overriddenTools = new Set(overridden.filter((o) => o.directive === "TOOL").map((o) => o.name));
  const tools: PackageToolMetadata[] = (config.tools ?? [])
    .filter((t) => !overriddenTools.has(t.ref))
    .map((t) => ({ ...t, origin: t.origin ?? origin }));
  const base: ResolvedBase = {
    ref: pin.ref,
    digest: pin.digest,
    origin,
    manifest: fetched.manifest,
    config,
    section: { base: { ref: pin.ref, digest: pin.digest }, chain, directives: kept, overridden },
    ...(policy === undefined ? {} : { policy }),
    tools,
    blobPath: fetched.blobPath,
  };
  compilation.base = base;
  inheritedLayers.set(compilation, cache);
}

/** The dependency cache a compilation's base was read from (its trees are extracted there). */
const inheritedLayers = new WeakMap<Compilation, deps.DependencyCache>();

function isCode(e: unknown, code: string): boolean {
  return e instanceof AgentrcError && e.code === code;
}

function checkAgentManifest(ref: string, m: { artifactType?: string; config: { mediaType: string } }): void {
  if (m.artifactType === oci.ARTIFACT_TYPE_AGENT && m.config.mediaType === oci.MEDIA_TYPE_AGENT_CONFIG)
    return;
  const what =
    m.artifactType === oci.ARTIFACT_TYPE_SKILL
      ? "a skill package"
      : m.artifactType === oci.ARTIFACT_TYPE_TOOLSET
        ? "a toolset package"
        : `${m.artifactType ? `an artifact of type ${m.artifactType}` : "a plain image"} (config ${m.config.mediaType})`;
  throw new AgentrcError("BASE_NOT_AGENT_PACKAGE", `FROM ${ref} is ${what}, not an agentrc package`, {
    hint: "FROM names an agentrc package to inherit from (artifactType application/vnd.agentrc.agent.v1); a container image to run in belongs in IMAGE, and FROM scratch starts from nothing.",
  });
}

/** The first reference met twice along the chain, or one of the tags being built, as `a → b → a`. */
function findCycle(
  chain: Array<{ ref: string; digest: string }>,
  tags: readonly string[],
): string | undefined {
  const key = (ref: string) => {
    try {
      const r = registry.parseReference(ref);
      return `${r.registry}/${r.repository}${r.tag === undefined ? `@${r.digest}` : `:${r.tag}`}`;
    } catch {
      return ref;
    }
  };
  const path = chain.map((c) => key(c.ref));
  const own = new Set(tags.map(key));
  for (const [i, k] of path.entries()) {
    const earlier = path.indexOf(k);
    if (own.has(k)) return [...[...own].filter((t) => t === k), ...path.slice(0, i + 1)].join(" → ");
    if (earlier < i) return path.slice(earlier, i + 1).join(" → ");
  }
  return undefined;
}

/** Why the child's declaration is looser than the base's (AUDIT, TIMEOUT, RATELIMIT), or undefined. */
function weakens(base: InheritedDirective, child: DirectiveNode): string | undefined {
  if (base.directive === "AUDIT") {
    const b = AUDIT_LEVELS.indexOf(String(base.args.level));
    const c = AUDIT_LEVELS.indexOf(String(child.args.level));
    if (b >= 0 && c >= 0 && c < b)
      return `AUDIT ${String(child.args.level)} is below ${String(base.args.level)}`;
  }
  if (base.directive === "TIMEOUT") {
    const b = Number(base.args.seconds);
    const c = Number(child.args.seconds);
    if (Number.isFinite(b) && Number.isFinite(c) && c > b) return `TIMEOUT ${c}s is longer than ${b}s`;
  }
  if (base.directive === "RATELIMIT") {
    const rate = (a: Record<string, unknown>) =>
      Number(a.count) / (UNIT_SECONDS[String(a.unit)] ?? Number.NaN);
    const b = rate(base.args);
    const c = rate(child.args);
    if (Number.isFinite(b) && Number.isFinite(c) && c > b) {
      return `RATELIMIT ${String(child.args.rate)} allows more than ${String(base.args.rate)}`;
    }
  }
  return undefined;
}

/** The base's files of a directory layer, from its file index. */
function indexOf(config: PackageConfig, title: string) {
  return config.files.filter((f) => f.layer === title);
}

/**
 * Adds the inherited files (during `check`, before they are packed ahead and scanned): every file of the base's
 * directory layers, except a skill layer the agent replaces, the files of a TOOL or FUNCTION it replaces, and a path
 * the agent packs itself (the agent's file wins). Each file comes from the base layer's tree in the dependency cache,
 * checked against the base's file index (a modified cache is extracted again, then refused).
 */
export async function addInheritedFiles(compilation: Compilation, plugin: string): Promise<void> {
  const base = compilation.base;
  const cache = inheritedLayers.get(compilation);
  if (!base || !cache) return;
  const replaced = new Set(base.section.overridden.map((o) => `${o.directive}\u0000${o.name}`));
  const overriddenPaths: Array<{ title: string; path: string }> = [];
  for (const d of [...base.config.agent.directives, ...(base.config.inherited?.directives ?? [])]) {
    const name = inheritanceName(d);
    if (name === undefined || !replaced.has(`${d.directive}\u0000${name}`)) continue;
    if (d.directive === "TOOL" && typeof d.args.path === "string") {
      overriddenPaths.push({ title: oci.TITLE_TOOLS, path: d.args.path });
    }
    if (d.directive === "FUNCTION" && typeof d.args.path === "string") {
      overriddenPaths.push({ title: oci.TITLE_SOURCE, path: d.args.path });
    }
  }
  const dropped = (title: string, path: string) =>
    overriddenPaths.some((o) => {
      if (o.title !== title) return false;
      const p = underTitle(title, o.path.replace(/^\.\//, "").replace(/\/$/, ""));
      return path === p || path.startsWith(`${p}/`) || path === `${p}.toolspec.json`;
    });
  for (const layer of base.manifest.layers) {
    if (!oci.DIRECTORY_LAYER_MEDIA_TYPES.includes(layer.mediaType)) continue;
    const title = layer.annotations?.[oci.ANNOTATION_TITLE] ?? "";
    const key = layerKeyOf(title);
    if (!key) continue;
    if (key.startsWith("skill:") && replaced.has(`SKILL\u0000${key.slice("skill:".length)}`)) continue;
    const files = indexOf(base.config, title).filter((f) => !dropped(title, f.path));
    if (files.length === 0) continue;
    const own = new Set(
      [...(compilation.files.get(key)?.values() ?? [])].map((f) => underTitle(title, f.path)),
    );
    let tree = await cache.tree(layer);
    if (!(await treeMatches(tree, files))) {
      await rm(tree, { recursive: true, force: true });
      tree = await cache.tree(layer);
      if (!(await treeMatches(tree, files))) {
        compilation.report(
          diagnostic(
            "BASE_RESOLVE_FAILED",
            `FROM ${base.ref}: the layer ${title} does not hold the files its package config lists`,
            undefined,
            { plugin },
          ),
        );
        return;
      }
    }
    for (const f of files) {
      if (own.has(f.path)) continue;
      compilation.addFile(key, {
        path: f.path,
        source: join(tree, f.path),
        size: f.size,
        executable: f.mode === 0o755,
      });
    }
  }
}

async function treeMatches(tree: string, files: Array<{ path: string; sha256: string }>): Promise<boolean> {
  for (const f of files) {
    const digest = await hashFile(join(tree, f.path)).catch(() => undefined);
    if (digest !== f.sha256) return false;
  }
  return true;
}

/**
 * A directory layer whose entries are exactly a base layer's (same title, media type, paths, modes and digests) is
 * the base's blob, byte for byte: pushing the agent next to its base uploads only its own layers.
 */
export function reuseBaseLayer(compilation: Compilation, layer: LayerPlan): PackedBlob | undefined {
  const base = compilation.base;
  if (!base || layer.kind !== "tar") return undefined;
  const descriptor = base.manifest.layers.find(
    (l) => l.mediaType === layer.mediaType && l.annotations?.[oci.ANNOTATION_TITLE] === layer.title,
  );
  if (!descriptor) return undefined;
  const files = indexOf(base.config, layer.title);
  if (files.length !== layer.entries.length) return undefined;
  const byPath = new Map(files.map((f) => [f.path, f]));
  for (const e of layer.entries) {
    const f = byPath.get(e.path);
    if (!f || f.sha256 !== e.digest || f.mode !== (e.executable ? 0o755 : 0o644)) return undefined;
  }
  const info = base.config.layers.find((l) => l.digest === descriptor.digest);
  return {
    descriptor: { ...descriptor },
    path: base.blobPath(descriptor.digest),
    ...(info ? { diffId: info.uncompressedDigest, uncompressedSize: info.uncompressedSize } : {}),
    cached: true,
  };
}

/** The config's `inherited` section and the inherited tools (after the agent's own). */
export function inheritedConfig(compilation: Compilation, config: PackageConfig): PackageConfig {
  const base = compilation.base;
  if (!base) return config;
  const own = new Set((config.tools ?? []).map((t) => t.ref));
  const tools = [...(config.tools ?? []), ...base.tools.filter((t) => !own.has(t.ref))];
  return { ...config, inherited: base.section, ...(tools.length > 0 ? { tools } : {}) };
}

/** The agent's risk tier is at least its base's. */
export function raiseRiskTier(
  compilation: Compilation,
  annotations: Record<string, string>,
): Record<string, string> {
  const base = compilation.base;
  const tier = annotations[oci.ANNOTATION_RISK_TIER];
  const baseTier = base?.manifest.annotations?.[oci.ANNOTATION_RISK_TIER];
  const rank = (t: string | undefined) => RISK_TIERS.indexOf(t as RiskTier);
  if (!base || baseTier === undefined || rank(baseTier) <= rank(tier)) return annotations;
  return { ...annotations, [oci.ANNOTATION_RISK_TIER]: baseTier };
}
