import { resolve } from "node:path";
import type { ParseArgsConfig } from "node:util";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { defaultStorePath } from "../oci/store.js";

/** Flags every command accepts (BRIEF §7). */
export const SHARED_OPTIONS = {
  json: { type: "boolean" },
  quiet: { type: "boolean", short: "q" },
  verbose: { type: "boolean", short: "v" },
  debug: { type: "boolean" },
  config: { type: "string", short: "c" },
  color: { type: "boolean" },
  "no-color": { type: "boolean" },
  help: { type: "boolean", short: "h" },
} as const satisfies ParseArgsConfig["options"];

export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  stderr: NodeJS.WritableStream & { isTTY?: boolean };
  stdin: NodeJS.ReadableStream;
  env: NodeJS.ProcessEnv;
  cwd: string;
}

export interface CommandContext {
  io: CliIO;
  /** Parsed flag values of this command (shared and own). */
  values: Record<string, string | boolean | string[] | undefined>;
  positionals: string[];
  json: boolean;
  quiet: boolean;
  debug: boolean;
  color: boolean;
  out(line: string): void;
  err(line: string): void;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: ParseArgsConfig["options"];
  /** Returns the exit code: 0 ok, 1 failure. */
  run(ctx: CommandContext): Promise<number>;
}

/** The local store for this invocation: --store, else $AGENTRC_STORE / XDG rules from the command's environment. */
export function storePath(ctx: CommandContext): string {
  return typeof ctx.values.store === "string"
    ? resolve(ctx.io.cwd, ctx.values.store)
    : defaultStorePath(ctx.io.env);
}

/**
 * The agent directory (the one optional positional) and `--config` of the commands that work on a source tree,
 * or undefined after printing a usage error (exit 2).
 */
export function agentArgs(
  ctx: CommandContext,
  command: string,
): { dir: string; configFile?: string } | undefined {
  if (ctx.positionals.length > 1) {
    ctx.err(`agentrc ${command}: expected at most one directory, got ${ctx.positionals.length}`);
    return undefined;
  }
  const dir = resolve(ctx.io.cwd, ctx.positionals[0] ?? ".");
  return typeof ctx.values.config === "string"
    ? { dir, configFile: resolve(ctx.io.cwd, ctx.values.config) }
    : { dir };
}

/** A coded error in what was typed (a bad `-t` reference, …): reported like any failure, but exit code 2. */
export class UsageFailure extends AgentrcError {}

/** Runs `check` on a command-line value; an AgentrcError it throws becomes a UsageFailure prefixed by `flag`. */
export function checkArgument<T>(flag: string, check: () => T): T {
  try {
    return check();
  } catch (err) {
    if (!(err instanceof AgentrcError)) throw err;
    throw new UsageFailure(
      err.code,
      `${flag}: ${err.message}`,
      err.hint === undefined ? {} : { hint: err.hint },
    );
  }
}
