// Runs one build in its own process, from the compiled package (as the CLI does: no TypeScript loader), and
// reports its wall time and peak RSS (the benchmark's unit of measure).
import { build } from "../dist/src/index.js";

// argv: <agent dir> <output layout | "store:<dir>"> <cache dir> [tag]; BENCH_CACHE_FROM / BENCH_CACHE_TO: a shared
// build cache on a registry to read or write (docs/cache.md).
const [dir, output, cacheDir, tag = "localhost/bench:1"] = process.argv.slice(2);
const target = output.startsWith("store:") ? { store: output.slice(6) } : { output };
const shared = {
  ...(process.env.BENCH_CACHE_FROM ? { cacheFrom: [process.env.BENCH_CACHE_FROM] } : {}),
  ...(process.env.BENCH_CACHE_TO ? { cacheTo: process.env.BENCH_CACHE_TO } : {}),
};
const start = performance.now();
const result = await build({ dir, cacheDir, config: { build: { tags: [tag], ...target, ...shared } } });
const ms = performance.now() - start;
if (result.errorCount > 0) {
  console.error(JSON.stringify(result.diagnostics.slice(0, 5), null, 2));
  process.exit(1);
}
const pkg = result.compilation.package;
console.log(
  JSON.stringify({
    ms,
    maxRssKiB: process.resourceUsage().maxRSS,
    digest: pkg.descriptor.digest,
    layers: pkg.layers.length,
    cached: pkg.layers.filter((l) => l.cached).length,
    bytes: pkg.layers.reduce((n, l) => n + l.descriptor.size, 0),
    timings: result.compilation.timings,
  }),
);
