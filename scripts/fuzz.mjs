#!/usr/bin/env node
// `npm run fuzz`: the fuzz suites of test/fuzz/ with a random seed (printed first) and AGENTRC_FUZZ_SCALE times
// the cases that `npm test` runs (default 25). Reproduce a failure with AGENTRC_FUZZ_SEED=<seed> npm run fuzz.
import { spawnSync } from "node:child_process";
import { randomInt } from "node:crypto";
import fg from "fast-glob";

const seed = process.env.AGENTRC_FUZZ_SEED ?? String(randomInt(2 ** 31 - 1));
const scale = process.env.AGENTRC_FUZZ_SCALE ?? "25";
const filters = process.argv.slice(2);
const files = (await fg("test/fuzz/*.test.ts")).sort().filter((f) => filters.every((s) => f.includes(s)));
console.log(`fuzz: AGENTRC_FUZZ_SEED=${seed} AGENTRC_FUZZ_SCALE=${scale} (${files.length} suites)`);
const result = spawnSync(
  process.execPath,
  ["--import", "tsx", "--test", "--test-concurrency=1", "--test-timeout=0", ...files],
  { stdio: "inherit", env: { ...process.env, AGENTRC_FUZZ_SEED: seed, AGENTRC_FUZZ_SCALE: scale } },
);
console.log(`fuzz: seed ${seed}, ${result.status === 0 ? "no failure" : "FAILED"}`);
process.exit(result.status ?? 1);
