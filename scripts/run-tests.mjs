#!/usr/bin/env node
// Runs the test suites with node:test. Node 20 does not expand globs after --test, so this script finds the files.
// Usage: node scripts/run-tests.mjs [path-substring ...]
import { spawnSync } from "node:child_process";
import fg from "fast-glob";

const filters = process.argv.slice(2);
const files = (await fg("test/**/*.test.ts", { onlyFiles: true }))
  .sort()
  .filter((f) => filters.length === 0 || filters.some((s) => f.includes(s)));
if (files.length === 0) {
  console.error(`no test files match ${filters.join(" ")}`);
  process.exit(1);
}
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=2", "--test-timeout=600000", ...files],
  { stdio: "inherit" },
);
process.exit(result.status ?? 1);
