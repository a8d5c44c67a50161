#!/usr/bin/env node
// Runs Biome (the project's one formatter and linter) from its platform binary package. The `@biomejs/biome`
// wrapper is not used: its optional per-platform packages are not all on the npm registry this project installs
// from, which leaves package-lock.json unusable for `npm ci`. On other platforms, `npm i -D @biomejs/biome`.
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { createRequire } from "node:module";
import { dirname, join } from "node:path";

const require = createRequire(import.meta.url);
const candidates = [`@biomejs/cli-${process.platform}-${process.arch}`, "@biomejs/biome"];
let binary;
for (const pkg of candidates) {
  try {
    const dir = dirname(require.resolve(`${pkg}/package.json`));
    for (const name of ["biome", "bin/biome"]) if (existsSync(join(dir, name))) binary ??= join(dir, name);
  } catch {
    // not installed for this platform
  }
}
if (!binary) {
  console.error(`biome: no binary for ${process.platform}-${process.arch}; run \`npm i -D @biomejs/biome\``);
  process.exit(2);
}
const result = spawnSync(binary, process.argv.slice(2), { stdio: "inherit" });
process.exit(result.status ?? 1);
