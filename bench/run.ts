/**
 * `npm run bench`: generates a large synthetic agent and measures, in one run, every ratio of the speed targets:
 *  - cold build (fresh cache and store) against `tar --sort=name … | pigz -n | sha256sum` and `… | gzip -n | …`
 *    over the same files (ratio ≤ 1.0 against pigz);
 *  - warm rebuild with nothing changed (≤ 3 % of cold) and with one data file changed (≤ 10 % of cold), into the
 *    same store and cache, as a developer rebuilds;
 *  - `agentrc lint fixtures/agents/full` against `node -e 0` (≤ 2× node + 150 ms; medians of BENCH_LINT_RUNS);
 *  - peak RSS of a cold build of a BENCH_RSS_MB (default 1024) MiB agent (≤ 200 MiB; 0 skips it);
 *  - push and pull to and from a local docker-registry against `skopeo copy` (each tool its own fresh registry), and
 *    a second push of the unchanged package;
 *  - a fresh machine (empty cache and store) building from the shared build cache another build wrote to a local
 *    registry (≤ 10 % of cold; bench/sharedCache.ts).
 * Size: BENCH_MB (default 300) MiB in BENCH_FILES (default 4000) files. Builds run from dist/ in child processes.
 * Output: a table, and every figure and ratio as JSON in bench/out/result.json.
 */
import { spawnSync } from "node:child_process";
import { appendFile, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { availableParallelism, cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startRegistry } from "../test/helpers/registry.js";
import { generateAgent } from "./generate.js";
import { benchSharedCache } from "./sharedCache.js";

const root = fileURLToPath(new URL("./out/", import.meta.url));
const megabytes = Number(process.env.BENCH_MB ?? 300);
const fileCount = Number(process.env.BENCH_FILES ?? 4000);
const rssMegabytes = Number(process.env.BENCH_RSS_MB ?? 1024);
const lintRuns = Number(process.env.BENCH_LINT_RUNS ?? 7);
const CLI = fileURLToPath(new URL("../dist/src/cli/index.js", import.meta.url));
const CHILD = fileURLToPath(new URL("./build-child.mjs", import.meta.url));
const FULL_AGENT = fileURLToPath(new URL("../fixtures/agents/full", import.meta.url));

function timeCommand(command: string, args: string[], env: NodeJS.ProcessEnv = process.env) {
  const start = performance.now();
  const r = spawnSync(command, args, { encoding: "utf8", maxBuffer: 1 << 24, env });
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${r.stderr}`);
  return { ms: performance.now() - start, stdout: r.stdout };
}

const timeShell = (command: string) => timeCommand("bash", ["-o", "pipefail", "-c", command]);

interface BuildRun {
  ms: number;
  maxRssKiB: number;
  digest: string;
  layers: number;
  cached: number;
  bytes: number;
  timings: Record<string, number>;
}

function ourBuild(agent: string, output: string, cache: string, tag?: string): BuildRun {
  const r = timeCommand(process.execPath, [CHILD, agent, output, cache, ...(tag ? [tag] : [])]);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as BuildRun;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  return sorted.length % 2 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

const tarOf = (dir: string) =>
  `LC_ALL=C tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C ${JSON.stringify(dir)} -cf - .`;

await rm(root, { recursive: true, force: true });
await mkdir(root, { recursive: true });
const agentDir = join(root, "agent");
process.stderr.write(`generating ${fileCount} files, ${megabytes} MiB …\n`);
const agent = await generateAgent(agentDir, megabytes, fileCount);
const mib = agent.bytes / 1024 / 1024;

process.stderr.write("tar | pigz -n | sha256sum, tar | gzip -n | sha256sum …\n");
const pigz = timeShell(`${tarOf(agentDir)} | pigz -n | sha256sum`);
const gzip = timeShell(`${tarOf(agentDir)} | gzip -n | sha256sum`);

const store = join(root, "store");
const cache = join(root, "cache");
process.stderr.write("agentrc build, cold …\n");
const cold = ourBuild(agentDir, `store:${store}`, cache);
process.stderr.write("agentrc build, warm (nothing changed) …\n");
const warm = ourBuild(agentDir, `store:${store}`, cache);
if (warm.digest !== cold.digest)
  throw new Error(`warm rebuild changed the digest: ${cold.digest} → ${warm.digest}`);
process.stderr.write("agentrc build, one data file changed …\n");
const changedFile = join(agentDir, "data/corpus/07/doc-000007.md");
await appendFile(changedFile, "\none more line\n");
const oneChanged = ourBuild(agentDir, `store:${store}`, cache);
if (oneChanged.digest === cold.digest) throw new Error("changing a file did not change the digest");
await writeFile(changedFile, (await readFile(changedFile, "utf8")).replace(/\none more line\n$/, ""));

process.stderr.write("agentrc lint fixtures/agents/full, node -e 0 …\n");
const lintCache = join(root, "lint-cache");
const lintEnv = { ...process.env, AGENTRC_CACHE: lintCache };
timeCommand(process.execPath, [CLI, "lint", FULL_AGENT], lintEnv);
const lintMs = median(
  Array.from(
    { length: lintRuns },
    () => timeCommand(process.execPath, [CLI, "lint", FULL_AGENT], lintEnv).ms,
  ),
);
const nodeMs = median(Array.from({ length: lintRuns }, () => timeCommand(process.execPath, ["-e", "0"]).ms));

let rss: { megabytes: number; files: number; maxRssKiB: number; ms: number } | undefined;
if (rssMegabytes > 0) {
  process.stderr.write(`peak RSS: generating and building a ${rssMegabytes} MiB agent …\n`);
  const big = await generateAgent(join(root, "agent-rss"), rssMegabytes, fileCount);
  const run = ourBuild(big.dir, `store:${join(root, "store-rss")}`, join(root, "cache-rss"));
  rss = { megabytes: big.bytes / 1024 / 1024, files: big.files, maxRssKiB: run.maxRssKiB, ms: run.ms };
  await rm(big.dir, { recursive: true, force: true });
  await rm(join(root, "store-rss"), { recursive: true, force: true });
  await rm(join(root, "cache-rss"), { recursive: true, force: true });
}

process.stderr.write("push and pull against skopeo copy …\n");
const layout = join(root, "layout");
ourBuild(agentDir, layout, cache);
const ours = await startRegistry({ mode: "open" });
const theirs = await startRegistry({ mode: "open" });
let transfer: Record<string, number>;
try {
  const ref = `${ours.host}/bench/agent:1`;
  const pushStore = join(root, "store-push");
  ourBuild(agentDir, `store:${pushStore}`, cache, ref);
  const push = timeCommand(process.execPath, [CLI, "push", ref, "--store", pushStore, "--json"]);
  const pushed = JSON.parse(push.stdout) as { digest: string; blobs: Array<{ status: string }> };
  if (pushed.digest !== cold.digest) throw new Error(`pushed ${pushed.digest}, built ${cold.digest}`);
  const again = timeCommand(process.execPath, [CLI, "push", ref, "--store", pushStore, "--json"]);
  const againBlobs = (JSON.parse(again.stdout) as { blobs: Array<{ status: string }> }).blobs;
  const skopeoPush = timeCommand("skopeo", [
    "copy",
    "--quiet",
    "--dest-tls-verify=false",
    `oci:${layout}:1`,
    `docker://${theirs.host}/bench/agent:1`,
  ]);
  const pull = timeCommand(process.execPath, [
    CLI,
    "pull",
    ref,
    "--store",
    join(root, "store-pulled"),
    "--json",
  ]);
  if ((JSON.parse(pull.stdout) as { digest: string }).digest !== cold.digest)
    throw new Error("pulled digest differs");
  const skopeoPull = timeCommand("skopeo", [
    "copy",
    "--quiet",
    "--src-tls-verify=false",
    `docker://${theirs.host}/bench/agent:1`,
    `oci:${join(root, "skopeo-pulled")}:1`,
  ]);
  transfer = {
    pushMs: push.ms,
    skopeoPushMs: skopeoPush.ms,
    pushAgainMs: again.ms,
    pushAgainExisting: againBlobs.filter((b) => b.status === "exists").length,
    pushAgainBlobs: againBlobs.length,
    pullMs: pull.ms,
    skopeoPullMs: skopeoPull.ms,
  };
} finally {
  await ours.stop();
  await theirs.stop();
}

process.stderr.write("agentrc build on a fresh machine from the shared build cache …\n");
const shared = await benchSharedCache(agentDir, root, cold.digest);

// verify reads every blob once: hashing, gunzip and tar parsing of every layer, the file index compared.
process.stderr.write("agentrc verify …\n");
const verifyRun = timeCommand(process.execPath, [
  CLI,
  "verify",
  "localhost/bench:1",
  "--store",
  store,
  "--json",
]);
if ((JSON.parse(verifyRun.stdout) as { ok: boolean }).ok !== true)
  throw new Error("verify failed on the built package");

// Cedar work must stay linear in the number of rules: 30,000 ALLOW lines, 10,000 of them distinct. A fresh cache,
// so that the verdict is computed, not read.
const policyAgent = join(root, "policy-agent");
await mkdir(policyAgent, { recursive: true });
const rules = Array.from({ length: 30_000 }, (_, i) => `ALLOW invoke utcp:t${i % 10_000}`);
await writeFile(join(policyAgent, "Agentfile"), `AGENT policy\nAUDIT basic\n${rules.join("\n")}\n`);
const policyLint = timeCommand(process.execPath, [CLI, "lint", policyAgent, "--quiet"], {
  ...process.env,
  AGENTRC_CACHE: join(root, "policy-cache"),
});

const lintBudgetMs = 2 * nodeMs + 150;
/** Each ratio with its target (lower is better; a ratio ≤ its target meets it). */
const ratios = {
  coldVsPigz: { value: cold.ms / pigz.ms, target: 1.0 },
  coldVsGzip: { value: cold.ms / gzip.ms, target: null },
  warmVsCold: { value: warm.ms / cold.ms, target: 0.03 },
  oneChangedVsCold: { value: oneChanged.ms / cold.ms, target: 0.1 },
  freshFromSharedCacheVsCold: { value: shared.fresh.ms / cold.ms, target: 0.1 },
  lintVsBudget: { value: lintMs / lintBudgetMs, target: 1.0 },
  rssMiBPer200: rss ? { value: rss.maxRssKiB / 1024 / 200, target: 1.0 } : null,
  pushVsSkopeo: { value: transfer.pushMs! / transfer.skopeoPushMs!, target: 0.8 },
  pullVsSkopeo: { value: transfer.pullMs! / transfer.skopeoPullMs!, target: 1 },
};

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const rate = (ms: number) => `${(mib / (ms / 1000)).toFixed(0)} MiB/s`;
const pct = (x: number) => `${(x * 100).toFixed(1)} %`;
const meets = (r: { value: number; target: number | null } | null) =>
  r?.target == null ? "" : r.value <= r.target ? " (target met)" : " (target missed)";
const rows: Array<[string, string, string]> = [
  [
    "input",
    `${agent.files} files, ${mib.toFixed(0)} MiB`,
    `${cpus().length} CPUs (${availableParallelism()} available), Node ${process.version}`,
  ],
  ["tar --sort=name | pigz -n | sha256sum", s(pigz.ms), rate(pigz.ms)],
  ["tar --sort=name | gzip -n | sha256sum", s(gzip.ms), rate(gzip.ms)],
  [
    "agentrc build, cold",
    s(cold.ms),
    `${rate(cold.ms)}; check ${s(cold.timings.check ?? 0)}, pack ${s(cold.timings.pack ?? 0)}`,
  ],
  ["ratio cold / pigz", ratios.coldVsPigz.value.toFixed(2), `target ≤ 1.00${meets(ratios.coldVsPigz)}`],
  ["ratio cold / gzip", ratios.coldVsGzip.value.toFixed(2), ""],
  ["agentrc build, warm (nothing changed)", s(warm.ms), `${warm.cached}/${warm.layers} layers from cache`],
  ["ratio warm / cold", pct(ratios.warmVsCold.value), `target ≤ 3 %${meets(ratios.warmVsCold)}`],
  [
    "agentrc build, one data file changed",
    s(oneChanged.ms),
    `${oneChanged.cached}/${oneChanged.layers} layers from cache`,
  ],
  [
    "ratio one changed / cold",
    pct(ratios.oneChangedVsCold.value),
    `target ≤ 10 %${meets(ratios.oneChangedVsCold)}`,
  ],
  [
    "agentrc build, fresh machine from shared cache",
    s(shared.fresh.ms),
    `${shared.fresh.cached}/${shared.fresh.layers} layers from cache; writing it took ${s(shared.writer.ms)}`,
  ],
  [
    "ratio fresh from shared cache / cold",
    pct(ratios.freshFromSharedCacheVsCold.value),
    `target ≤ 10 %${meets(ratios.freshFromSharedCacheVsCold)}`,
  ],
  [
    "agentrc lint fixtures/agents/full",
    s(lintMs),
    `node -e 0 ${s(nodeMs)}; budget 2× + 150 ms = ${s(lintBudgetMs)}`,
  ],
  ["ratio lint / budget", ratios.lintVsBudget.value.toFixed(2), `target ≤ 1.00${meets(ratios.lintVsBudget)}`],
  [
    "peak RSS, cold build",
    `${(cold.maxRssKiB / 1024).toFixed(0)} MiB`,
    `${mib.toFixed(0)} MiB agent, ${cold.layers} layers, ${(cold.bytes / 1024 / 1024).toFixed(0)} MiB packed`,
  ],
  ...(rss
    ? ([
        [
          "peak RSS, cold build (large agent)",
          `${(rss.maxRssKiB / 1024).toFixed(0)} MiB`,
          `${rss.megabytes.toFixed(0)} MiB agent in ${s(rss.ms)}; target ≤ 200 MiB${meets(ratios.rssMiBPer200)}`,
        ],
      ] as Array<[string, string, string]>)
    : []),
  [
    "agentrc push (local registry)",
    s(transfer.pushMs!),
    `skopeo copy oci: → docker:// ${s(transfer.skopeoPushMs!)}`,
  ],
  ["ratio push / skopeo", ratios.pushVsSkopeo.value.toFixed(2), `target ≤ 0.80${meets(ratios.pushVsSkopeo)}`],
  [
    "agentrc push again (unchanged)",
    s(transfer.pushAgainMs!),
    `${transfer.pushAgainExisting}/${transfer.pushAgainBlobs} blobs already there`,
  ],
  [
    "agentrc pull (into an empty store)",
    s(transfer.pullMs!),
    `skopeo copy docker:// → oci: ${s(transfer.skopeoPullMs!)}`,
  ],
  ["ratio pull / skopeo", ratios.pullVsSkopeo.value.toFixed(2), `target ≤ 1.00${meets(ratios.pullVsSkopeo)}`],
  ["agentrc verify (every blob, file index)", s(verifyRun.ms), rate(verifyRun.ms)],
  ["agentrc lint, 30,000 ALLOW lines", s(policyLint.ms), "10,000 distinct rules, compiled to Cedar"],
];
const width = Math.max(...rows.map((r) => r[0].length));
console.log(rows.map(([a, b, c]) => `${a.padEnd(width)}  ${b.padStart(22)}  ${c}`).join("\n"));
await writeFile(
  join(root, "result.json"),
  `${JSON.stringify(
    {
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, availableParallelism: availableParallelism(), node: process.version },
      agent,
      ratios,
      baselines: { pigzMs: pigz.ms, gzipMs: gzip.ms },
      builds: {
        cold,
        warm,
        oneChanged,
        sharedCacheWriter: shared.writer,
        freshFromSharedCache: shared.fresh,
      },
      lint: { ms: lintMs, nodeMs, budgetMs: lintBudgetMs, runs: lintRuns },
      rss: rss ?? null,
      transfer,
      policyLintMs: policyLint.ms,
    },
    null,
    2,
  )}
`,
);
await rm(agentDir, { recursive: true, force: true });
