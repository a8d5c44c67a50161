import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  type AgentrcPlugin,
  type Compilation,
  type Compiler,
  type DirectiveNode,
  deps,
  diagnostic,
  directiveHasErrors,
  isAgentrcError,
  type Lockfile,
  oci,
  type PackageConfig,
  type PackageToolMetadata,
  readToolset,
  registry,
  STAGE,
  type ToolsetTool,
} from "../../src/core.js";

const NAME = "toolsets";
const SHA256 = /^sha256:[a-f0-9]{64}$/;

/** What one TOOLSET resolved to. */
interface ResolvedToolset {
  ref: string;
  /** `name:<name>`, `path:<path>` or `oci://…`: how it was found. */
  source: string;
  /** The toolset file's sha256, or the toolset package's manifest digest (its pin). */
  digest: string;
  tools: ToolsetTool[];
}

/**
 * `TOOLSET <name | path | oci://ref>` resolves to a deterministic list of tools (docs/agentfile.md#toolsets): a
 * local toolset file (`toolsets/<name>.json`, or a path: a file, or a directory holding toolset.json), read and
 * checked in every mode (lint included: a missing or malformed one is an error there); or a toolset package, pinned
 * like FROM (the reference's digest, the lock's `toolsets` entry, else the tag resolved in lock/build mode) and read
 * through the dependency cache (`deps`; lint uses it only when it is cached). The lock records every toolset as
 * `{source, digest, tools: [{name, digest}]}` keyed by the reference as written; the package config lists the tools
 * with `origin: "TOOLSET <ref>"`.
 */
export class ToolsetsPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      const resolved: ResolvedToolset[] = [];
      compilation.hooks.resolve.tapPromise(NAME, async () => {
        resolved.push(...(await resolveToolsets(compilation)));
      });
      compilation.hooks.lock.tapPromise({ name: NAME, stage: STAGE.LOCK_REMOTE }, async (lock) =>
        recordToolsets(compilation, lock, resolved),
      );
      compilation.hooks.packageConfig.tap(NAME, (config) => withToolsetTools(config, resolved));
      // A toolset holding a high-risk tool (a shell, a browser, …) makes the agent high risk: raised on the
      // manifest, once the packager has set the tier its own declarations give (raising is allowed, lowering not).
      compilation.hooks.manifest.tap(NAME, (manifest) =>
        resolved.some((t) => t.tools.some((x) => x.riskTier === "high"))
          ? { ...manifest, annotations: { ...manifest.annotations, [oci.ANNOTATION_RISK_TIER]: "high" } }
          : manifest,
      );
    });
  }
}

async function resolveToolsets(compilation: Compilation): Promise<ResolvedToolset[]> {
  const nodes = compilation
    .directives<{ ref: string }>("TOOLSET")
    .filter((n) => typeof n.args.ref === "string" && !directiveHasErrors(compilation, n));
  const out = await Promise.all(
    nodes.map(async (node) => {
      const ref = node.args.ref;
      return ref.startsWith("oci://")
        ? remoteToolset(compilation, node as DirectiveNode, ref)
        : localToolset(compilation, node as DirectiveNode, ref);
    }),
  );
  return out.filter((t): t is ResolvedToolset => t !== undefined);
}

async function localToolset(
  compilation: Compilation,
  node: DirectiveNode,
  ref: string,
): Promise<ResolvedToolset | undefined> {
  // `ghcr.io/acme/tools:1` is a registry reference written without oci://, not a path of the build context.
  if (/^[^./][^/]*[.:][^/]*\/.+(?::[\w][\w.-]*|@sha256:[a-f0-9]{64})$/.test(ref)) {
    compilation.report(
      diagnostic(
        "TOOLSET_RESOLVE_FAILED",
        `TOOLSET ${ref}: a registry reference is written oci://${ref}`,
        compilation.locate(node, "/ref"),
        {
          plugin: NAME,
          hint: `Write TOOLSET oci://${ref} for a toolset package, or a path for a local toolset file.`,
        },
      ),
    );
    return undefined;
  }
  const isPath = ref.includes("/") || ref.startsWith(".");
  const written = isPath ? ref : `toolsets/${ref}.json`;
  const found = await compilation.resolvePath(written, node, "/ref", NAME);
  if (!found) return undefined;
  const manifest = (await stat(found.absolute)).isDirectory()
    ? join(found.absolute, "toolset.json")
    : found.absolute;
  const { toolset, problems } = await readToolset(compilation.context, manifest);
  for (const p of problems) {
    compilation.report(
      diagnostic(
        p.code,
        `TOOLSET ${ref}: ${p.file}: ${p.message}`,
        { file: p.file, line: p.line, column: p.column },
        {
          plugin: NAME,
        },
      ),
    );
  }
  if (!toolset) return undefined;
  const digest = `sha256:${createHash("sha256")
    .update(await readFile(manifest))
    .digest("hex")}`;
  return { ref, source: `${isPath ? "path" : "name"}:${ref}`, digest, tools: toolset.tools };
}

async function remoteToolset(
  compilation: Compilation,
  node: DirectiveNode,
  ref: string,
): Promise<ResolvedToolset | undefined> {
  const at = compilation.locate(node, "/ref");
  const fail = (detail: string) => {
    compilation.report(
      diagnostic("TOOLSET_RESOLVE_FAILED", `TOOLSET ${ref}: ${detail}`, at, { plugin: NAME }),
    );
    return undefined;
  };
  let reference: registry.Reference;
  try {
    reference = registry.parseReference(ref.slice("oci://".length));
  } catch (e) {
    return fail((e as Error).message);
  }
  const dependency: deps.Dependency = { kind: "toolset", written: ref, reference };
  const pin = compilation.lock?.toolsets?.[ref];
  const cache = await deps.DependencyCache.open(compilation.options.cacheDir);
  try {
    const digest = await deps.pinDependency(compilation, {
      dependency,
      locked: pin && SHA256.test(pin.digest) ? pin.digest : undefined,
      what: `TOOLSET ${ref}`,
      at,
      plugin: NAME,
    });
    if (digest === undefined) return undefined;
    let fetched: deps.CachedDependency | undefined;
    if (compilation.mode === "lint") {
      // offline: a pinned toolset is checked when the cache has it
      fetched = await cache.get(digest);
      if (!fetched) return undefined;
    } else {
      fetched = await cache.fetch(dependency, digest, compilation.options.registry, (m) => {
        if (
          m.artifactType !== oci.ARTIFACT_TYPE_TOOLSET ||
          m.config.mediaType !== oci.MEDIA_TYPE_TOOLSET_CONFIG
        ) {
          throw new Error(
            `${ref.slice("oci://".length)} is not a toolset package (artifactType ${m.artifactType ?? "none"}); build one with agentrc build of a directory holding toolset.json`,
          );
        }
      });
    }
    const config = fetched.config as { tools?: unknown } | undefined;
    if (!config || !Array.isArray(config.tools) || !config.tools.every(isTool)) {
      return fail("the toolset package's config has no valid tools list");
    }
    return { ref, source: ref, digest: fetched.digest, tools: config.tools };
  } catch (e) {
    if (isAgentrcError(e) && e.code === "TRUST_POLICY_VIOLATION") {
      // Not a bad reference: the policy refused it; report it as FROM and SKILL do, with its scope and reason.
      compilation.report(
        diagnostic("TRUST_POLICY_VIOLATION", `TOOLSET ${ref}: ${e.message}`, at, { plugin: NAME }),
      );
      return undefined;
    }
    return fail((e as Error).message);
  }
}

function isTool(t: unknown): t is ToolsetTool {
  const x = t as ToolsetTool | null;
  return (
    x !== null &&
    typeof x === "object" &&
    typeof x.ref === "string" &&
    typeof x.namespace === "string" &&
    typeof x.name === "string" &&
    (x.riskTier === "high" || x.riskTier === "medium") &&
    typeof x.digest === "string" &&
    SHA256.test(x.digest)
  );
}

function recordToolsets(compilation: Compilation, lock: Lockfile, resolved: ResolvedToolset[]): Lockfile {
  if (compilation.directives("TOOLSET").length === 0 || compilation.hasErrors()) return lock;
  const toolsets: NonNullable<Lockfile["toolsets"]> = {};
  for (const t of resolved) {
    toolsets[t.ref] = {
      source: t.source,
      digest: t.digest,
      tools: t.tools.map((x) => ({ name: x.ref, digest: x.digest })),
    };
  }
  return { ...lock, toolsets };
}

/** The toolsets' tools after the agent's own (a tool the agent declares with TOOL keeps its own entry). */
function withToolsetTools(config: PackageConfig, resolved: ResolvedToolset[]): PackageConfig {
  if (resolved.length === 0) return config;
  const seen = new Set((config.tools ?? []).map((t) => t.ref));
  const extra: PackageToolMetadata[] = [];
  for (const t of resolved) {
    for (const tool of t.tools) {
      if (seen.has(tool.ref)) continue;
      seen.add(tool.ref);
      extra.push({ ...tool, origin: `TOOLSET ${t.ref}` });
    }
  }
  return extra.length === 0 ? config : { ...config, tools: [...(config.tools ?? []), ...extra] };
}
