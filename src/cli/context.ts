import { resolve } from "node:path";
import type { ParseArgsConfig } from "node:util";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { defaultStorePath } from "../oci/store.js";

/**
 * One flag: the `parseArgs` option (the parser ignores the extra keys) plus what `--help` prints for it. A
 * command's flag table is the single source of both its parsing and its help.
 */
export type Flag = NonNullable<ParseArgsConfig["options"]>[string] & {
  description: string;
  /** Placeholder of a string flag's value in the help, e.g. `<dir>`. */
  value?: string;
};
export type Flags = Record<string, Flag>;

/** Flags every command accepts (docs/cli.md). */
export const SHARED_OPTIONS = {
  json: { type: "boolean", description: "machine output on stdout (schemas/<command>-result.schema.json)" },
  quiet: { type: "boolean", short: "q", description: "print errors only" },
  verbose: { type: "boolean", short: "v", description: "more detail (registry commands trace HTTP)" },
  debug: { type: "boolean", description: "stack traces and HTTP traces" },
  config: { type: "string", short: "c", value: "<file>", description: "configuration file to use" },
  color: { type: "boolean", description: "colour even when stdout is not a terminal" },
  "no-color": { type: "boolean", description: "no colour (also NO_COLOR)" },
  help: { type: "boolean", short: "h", description: "show this help" },
} as const satisfies Flags;

/** `--store`, for every command that reads or writes the local store. */
export const STORE_FLAG = {
  type: "string",
  value: "<dir>",
  description: "local store directory (default $AGENTRC_STORE, else XDG data dir)",
} as const satisfies Flag;

export interface CliIO {
  stdout: NodeJS.WritableStream & { isTTY?: boolean };
  /** On a terminal, `rows` and `columns` bound the progress display. */
  stderr: NodeJS.WritableStream & { isTTY?: boolean; rows?: number; columns?: number };
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
  /** Reports a usage error (as JSON with --json, else on stderr with the usage line) and returns exit code 2. */
  usage(message: string): number;
}

export interface Command {
  name: string;
  summary: string;
  usage: string;
  options: Flags;
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
 * or the exit code (2) after reporting a usage error.
 */
export function agentArgs(ctx: CommandContext): { dir: string; configFile?: string } | number {
  if (ctx.positionals.length > 1) {
    return ctx.usage(`expected at most one directory, got ${ctx.positionals.length}`);
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
