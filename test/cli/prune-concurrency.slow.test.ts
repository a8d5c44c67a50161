import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { appendFile, mkdir, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { BIN, runCli } from "../helpers/cli.js";
import { testdir } from "../helpers/testdir.js";

const BUILDS = 8;

/** Every blob file hashes to its name, and every index entry's manifest, config and layers are present. */
async function assertComplete(store: string): Promise<string[]> {
  const dir = join(store, "blobs", "sha256");
  for (const name of await readdir(dir)) {
    const sum = createHash("sha256")
      .update(await readFile(join(dir, name)))
      .digest("hex");
    assert.equal(sum, name, `blob ${name} is complete`);
  }
  const present = new Set(await readdir(dir));
  const index = JSON.parse(await readFile(join(store, "index.json"), "utf8")) as {
    manifests: Array<{ digest: string; annotations?: Record<string, string> }>;
  };
  const refs: string[] = [];
  for (const entry of index.manifests) {
    const tag = entry.annotations?.["org.opencontainers.image.ref.name"];
    const ref = tag ?? entry.digest;
    // Untagged entries are referrers (each build's provenance): checked whole, not listed.
    if (tag !== undefined) refs.push(ref);
    assert.ok(present.has(entry.digest.slice(7)), `${ref}: manifest present`);
    const manifest = JSON.parse(await readFile(join(dir, entry.digest.slice(7)), "utf8")) as {
      config: { digest: string };
      layers: Array<{ digest: string }>;
    };
    for (const d of [manifest.config, ...manifest.layers]) {
      assert.ok(present.has(d.digest.slice(7)), `${ref}: blob ${d.digest} present`);
    }
  }
  return refs.sort();
}

test("prune --all run over and over while another process rebuilds never breaks the build or its package", async () => {
  const base = await testdir();
  const agent = join(base, "agent");
  const env = {
    PATH: process.env.PATH,
    HOME: join(base, "home"),
    AGENTRC_STORE: join(base, "store"),
    AGENTRC_CACHE: join(base, "cache"),
  };
  assert.equal((await runCli(["init", agent], { env })).code, 0);
  await appendFile(join(agent, "Agentfile"), "\nINGEST data/*.bin\n");
  await mkdir(join(agent, "data"));

  // The builder: a child process rebuilding with a new 6 MiB data file each time, so every rebuild leaves the
  // previous data layer unreferenced (prune has work) while its own new blobs are not indexed yet.
  const script = [
    "set -e",
    `for i in $(seq 1 ${BUILDS}); do`,
    "  head -c 6291456 /dev/urandom > data/big.bin",
    '  extra=""; if [ $((i % 3)) -eq 0 ]; then extra="-t localhost/race/agent:keep-$i"; fi',
    `  "${process.execPath}" "${BIN}" build . -q -t localhost/race/agent:latest $extra`,
    "done",
  ].join("\n");
  const builder = spawn("bash", ["-c", script], { cwd: agent, env, stdio: ["ignore", "pipe", "pipe"] });
  let output = "";
  builder.stdout.on("data", (c) => {
    output += c;
  });
  builder.stderr.on("data", (c) => {
    output += c;
  });
  const exited = new Promise<number | null>((resolve) => builder.on("close", resolve));
  let running = true;
  void exited.then(() => {
    running = false;
  });

  let prunes = 0;
  let storeDeleted = 0;
  let cacheDeleted = 0;
  while (running) {
    const r = await runCli(["prune", "--all", "--json"], { env });
    assert.equal(r.code, 0, r.stdout);
    const out = JSON.parse(r.stdout);
    prunes += 1;
    storeDeleted += out.store.deleted;
    cacheDeleted += out.cache.deleted;
  }
  assert.equal(await exited, 0, `every build succeeded:\n${output}`);
  assert.ok(prunes >= BUILDS, `prune ran ${prunes} times during ${BUILDS} builds`);
  assert.ok(
    storeDeleted > 0 && cacheDeleted > 0,
    `prune deleted blobs meanwhile (${storeDeleted}, ${cacheDeleted})`,
  );

  assert.deepEqual(await assertComplete(env.AGENTRC_STORE), [
    "localhost/race/agent:keep-3",
    "localhost/race/agent:keep-6",
    "localhost/race/agent:latest",
  ]);
  // The packages are whole as agentrc reads them too: inspect reads manifest and config of each.
  for (const ref of ["localhost/race/agent:keep-3", "localhost/race/agent:latest"]) {
    const inspected = await runCli(["inspect", ref, "--json"], { env });
    assert.equal(inspected.code, 0, inspected.stdout);
  }
  const leases = await readdir(join(env.AGENTRC_STORE, "leases"));
  assert.deepEqual(leases, [], "every build released its lease");
});
