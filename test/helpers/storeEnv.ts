import { join } from "node:path";
import { type CliRun, runCli } from "./cli.js";

/**
 * The CLI environment of one named store below `base`, for tests that play several machines (a builder, a clean
 * consumer): PATH, HOME and XDG_CONFIG_HOME shared; the store and its cache each store's own.
 */
export function storeEnv(base: string, store: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: join(base, "home"),
    XDG_CONFIG_HOME: join(base, "config"),
    AGENTRC_STORE: join(base, store),
    AGENTRC_CACHE: join(base, `cache-${store}`),
  };
}

/** `agentrc <args>` in-process in `storeEnv(base, store)`, from `base`, so no agentrc.config.* of the repository applies. */
export function storeCli(base: string, args: string[], store: string): Promise<CliRun> {
  return runCli(args, { env: storeEnv(base, store), cwd: base });
}
