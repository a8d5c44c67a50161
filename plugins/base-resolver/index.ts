import {
  type AgentrcPlugin,
  type Compilation,
  type Compiler,
  type DirectiveNode,
  diagnostic,
  directiveHasErrors,
  type Lockfile,
  registry,
} from "../../src/core.js";

const NAME = "base-resolver";
/** After the lockfile plugin's local sections (stage 0), before it compares or writes the lock (stage 1000). */
export const BASE_RESOLVE_STAGE = 500;

/**
 * Pins `FROM <tag>` at lock time (`agentrc lock`, `agentrc build`): when the lock being written has no `base_image`
 * for exactly that reference, the tag is resolved to a manifest digest (HEAD, GET when HEAD gives no digest) and
 * recorded as `base_image {ref, digest}`; `io.agentrc.base.digest` follows from the lock. A pin for the same
 * reference (carried over by the lockfile plugin) is never re-resolved, so pinned builds stay offline. With
 * --frozen-lockfile nothing new is resolved (LOCKFILE_STALE). `agentrc lint` never runs the lock hook: offline.
 * The registry is reached with `compilation.options.registry` (`--plain-http`, `--insecure`, `--ca-file`, credentials).
 */
export class BaseResolverPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      compilation.hooks.lock.tapPromise({ name: NAME, stage: BASE_RESOLVE_STAGE }, (lock) =>
        pinBase(compilation, lock),
      );
    });
  }
}

async function pinBase(compilation: Compilation, lock: Lockfile): Promise<Lockfile> {
  const [from] = compilation.directives<{ ref: string }>("FROM");
  if (!from || typeof from.args.ref !== "string" || directiveHasErrors(compilation, from)) return lock;
  const ref = from.args.ref;
  if (ref === "scratch" || ref.includes("@")) return lock;
  if (lock.base_image?.ref === ref) return lock;
  const at = compilation.locate(from as DirectiveNode, "/ref");
  if (compilation.options.build.frozenLockfile) {
    compilation.report(
      diagnostic(
        "LOCKFILE_STALE",
        `agentrc.lock does not pin FROM ${ref} and --frozen-lockfile forbids resolving it`,
        at,
        { plugin: NAME },
      ),
    );
    return lock;
  }
  try {
    const digest = await registry.resolveManifestDigest(
      registry.parseReference(ref),
      compilation.options.registry,
    );
    return { ...lock, base_image: { ref, digest } };
  } catch (e) {
    compilation.report(
      diagnostic(
        "BASE_RESOLVE_FAILED",
        `FROM ${ref}: cannot resolve the tag to a digest: ${message(e)}`,
        at,
        {
          plugin: NAME,
        },
      ),
    );
    return lock;
  }
}

function message(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}
