import { type Command, type Flags, SHARED_OPTIONS } from "./context.js";

/** One line per flag: `  -t, --tag <ref>   description`, aligned. */
export function flagLines(flags: Flags): string[] {
  const left = Object.entries(flags).map(([name, flag]) => {
    const short = flag.short ? `-${flag.short}, ` : "    ";
    const value = flag.type === "string" ? ` ${flag.value ?? "<value>"}` : "";
    return `${short}--${name}${value}`;
  });
  const width = Math.max(...left.map((l) => l.length));
  return Object.values(flags).map((flag, i) => `  ${left[i]!.padEnd(width)}  ${flag.description}`);
}

/** `agentrc <command> --help`: usage, summary, the command's own flags, then the shared ones. */
export function commandHelp(command: Command): string {
  const own = Object.keys(command.options).length > 0 ? ["", "Options:", ...flagLines(command.options)] : [];
  return [
    `Usage: ${command.usage}`,
    "",
    command.summary,
    ...own,
    "",
    "Shared options:",
    ...flagLines(SHARED_OPTIONS).map((l) => l.replace("<command>", command.name.replace(" ", "-"))),
    "",
    "Exit codes: 0 ok, 1 failure, 2 usage error.",
  ].join("\n");
}
