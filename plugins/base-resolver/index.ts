import {
  type AgentrcPlugin,
  type BuiltinCode,
  type Compilation,
  type Compiler,
  type DirectiveNode,
  diagnostic,
  directiveHasErrors,
  isAgentrcError,
  type Lockfile,
  registry,
  STAGE,
  trust,
} from "../../src/core.js";

const NAME = "base-resolver";

/**
 * Owns the lock's `base_image` (`agentrc lock`, `agentrc build`, at `STAGE.LOCK_REMOTE`): `FROM <ref>@sha256:…` is
 * pinned by its own digest; `FROM <tag>` keeps the pin agentrc.lock already holds for exactly that reference (never
 * re-resolved, so pinned builds stay offline), else the tag is resolved to a manifest digest (HEAD, GET when HEAD
 * gives no digest) and recorded as `base_image {ref, digest}`; `io.agentrc.base.digest` follows from the lock.
 * With --frozen-lockfile nothing new is resolved (LOCKFILE_STALE). `agentrc lint` never runs the lock hook: offline.
 * The registry is reached with `compilation.options.registry` (`--plain-http`, `--insecure`, `--ca-file`, credentials).
 */
export class BaseResolverPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      compilation.hooks.lock.tapPromise({ name: NAME, stage: STAGE.LOCK_REMOTE }, (lock) =>
        pinBase(compilation, lock),
      );
    });
  }
}

async function pinBase(compilation: Compilation, lock: Lockfile): Promise<Lockfile> {
  const pinned = await resolveBase(compilation, lock);
  const base = pinned.base_image;
  const policy = compilation.options.trustPolicy;
  if (base === undefined || policy === undefined) return pinned;
  // The trust check of the base, before the lock (or anything else) is written.
  const [from] = compilation.directives<{ ref: string }>("FROM");
  try {
    await trust.checkRegistryTrust(
      base.ref.replace(/@sha256:.*$/, ""),
      base.digest,
      compilation.options.registry,
      policy,
    );
  } catch (e) {
    if (!isAgentrcError(e)) throw e;
    compilation.report(
      diagnostic(
        e.code.startsWith("TRUST_") ? (e.code as BuiltinCode) : "BASE_RESOLVE_FAILED",
        `FROM ${base.ref}: ${e.message}`,
        compilation.locate(from as DirectiveNode, "/ref"),
        { plugin: NAME, ...(e.hint ? { hint: e.hint } : {}) },
      ),
    );
  }
  return pinned;
}

async function resolveBase(compilation: Compilation, lock: Lockfile): Promise<Lockfile> {
  const [from] = compilation.directives<{ ref: string }>("FROM");
  if (!from || typeof from.args.ref !== "string" || directiveHasErrors(compilation, from)) return lock;
  const ref = from.args.ref;
  if (ref === "scratch") return lock;
  const digestAt = ref.indexOf("@sha256:");
  if (digestAt >= 0) return { ...lock, base_image: { ref, digest: ref.slice(digestAt + 1) } };
  if (ref.includes("@")) return lock;
  const pinned = compilation.lock?.base_image;
  if (pinned?.ref === ref) return { ...lock, base_image: pinned };
  const where = compilation.locate(from as DirectiveNode, "/ref");
  if (compilation.options.build.frozenLockfile) {
    compilation.report(
      diagnostic(
        "LOCKFILE_STALE",
        `agentrc.lock does not pin FROM ${ref} and --frozen-lockfile forbids resolving it`,
        where,
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
        where,
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
