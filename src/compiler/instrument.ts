import { AgentrcError, isAgentrcError } from "../diagnostics/AgentrcError.js";
import { fileSystemError } from "../diagnostics/fsError.js";

interface TapLike {
  name: string;
  type: "sync" | "async" | "promise";
  fn: (...args: unknown[]) => unknown;
}
interface HookLike {
  intercept(i: { register: (tap: TapLike) => TapLike }): void;
}

/**
 * Wraps every tap so that a throw or rejection becomes PLUGIN_FAILED naming the plugin and the hook,
 * as webpack's HookWebpackError and Rollup's PLUGIN_ERROR do. AgentrcErrors pass through with the plugin filled.
 */
export function instrumentHooks(hooks: Record<string, unknown>, owner: string): void {
  for (const [hookName, hook] of Object.entries(hooks)) {
    (hook as HookLike).intercept({
      register(tap) {
        const where = `${owner}.hooks.${hookName}`;
        const fn = tap.fn;
        if (tap.type === "sync") {
          return { ...tap, fn: (...args: unknown[]) => guard(() => fn(...args), tap.name, where) };
        }
        if (tap.type === "promise") {
          return {
            ...tap,
            fn: (...args: unknown[]) => {
              try {
                return Promise.resolve(fn(...args)).catch((e: unknown) => {
                  throw wrap(e, tap.name, where);
                });
              } catch (e) {
                return Promise.reject(wrap(e, tap.name, where));
              }
            },
          };
        }
        return {
          ...tap,
          fn: (...args: unknown[]) => {
            const callback = args.pop() as (err?: unknown, result?: unknown) => void;
            return guard(
              () =>
                fn(...args, (err?: unknown, result?: unknown) =>
                  callback(err ? wrap(err, tap.name, where) : err, result),
                ),
              tap.name,
              where,
            );
          },
        };
      },
    });
  }
}

function guard<T>(run: () => T, plugin: string, where: string): T {
  try {
    return run();
  } catch (e) {
    throw wrap(e, plugin, where);
  }
}

function wrap(e: unknown, plugin: string, where: string): AgentrcError {
  if (isAgentrcError(e)) {
    if (e.plugin) return e;
    return new AgentrcError(e.code, e.message, {
      ...(e.hint === undefined ? {} : { hint: e.hint }),
      ...(e.location === undefined ? {} : { location: e.location }),
      diagnostics: e.diagnostics,
      plugin,
      cause: e.cause,
    });
  }
  const fsError = fileSystemError(e);
  if (fsError) return new AgentrcError(fsError.code, fsError.message, { plugin, cause: e });
  const message = e instanceof Error ? e.message : String(e);
  return new AgentrcError("PLUGIN_FAILED", `plugin ${plugin} failed in ${where}: ${message}`, {
    plugin,
    cause: e,
  });
}
