/**
 * `npm run bench`: generates a large synthetic agent and measures, in one run:
 *  - push and pull of the package to and from a local docker-registry, against `skopeo copy` of the same package
 *    (each tool gets its own fresh registry), and a second push of the unchanged package;
 *  - agentrc's cold pack (build into a standalone layout, fresh cache) against
 *    `tar --sort=name --owner=0 --group=0 --mtime=@0 | gzip -n | sha256sum` over the same files;
 *  - agentrc's peak RSS;
 *  - a warm rebuild with nothing changed (layers reused from the cache).
 * Size: BENCH_MB (default 300) MiB in BENCH_FILES (default 4000) files. Output: a table, and JSON in bench/out/result.json.
 */
import { spawnSync } from "node:child_process";
import { mkdir, rm, writeFile } from "node:fs/promises";
import { cpus } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { startRegistry } from "../test/helpers/registry.js";
import { generateAgent } from "./generate.js";

const root = fileURLToPath(new URL("./out/", import.meta.url));
const megabytes = Number(process.env.BENCH_MB ?? 300);
const fileCount = Number(process.env.BENCH_FILES ?? 4000);

function timeShell(command: string): { ms: number; stdout: string } {
  const start = performance.now();
  const r = spawnSync("bash", ["-o", "pipefail", "-c", command], { encoding: "utf8", maxBuffer: 1 << 20 });
  if (r.status !== 0) throw new Error(`${command} failed: ${r.stderr}`);
  return { ms: performance.now() - start, stdout: r.stdout };
}

const CLI = fileURLToPath(new URL("../dist/src/cli/index.js", import.meta.url));

function timeCommand(command: string, args: string[]): { ms: number; stdout: string } {
  const start = performance.now();
  const r = spawnSync(command, args, { encoding: "utf8", maxBuffer: 1 << 24 });
  if (r.status !== 0) throw new Error(`${command} ${args.join(" ")} failed: ${r.stderr}`);
  return { ms: performance.now() - start, stdout: r.stdout };
}

function ourBuild(agent: string, output: string, cache: string, tag?: string) {
  const r = spawnSync(
    process.execPath,
    [
      "--import",
      "tsx",
      fileURLToPath(new URL("./build-child.ts", import.meta.url)),
      agent,
      output,
      cache,
      ...(tag ? [tag] : []),
    ],
    {
      encoding: "utf8",
    },
  );
  if (r.status !== 0) throw new Error(`agentrc build failed: ${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as {
    ms: number;
    maxRssKiB: number;
    digest: string;
    layers: number;
    cached: number;
    bytes: number;
    timings: Record<string, number>;
  };
}

await rm(root, { recursive: true, force: true });
await mkdir(root, { recursive: true });
const agentDir = join(root, "agent");
process.stderr.write(`generating ${fileCount} files, ${megabytes} MiB …\n`);
const agent = await generateAgent(agentDir, megabytes, fileCount);
const mib = agent.bytes / 1024 / 1024;

process.stderr.write("tar | gzip -n | sha256sum …\n");
const baseline = timeShell(
  `LC_ALL=C tar --sort=name --owner=0 --group=0 --numeric-owner --mtime=@0 -C ${JSON.stringify(agentDir)} -cf - . | gzip -n | sha256sum`,
);
process.stderr.write("agentrc build (cold) …\n");
const cold = ourBuild(agentDir, join(root, "layout-cold"), join(root, "cache"));
process.stderr.write("agentrc build (warm, nothing changed) …\n");
const warm = ourBuild(agentDir, join(root, "layout-warm"), join(root, "cache"));
if (warm.digest !== cold.digest)
  throw new Error(`warm rebuild changed the digest: ${cold.digest} → ${warm.digest}`);

process.stderr.write("push and pull against skopeo copy …\n");
const ours = await startRegistry({ mode: "open" });
const theirs = await startRegistry({ mode: "open" });
let transfer: Record<string, number>;
try {
  const ref = `${ours.host}/bench/agent:1`;
  const store = join(root, "store");
  ourBuild(agentDir, `store:${store}`, join(root, "cache"), ref);
  const push = timeCommand(process.execPath, [CLI, "push", ref, "--store", store, "--json"]);
  const pushed = JSON.parse(push.stdout) as { digest: string; blobs: Array<{ status: string }> };
  if (pushed.digest !== cold.digest) throw new Error(`pushed ${pushed.digest}, built ${cold.digest}`);
  const again = timeCommand(process.execPath, [CLI, "push", ref, "--store", store, "--json"]);
  const againBlobs = (JSON.parse(again.stdout) as { blobs: Array<{ status: string }> }).blobs;
  const skopeoPush = timeCommand("skopeo", [
    "copy",
    "--quiet",
    "--dest-tls-verify=false",
    `oci:${join(root, "layout-cold")}:1`,
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

// verify reads every blob once: hashing, gunzip and tar parsing of every layer, the file index compared.
process.stderr.write("agentrc verify …\n");
const verifyRun = timeCommand(process.execPath, [CLI, "verify", join(root, "layout-cold"), "--json"]);
if ((JSON.parse(verifyRun.stdout) as { ok: boolean }).ok !== true)
  throw new Error("verify failed on the built package");

// Cedar work must stay linear in the number of rules: 30,000 ALLOW lines, 10,000 of them distinct.
const policyAgent = join(root, "policy-agent");
await mkdir(policyAgent, { recursive: true });
const rules = Array.from({ length: 30_000 }, (_, i) => `ALLOW invoke utcp:t${i % 10_000}`);
await writeFile(join(policyAgent, "Agentfile"), `AGENT policy\nAUDIT basic\n${rules.join("\n")}\n`);
const policyLint = timeCommand(process.execPath, [CLI, "lint", policyAgent, "--quiet"]);

const s = (ms: number) => `${(ms / 1000).toFixed(2)} s`;
const rate = (ms: number) => `${(mib / (ms / 1000)).toFixed(0)} MiB/s`;
const rows: Array<[string, string, string]> = [
  ["input", `${agent.files} files, ${mib.toFixed(0)} MiB`, `${cpus().length} CPUs, Node ${process.version}`],
  ["tar --sort=name | gzip -n | sha256sum", s(baseline.ms), rate(baseline.ms)],
  ["agentrc build, cold (pack)", s(cold.ms), `${rate(cold.ms)}; pack phase ${s(cold.timings.pack ?? 0)}`],
  ["ratio agentrc / tar+gzip", (cold.ms / baseline.ms).toFixed(2), "lower is better"],
  [
    "agentrc peak RSS (cold)",
    `${(cold.maxRssKiB / 1024).toFixed(0)} MiB`,
    `${cold.layers} layers, ${(cold.bytes / 1024 / 1024).toFixed(0)} MiB packed`,
  ],
  ["agentrc build, warm (nothing changed)", s(warm.ms), `${warm.cached}/${warm.layers} layers from cache`],
  [
    "agentrc push (local registry)",
    s(transfer.pushMs!),
    `skopeo copy oci: → docker:// ${s(transfer.skopeoPushMs!)}`,
  ],
  ["ratio push agentrc / skopeo", (transfer.pushMs! / transfer.skopeoPushMs!).toFixed(2), "lower is better"],
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
  ["ratio pull agentrc / skopeo", (transfer.pullMs! / transfer.skopeoPullMs!).toFixed(2), "lower is better"],
  ["agentrc verify (every blob, file index)", s(verifyRun.ms), rate(verifyRun.ms)],
  ["agentrc lint, 30,000 ALLOW lines", s(policyLint.ms), "10,000 distinct rules, compiled to Cedar"],
];
const width = Math.max(...rows.map((r) => r[0].length));
console.log(rows.map(([a, b, c]) => `${a.padEnd(width)}  ${b.padStart(22)}  ${c}`).join("\n"));
await writeFile(
  join(root, "result.json"),
  `${JSON.stringify({ agent, baseline, cold, warm, transfer, policyLintMs: policyLint.ms }, null, 2)}\n`,
);
