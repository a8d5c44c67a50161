import { parseArgs } from "node:util";
import { AgentrcError, isAgentrcError } from "../diagnostics/AgentrcError.js";
import { didYouMean } from "../util/didYouMean.js";
import { agentrcVersion } from "../util/packageRoot.js";
import type { CliIO, Command, CommandContext } from "./context.js";

/**
 * Every command by name, in help order, with the module that defines it: a run loads only its own command's module
 * graph (`lint` never loads the registry client or the review code, `--version` loads none), as commands load only
 * what they use. `src/cli/commands/index.ts` lists the same commands eagerly (help, tests); test/cli/usage.test.ts
 * checks that the two lists agree.
 */
const COMMAND_MODULES: ReadonlyArray<readonly [name: string, load: () => Promise<Command>]> = [
  ["init", async () => (await import("./commands/init.js")).initCommand],
  ["lint", async () => (await import("./commands/lint.js")).lintCommand],
  ["lock", async () => (await import("./commands/lock.js")).lockCommand],
  ["build", async () => (await import("./commands/build.js")).buildCommand],
  ["push", async () => (await import("./commands/push.js")).pushCommand],
  ["pull", async () => (await import("./commands/pull.js")).pullCommand],
  ["inspect", async () => (await import("./commands/inspect.js")).inspectCommand],
  ["diff", async () => (await import("./commands/diff.js")).diffCommand],
  ["policy show", async () => (await import("./commands/policy.js")).policyShowCommand],
  ["policy eval", async () => (await import("./commands/policy.js")).policyEvalCommand],
  ["verify", async () => (await import("./commands/verify.js")).verifyCommand],
  ["sign", async () => (await import("./commands/sign.js")).signCommand],
  ["key generate", async () => (await import("./commands/key.js")).keyGenerateCommand],
  ["login", async () => (await import("./commands/login.js")).loginCommand],
  ["logout", async () => (await import("./commands/login.js")).logoutCommand],
  ["list", async () => (await import("./commands/list.js")).listCommand],
  ["tag", async () => (await import("./commands/tag.js")).tagCommand],
  ["rm", async () => (await import("./commands/rm.js")).rmCommand],
  ["prune", async () => (await import("./commands/prune.js")).pruneCommand],
  ["install", async () => (await import("./commands/install.js")).installCommand],
  ["update", async () => (await import("./commands/install.js")).updateCommand],
  ["uninstall", async () => (await import("./commands/install.js")).uninstallCommand],
  ["kube", async () => (await import("./commands/kube.js")).kubeCommand],
  ["promote", async () => (await import("./commands/promote.js")).promoteCommand],
];

/** The command names, in help order. */
export const COMMAND_NAMES: readonly string[] = COMMAND_MODULES.map(([name]) => name);

async function help(): Promise<string> {
  const { COMMANDS } = await import("./commands/index.js");
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
  const twoWords = COMMAND_NAMES.includes(`${first} ${second}`);
  const name = twoWords ? `${first} ${second}` : first;
  const rest = argv.slice(twoWords ? 2 : 1);
  const debug = argv.includes("--debug");
  const wantJson = argv.includes("--json");
  const writeErr = (s: string) => io.stderr.write(`${s}\n`);
  if (name === undefined || name === "--help" || name === "-h" || name === "help") {
    io.stdout.write(`${await help()}\n`);
    return name === undefined ? 2 : 0;
  }
  if (name === "--version" || name === "-V" || name === "version") {
    io.stdout.write(`agentrc ${agentrcVersion()}\n`);
    return 0;
  }
  const load = COMMAND_MODULES.find(([n]) => n === name)?.[1];
  if (!load && COMMAND_NAMES.some((n) => n.startsWith(`${name} `))) {
    const subcommands = COMMAND_NAMES.filter((n) => n.startsWith(`${name} `));
    return usageError(io, wantJson, {
      message: `"${name}" needs a subcommand: ${subcommands.join(", ")}${second === undefined ? "" : ` (not "${second}")`}`,
      usage: subcommands.map((s) => `agentrc ${s} …`).join(" | "),
      hint: `Run \`agentrc ${subcommands[0]} --help\`.`,
    });
  }
  if (!load) {
    const guess = didYouMean(name, [...COMMAND_NAMES]);
    return usageError(io, wantJson, {
      message: `unknown command "${name}"${guess ? `; did you mean "${guess}"?` : ""}`,
      usage: "agentrc <command> [options]",
      hint: "Run `agentrc --help` for the list of commands.",
    });
  }
  const command = await load();
  const { SHARED_OPTIONS } = await import("./context.js");
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
    const { commandHelp } = await import("./help.js");
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
    return await reportFailure(e, ctx, wantJson);
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

async function reportFailure(e: unknown, ctx: CommandContext, json: boolean): Promise<number> {
  const { fileSystemError } = await import("../diagnostics/fsError.js");
  const { UsageFailure } = await import("./context.js");
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
    const { formatDiagnostics } = await import("../diagnostics/format.js");
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
