import { parseArgs } from "node:util";
import { AgentrcError, isAgentrcError } from "../diagnostics/AgentrcError.js";
import { formatDiagnostics } from "../diagnostics/format.js";
import { fileSystemError } from "../diagnostics/fsError.js";
import { didYouMean } from "../util/didYouMean.js";
import { agentrcVersion } from "../util/packageRoot.js";
import { buildCommand } from "./commands/build.js";
import { diffCommand } from "./commands/diff.js";
import { initCommand } from "./commands/init.js";
import { inspectCommand } from "./commands/inspect.js";
import { installCommand, uninstallCommand, updateCommand } from "./commands/install.js";
import { kubeCommand } from "./commands/kube.js";
import { lintCommand } from "./commands/lint.js";
import { listCommand } from "./commands/list.js";
import { lockCommand } from "./commands/lock.js";
import { loginCommand, logoutCommand } from "./commands/login.js";
import { policyEvalCommand, policyShowCommand } from "./commands/policy.js";
import { promoteCommand } from "./commands/promote.js";
import { pruneCommand } from "./commands/prune.js";
import { pullCommand } from "./commands/pull.js";
import { pushCommand } from "./commands/push.js";
import { rmCommand } from "./commands/rm.js";
import { tagCommand } from "./commands/tag.js";
import { verifyCommand } from "./commands/verify.js";
import { type CliIO, type Command, type CommandContext, SHARED_OPTIONS, UsageFailure } from "./context.js";
import { commandHelp } from "./help.js";

export const COMMANDS: readonly Command[] = [
  initCommand,
  lintCommand,
  lockCommand,
  buildCommand,
  pushCommand,
  pullCommand,
  inspectCommand,
  diffCommand,
  policyShowCommand,
  policyEvalCommand,
  verifyCommand,
  loginCommand,
  logoutCommand,
  listCommand,
  tagCommand,
  rmCommand,
  pruneCommand,
  installCommand,
  updateCommand,
  uninstallCommand,
  kubeCommand,
  promoteCommand,
];

function help(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length));
  return [
    "agentrc — build AI agent packages as reproducible OCI artifacts",
    "",
    "Usage: agentrc <command> [options]",
    "",
    "Commands:",
    ...COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`),
    "",
    "Shared options: --json, --quiet, --verbose, --debug, --config <file>, --no-color, --help",
    "Run `agentrc <command> --help` for a command's options.",
    "Exit codes: 0 ok, 1 failure, 2 usage error.",
  ].join("\n");
}

/** Runs the CLI and returns the exit code; never calls process.exit, so tests can call it in-process. */
export async function main(argv: string[], io: CliIO): Promise<number> {
  const [first, second] = argv;
  // Commands with a subcommand (`policy show`) are named by both words.
  const twoWords = COMMANDS.some((c) => c.name === `${first} ${second}`);
  const name = twoWords ? `${first} ${second}` : first;
  const rest = argv.slice(twoWords ? 2 : 1);
  const debug = argv.includes("--debug");
  const wantJson = argv.includes("--json");
  const writeErr = (s: string) => io.stderr.write(`${s}\n`);
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.stdout.write(`${help()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-V" || name === "version") {
    io.stdout.write(`agentrc ${agentrcVersion()}\n`);
    return 0;
  }
  const command = COMMANDS.find((c) => c.name === name);
  if (!command && COMMANDS.some((c) => c.name.startsWith(`${name} `))) {
    const subcommands = COMMANDS.filter((c) => c.name.startsWith(`${name} `)).map((c) => c.name);
    return usageError(io, wantJson, {
      message: `"${name}" needs a subcommand: ${subcommands.join(", ")}${second === undefined ? "" : ` (not "${second}")`}`,
      usage: subcommands.map((s) => `agentrc ${s} …`).join(" | "),
      hint: `Run \`agentrc ${subcommands[0]} --help\`.`,
    });
  }
  if (!command) {
    const guess = didYouMean(
      name,
      COMMANDS.map((c) => c.name),
    );
    return usageError(io, wantJson, {
      message: `unknown command "${name}"${guess ? `; did you mean "${guess}"?` : ""}`,
      usage: "agentrc <command> [options]",
      hint: "Run `agentrc --help` for the list of commands.",
    });
  }
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({
      args: rest,
      options: { ...SHARED_OPTIONS, ...command.options },
      allowPositionals: true,
      strict: true,
    });
  } catch (e) {
    return usageError(io, wantJson, { command, message: (e as Error).message });
  }
  const values = parsed.values as CommandContext["values"];
  if (values.help) {
    io.stdout.write(`${commandHelp(command)}\n`);
    return 0;
  }
  const color =
    values["no-color"] !== true &&
    !("NO_COLOR" in io.env) &&
    (values.color === true || (io.stdout.isTTY === true && io.env.TERM !== "dumb"));
  const ctx: CommandContext = {
    io,
    values,
    positionals: parsed.positionals,
    json: values.json === true,
    quiet: values.quiet === true,
    debug,
    color,
    out: (s) => io.stdout.write(`${s}\n`),
    err: writeErr,
    usage: (message) => usageError(io, values.json === true, { command, message }),
  };
  try {
    return await command.run(ctx);
  } catch (e) {
    if (isAgentrcError(e) && e.code === "USAGE") {
      return usageError(io, wantJson, { command, message: e.message, ...(e.hint ? { hint: e.hint } : {}) });
    }
    return reportFailure(e, ctx, wantJson);
  }
}

/**
 * A usage error: with --json one error object on stdout (schemas/error-result.schema.json), else the message and
 * the command's usage line on stderr. Always exit code 2.
 */
function usageError(
  io: CliIO,
  json: boolean,
  what: { message: string; command?: Command; usage?: string; hint?: string },
): number {
  const usage = what.usage ?? what.command?.usage ?? "agentrc <command> [options]";
  const hint = what.hint ?? `Run \`agentrc ${what.command?.name ?? ""}${what.command ? " " : ""}--help\`.`;
  if (json) {
    const error = new AgentrcError("USAGE", what.message, { hint });
    io.stdout.write(
      `${JSON.stringify(
        {
          version: 1,
          ok: false,
          error: { code: "USAGE", message: what.message, usage },
          diagnostics: [error.toDiagnostic()],
        },
        null,
        2,
      )}\n`,
    );
  } else {
    io.stderr.write(`agentrc${what.command ? ` ${what.command.name}` : ""}: ${what.message}\n`);
    io.stderr.write(what.command ? `Usage: ${usage}\n` : `${hint}\n`);
  }
  return 2;
}

function reportFailure(e: unknown, ctx: CommandContext, json: boolean): number {
  const error = isAgentrcError(e)
    ? e
    : (fileSystemError(e) ??
      new AgentrcError("INTERNAL", e instanceof Error ? e.message : String(e), { cause: e }));
  const diagnostics = error.diagnostics.length > 0 ? [...error.diagnostics] : [error.toDiagnostic()];
  if (json) {
    ctx.out(
      JSON.stringify(
        { version: 1, ok: false, error: { code: error.code, message: error.message }, diagnostics },
        null,
        2,
      ),
    );
  } else {
    ctx.err(
      formatDiagnostics(diagnostics, {
        color: ctx.color && ctx.io.stderr.isTTY === true,
        source: () => undefined,
      }),
    );
  }
  if (ctx.debug) ctx.err(String((error.cause as Error | undefined)?.stack ?? error.stack));
  // A coded error in what was typed (a bad -t reference): reported with its own code, exit 2 like a usage error.
  return error instanceof UsageFailure ? 2 : 1;
}
