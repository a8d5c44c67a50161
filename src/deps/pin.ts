import type { Compilation } from "../compiler/Compilation.js";
import { diagnostic } from "../diagnostics/create.js";
import type { SourceLocation } from "../diagnostics/types.js";
import { type Dependency, resolveDependency } from "./remote.js";

/** True when `lock --update` updates everything, or names one of `names` (a reference as written, a skill's name). */
export function isUpdated(compilation: Compilation, names: readonly string[]): boolean {
  const update = compilation.options.build.update;
  return update !== undefined && (update.length === 0 || names.some((n) => update.includes(n)));
}

export interface PinRequest {
  dependency: Dependency;
  /** The lock's digest for exactly this dependency, if it has one. */
  locked: string | undefined;
  /** Other names `lock --update <name>` may give it besides `dependency.written` (a skill's name). */
  aliases?: readonly string[];
  /** The dependency as a diagnostic names it: `FROM host/org/base:1`, `SKILL oci://…`, `TOOLSET oci://…`. */
  what: string;
  /** Where the directive names it. */
  at: SourceLocation;
  /** The reporting plugin. */
  plugin: string;
}

/**
 * The digest a registry dependency is built with, by the one rule FROM, SKILL oci:// and TOOLSET oci:// share: the
 * reference's own digest; else the lock's, unless `lock --update` names the dependency; else its tag resolved now.
 * Undefined when there is none to use: in `lint`, which stays offline, and under --frozen-lockfile (LOCKFILE_STALE,
 * reported at `at`). A failed resolution throws; the caller reports it under its own code.
 */
export async function pinDependency(
  compilation: Compilation,
  request: PinRequest,
): Promise<string | undefined> {
  const { dependency, locked } = request;
  if (dependency.reference.digest !== undefined) return dependency.reference.digest;
  if (locked !== undefined && !isUpdated(compilation, [dependency.written, ...(request.aliases ?? [])])) {
    return locked;
  }
  if (compilation.mode === "lint") return undefined;
  if (compilation.options.build.frozenLockfile) {
    compilation.report(
      diagnostic(
        "LOCKFILE_STALE",
        `agentrc.lock does not pin ${request.what} and --frozen-lockfile forbids resolving it`,
        request.at,
        { plugin: request.plugin },
      ),
    );
    return undefined;
  }
  return resolveDependency(dependency, compilation.options.registry);
}
