#!/usr/bin/env node
import { tolerateBrokenPipe } from "./brokenPipe.js";
import { main } from "./main.js";

tolerateBrokenPipe(process.stdout, (m) => process.stderr.write(`${m}\n`));
tolerateBrokenPipe(process.stderr, () => {});

const code = await main(process.argv.slice(2), {
  stdout: process.stdout,
  stderr: process.stderr,
  stdin: process.stdin,
  env: process.env,
  cwd: process.cwd(),
});
process.exitCode = Math.max(code, Number(process.exitCode ?? 0));
