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
  registry,
  STAGE,
} from "../../src/core.js";
import { addInheritedFiles, inheritedConfig, loadBase, raiseRiskTier, reuseBaseLayer } from "./inherit.js";

const NAME = "base-resolver";

/**
 * `FROM <ref>`: the base is an agentrc package whose skills, tools, functions, data, SOPs, limits and policy the agent
 * inherits (inherit.ts; docs/agentfile.md#inheritance). During `spec` (after the lockfile is read) the base is
 * pinned — `@sha256:` in the reference, else the lock's `base_image` for exactly that reference (never re-resolved:
 * pinned builds stay offline), else the tag resolved now (`lock`/`build`; --frozen-lockfile: LOCKFILE_STALE) — and
 * fetched through the dependency cache (`deps`, verified on every use). `lint` stays offline: it uses a pinned base
 * only when the cache has it. The lock records `base_image {ref, digest}`; `io.agentrc.base.digest` follows from it.
 * The registry is reached with `compilation.options.registry` (`--plain-http`, `--insecure`, `--ca-file`, credentials).
 */
export class BaseResolverPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      let pin: { ref: string; digest: string } | undefined;
      compilation.hooks.spec.tapPromise(NAME, async () => {
        pin = await pinBase(compilation);
        if (pin) await loadBase(compilation, pin, NAME);
      });
      compilation.hooks.check.tapPromise({ name: NAME, stage: STAGE.CHECK_INHERIT }, () =>
        addInheritedFiles(compilation, NAME),
      );
      compilation.hooks.lock.tapPromise({ name: NAME, stage: STAGE.LOCK_REMOTE }, async (lock) =>
        recordBase(compilation, lock, pin),
      );
      compilation.hooks.packLayer.tapPromise(NAME, async (layer) => reuseBaseLayer(compilation, layer));
      compilation.hooks.packageConfig.tap(NAME, (config) => inheritedConfig(compilation, config));
      // On the manifest, once the packager has set the tier the agent's own declarations give.
      compilation.hooks.manifest.tap(NAME, (manifest) =>
        compilation.base
          ? { ...manifest, annotations: raiseRiskTier(compilation, manifest.annotations ?? {}) }
          : manifest,
      );
    });
  }
}

/** The FROM directive, when it names a package (not `scratch`) and parsed without errors. */
export function fromDirective(compilation: Compilation): DirectiveNode<{ ref: string }> | undefined {
  const [from] = compilation.directives<{ ref: string }>("FROM");
  if (!from || typeof from.args.ref !== "string" || directiveHasErrors(compilation, from)) return undefined;
  return from.args.ref === "scratch" ? undefined : from;
}

/** The base's pin (reference as written, manifest digest), or undefined after reporting why there is none. */
async function pinBase(compilation: Compilation): Promise<{ ref: string; digest: string } | undefined> {
  const from = fromDirective(compilation);
  if (!from) return undefined;
  const ref = from.args.ref;
  const where = compilation.locate(from as DirectiveNode, "/ref");
  let reference: registry.Reference;
  try {
    reference = registry.parseReference(ref);
  } catch {
    return undefined; // the spec check reported the reference
  }
  const pinned = compilation.lock?.base_image;
  try {
    const digest = await deps.pinDependency(compilation, {
      dependency: { kind: "base", written: ref, reference },
      locked: pinned?.ref === ref ? pinned.digest : undefined,
      what: `FROM ${ref}`,
      at: where,
      plugin: NAME,
    });
    return digest === undefined ? undefined : { ref, digest };
  } catch (e) {
    compilation.report(
      diagnostic(
        "BASE_RESOLVE_FAILED",
        `FROM ${ref}: cannot resolve the tag to a digest: ${message(e)}`,
        where,
        {
          plugin: NAME,
        },
      ),
    );
    return undefined;
  }
}

function recordBase(
  compilation: Compilation,
  lock: Lockfile,
  pin: { ref: string; digest: string } | undefined,
): Lockfile {
  if (!pin || compilation.hasErrors()) return lock;
  return { ...lock, base_image: pin };
}

export function message(e: unknown): string {
  if (isAgentrcError(e)) return e.message;
  return e instanceof Error ? e.message : String(e);
}
