import { type SpawnSyncReturns, spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { BIN } from "./cli.js";

/**
 * Runs the built CLI (`agentrc <args>`, `npm run build` first) under `strace -f`, tracing `syscalls` (strace's
 * `trace=` list) into `traceFile`; returns the run and the trace's lines. `successfulOnly` adds `-z`: failed calls
 * are left out, and each call is printed whole at its exit (with -f, a call interrupted by another thread is
 * otherwise split into an "unfinished" line without its result).
 */
export async function straceBin(
  args: string[],
  options: { syscalls: string; traceFile: string; env: NodeJS.ProcessEnv; successfulOnly?: boolean },
): Promise<{ run: SpawnSyncReturns<string>; lines: string[] }> {
  const run = spawnSync(
    "strace",
    [
      "-f",
      "-qq",
      ...(options.successfulOnly ? ["-z"] : []),
      "-e",
      `trace=${options.syscalls}`,
      "-o",
      options.traceFile,
      process.execPath,
      BIN,
      ...args,
    ],
    { encoding: "utf8", env: options.env },
  );
  const lines = run.status === 0 ? (await readFile(options.traceFile, "utf8")).split("\n") : [];
  return { run, lines };
}

/** The files a trace of open/openat shows opened successfully: path and the flags as strace prints them. */
export function openedFiles(lines: readonly string[]): Array<{ path: string; flags: string }> {
  const out: Array<{ path: string; flags: string }> = [];
  for (const line of lines) {
    const m = /open(?:at)?\((?:AT_FDCWD, )?"([^"]+)", ([A-Z_|]+)/.exec(line);
    if (m && !/ = -1 /.test(line)) out.push({ path: m[1]!, flags: m[2]! });
  }
  return out;
}
