/**
 * The bench case "fresh machine from shared cache" (docs/cache.md): one build writes the shared build cache to a
 * local docker-registry (`--cache-to`), then a build on a fresh machine (empty cache directory and store) reads it
 * (`--cache-from`); its time is compared with the cold build's (target ≤ 10 %). `npm run bench` runs it on the bench
 * agent; `node --import tsx bench/sharedCache.ts` runs it alone on a small generated agent (BENCH_MB, default 8) as
 * a smoke test, against a cold build of the same agent.
 */
import { spawnSync } from "node:child_process";
import { mkdir, rm } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startRegistry } from "../test/helpers/registry.js";

const CHILD = fileURLToPath(new URL("./build-child.mjs", import.meta.url));

export interface ChildBuild {
  ms: number;
  digest: string;
  layers: number;
  cached: number;
  timings: Record<string, number>;
}

function childBuild(
  agent: string,
  output: string,
  cache: string,
  env: Record<string, string> = {},
): ChildBuild {
  const r = spawnSync(process.execPath, [CHILD, agent, output, cache], {
    encoding: "utf8",
    maxBuffer: 1 << 24,
    env: { ...process.env, ...env },
  });
  if (r.status !== 0) throw new Error(`build of ${agent} failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as ChildBuild;
}

export interface SharedCacheResult {
  /** The build that wrote the cache (cold, plus the upload). */
  writer: ChildBuild;
  /** The fresh machine's build from the cache. */
  fresh: ChildBuild;
}

/** Writes the cache from one machine and builds on a fresh one; the package must be the cold build's. */
export async function benchSharedCache(
  agentDir: string,
  root: string,
  coldDigest: string,
): Promise<SharedCacheResult> {
  const registry = await startRegistry({ mode: "open" });
  try {
    const ref = `${registry.host}/bench/agent:buildcache`;
    const writer = childBuild(
      agentDir,
      `store:${join(root, "store-cache-writer")}`,
      join(root, "cache-writer"),
      {
        BENCH_CACHE_TO: ref,
      },
    );
    const fresh = childBuild(agentDir, `store:${join(root, "store-fresh")}`, join(root, "cache-fresh"), {
      BENCH_CACHE_FROM: ref,
    });
    for (const run of [writer, fresh]) {
      if (run.digest !== coldDigest)
        throw new Error(`shared cache build made ${run.digest}, cold ${coldDigest}`);
    }
    return { writer, fresh };
  } finally {
    await registry.stop();
    for (const d of ["store-cache-writer", "cache-writer", "store-fresh", "cache-fresh"]) {
      await rm(join(root, d), { recursive: true, force: true });
    }
  }
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { generateAgent } = await import("./generate.js");
  const root = fileURLToPath(new URL("./out-shared-cache/", import.meta.url));
  await rm(root, { recursive: true, force: true });
  await mkdir(root, { recursive: true });
  try {
    const agent = await generateAgent(
      join(root, "agent"),
      Number(process.env.BENCH_MB ?? 8),
      Number(process.env.BENCH_FILES ?? 200),
    );
    const cold = childBuild(agent.dir, `store:${join(root, "store-cold")}`, join(root, "cache-cold"));
    const { writer, fresh } = await benchSharedCache(agent.dir, root, cold.digest);
    console.log(
      JSON.stringify({
        agent: { files: agent.files, bytes: agent.bytes },
        coldMs: cold.ms,
        writerMs: writer.ms,
        freshMs: fresh.ms,
        freshVsCold: fresh.ms / cold.ms,
        freshCached: `${fresh.cached}/${fresh.layers}`,
        timings: { cold: cold.timings, fresh: fresh.timings },
      }),
    );
  } finally {
    await rm(root, { recursive: true, force: true });
  }
}
