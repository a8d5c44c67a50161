/**
 * A reader that went away (`agentrc list | head -1`) is not a failure of the command: the rest of the output is
 * dropped and the command finishes with its own exit code (as `ls | head -1` does), instead of Node's unhandled
 * EPIPE error with a stack trace. Any other write failure is one line on stderr and exit code 1.
 */
export function tolerateBrokenPipe(stream: NodeJS.WriteStream, report: (message: string) => void): void {
  stream.on("error", (err: NodeJS.ErrnoException) => {
    if (err.code === "EPIPE" || err.code === "ERR_STREAM_DESTROYED") return;
    process.exitCode = 1;
    report(`agentrc: cannot write output: ${err.message}`);
  });
}
