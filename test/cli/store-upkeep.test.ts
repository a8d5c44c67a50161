import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { appendFile, mkdir, readdir, readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { before, describe, it } from "node:test";
import { humanDuration, listFilter } from "../../src/cli/listFormat.js";
import { runCli } from "../helpers/cli.js";
import { testdir } from "../helpers/testdir.js";

interface Descriptor {
  digest: string;
  size: number;
}

/** Bytes of every blob file in a layout. */
async function blobBytes(layout: string): Promise<number> {
  const dir = join(layout, "blobs", "sha256");
  let total = 0;
  for (const name of await readdir(dir)) total += (await stat(join(dir, name))).size;
  return total;
}

/** What index.json's entries reference (manifest, config, layers), each blob once — read without agentrc. */
async function referencedBytes(layout: string): Promise<number> {
  const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8")) as { manifests: Descriptor[] };
  const sizes = new Map<string, number>();
  for (const entry of index.manifests) {
    sizes.set(entry.digest, entry.size);
    const manifest = JSON.parse(
      await readFile(join(layout, "blobs", "sha256", entry.digest.slice(7)), "utf8"),
    ) as { config: Descriptor; layers: Descriptor[] };
    for (const d of [manifest.config, ...manifest.layers]) sizes.set(d.digest, d.size);
  }
  return [...sizes.values()].reduce((a, b) => a + b, 0);
}

const base = await testdir();

describe("store upkeep: rm, prune, list", () => {
  let agent: string;
  let env: NodeJS.ProcessEnv;
  const cli = (args: string[]) => runCli(args, { env, cwd: base });
  const json = async (args: string[], code = 0) => {
    const r = await cli([...args, "--json"]);
    assert.equal(r.code, code, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  const writeData = () => writeFile(join(agent, "data", "big.bin"), randomBytes(3 * 1024 * 1024));

  before(async () => {
    agent = join(base, "agent");
    env = {
      PATH: process.env.PATH,
      HOME: join(base, "home"),
      AGENTRC_STORE: join(base, "store"),
      AGENTRC_CACHE: join(base, "cache"),
    };
    assert.equal((await cli(["init", agent])).code, 0);
    await appendFile(join(agent, "Agentfile"), "\nINGEST data/*.bin\n");
    await mkdir(join(agent, "data"));
  });

  it("prune after rebuilds of a changed data file returns the store to the size of what is tagged", async () => {
    await writeData();
    assert.equal((await json(["build", agent, "-t", "localhost/acme/agent:1"])).ok, true);
    const first = await blobBytes(env.AGENTRC_STORE!);
    for (let i = 0; i < 3; i++) {
      await writeData();
      assert.equal((await json(["build", agent, "-t", "localhost/acme/agent:1"])).ok, true);
    }
    const grown = await blobBytes(env.AGENTRC_STORE!);
    assert.ok(grown > first + 3 * 3 * 1024 * 1024, `the store grew with every rebuild (${first} → ${grown})`);
    const cacheBefore = await blobBytes(join(env.AGENTRC_CACHE!, "blobs"));

    const pruned = await json(["prune"]);
    const tagged = await referencedBytes(env.AGENTRC_STORE!);
    assert.equal(await blobBytes(env.AGENTRC_STORE!), tagged, "the store holds exactly what is tagged");
    assert.equal(pruned.store.keptBytes, tagged);
    assert.equal(pruned.store.bytes, grown - tagged, "the bytes reported are the bytes freed");
    assert.equal(pruned.reclaimed, pruned.store.bytes + pruned.cache.bytes);
    // The cache keeps every packed data layer (each is a layer index entry) until --all.
    assert.equal(pruned.cache.entries, 0);
    assert.ok(pruned.cache.bytes < 64 * 1024, "the cache only lost small per-build blobs");
    const all = await json(["prune", "--all"]);
    assert.ok(all.cache.entries >= 4, `every layer entry dropped (${all.cache.entries})`);
    assert.equal(all.cache.bytes, cacheBefore - pruned.cache.bytes);
    assert.equal(await blobBytes(join(env.AGENTRC_CACHE!, "blobs")), 0);

    // The package is still complete: a build against the pruned cache and store gives the same digest.
    const listed = await json(["list"]);
    const rebuilt = await json(["build", agent, "-t", "localhost/acme/agent:1"]);
    assert.equal(rebuilt.digest, listed.packages[0].digest);

    const human = await cli(["prune"]);
    assert.equal(human.code, 0);
    assert.match(human.stdout, /^store .*: deleted 0 blobs, 0 B$/m);
    assert.match(human.stdout, /^Total reclaimed space: [\d.]+ (B|KiB)$/m);
  });

  it("rm untags several references, fails on a missing one without removing anything", async () => {
    await json(["tag", "localhost/acme/agent:1", "localhost/acme/agent:2"]);
    await json(["tag", "localhost/acme/agent:1", "localhost/other/agent:1"]);
    const missing = await json(["rm", "localhost/acme/agent:2", "localhost/acme/nope:1"], 1);
    assert.equal(missing.error.code, "OCI_REF_NOT_FOUND");
    assert.match(
      missing.error.message,
      /^"localhost\/acme\/nope:1" is not in the local store \(.*\); nothing was removed\.$/,
    );
    assert.equal((await json(["list"])).packages.length, 3);

    const human = await cli(["rm", "localhost/acme/nope:1"]);
    assert.equal(human.code, 1);
    assert.match(human.stderr, /OCI_REF_NOT_FOUND/);
    assert.match(human.stderr, /Check the names with `agentrc list`/);

    const removed = await json(["rm", "localhost/acme/agent:2", "oci://localhost/other/agent:1"]);
    assert.deepEqual(
      removed.removed.map((r: { request: string; ref: string }) => [r.request, r.ref]),
      [
        ["localhost/acme/agent:2", "localhost/acme/agent:2"],
        ["oci://localhost/other/agent:1", "localhost/other/agent:1"],
      ],
    );
    assert.deepEqual(
      (await json(["list"])).packages.map((p: { ref: string }) => p.ref),
      ["localhost/acme/agent:1"],
    );
    const usage = await json(["rm"], 2);
    assert.equal(usage.error.code, "USAGE");
  });

  it("list filters by repository, prints digests with -q, renders --format, shows CREATED", async () => {
    await json(["tag", "localhost/acme/agent:1", "localhost/acme/second:1"]);
    await json(["tag", "localhost/acme/agent:1", "docker.io/library/busybox:latest"]);
    await writeData();
    // The packer reads SOURCE_DATE_EPOCH from the command's environment.
    const r = await runCli(["build", agent, "-t", "localhost/dated/agent:1", "--json"], {
      env: { ...env, SOURCE_DATE_EPOCH: "1700000000" },
      cwd: base,
    });
    assert.equal(r.code, 0, r.stdout);
    const datedDigest = JSON.parse(r.stdout).digest;

    const refs = async (args: string[]) =>
      (await json(["list", ...args])).packages.map((p: { ref: string }) => p.ref);
    assert.deepEqual(await refs(["localhost/acme/*"]), ["localhost/acme/agent:1", "localhost/acme/second:1"]);
    assert.deepEqual(await refs(["localhost/acme/agent"]), ["localhost/acme/agent:1"]);
    assert.deepEqual(await refs(["localhost/*/agent:1"]), [
      "localhost/acme/agent:1",
      "localhost/dated/agent:1",
    ]);
    assert.deepEqual(
      await refs(["busybox"]),
      ["docker.io/library/busybox:latest"],
      "normalised as docker does",
    );
    assert.deepEqual(await refs(["localhost/acme/agent:2"]), []);

    const all = (await json(["list"])).packages;
    const dated1 = all.find((p: { ref: string }) => p.ref === "localhost/dated/agent:1");
    assert.deepEqual([dated1.repository, dated1.tag], ["localhost/dated/agent", "1"]);
    assert.equal(dated1.created, "2023-11-14T22:13:20Z");
    assert.equal(all.find((p: { ref: string }) => p.ref === "localhost/acme/agent:1").created, null);

    const quiet = await cli(["list", "-q"]);
    const digests = [...new Set(all.map((p: { digest: string }) => p.digest))];
    assert.deepEqual(quiet.stdout.trim().split("\n"), digests, "each package once");
    assert.equal(digests.length, 2);
    assert.ok(digests.includes(datedDigest));

    const formatted = await cli([
      "list",
      "localhost/dated/*",
      "--format",
      "{{.Repository}}:{{.Tag}} {{.Digest}}\\t{{.CreatedAt}}",
    ]);
    assert.equal(formatted.stdout, `localhost/dated/agent:1 ${datedDigest}\t2023-11-14T22:13:20Z\n`);

    const table = await cli(["list"]);
    assert.match(table.stdout, /^REFERENCE +DIGEST +CREATED +SIZE$/m);
    assert.match(
      table.stdout,
      /^localhost\/dated\/agent:1 +sha256:[a-f0-9]{12} +\d+ years ago +[\d.]+ MiB$/m,
    );
    assert.match(table.stdout, /^localhost\/acme\/agent:1 +sha256:[a-f0-9]{12} +N\/A +[\d.]+ MiB$/m);

    const unknown = await json(["list", "--format", "{{.Nope}}"], 2);
    assert.equal(unknown.error.code, "USAGE");
    assert.match(unknown.error.message, /--format: unknown field \{\{\.Nope\}\}; fields: \.Repository \.Tag/);
    const both = await json(["list", "--format", "{{.Tag}}"], 2);
    assert.match(both.error.message, /--format cannot be combined with --json or -q/);
  });
});

describe("list helpers", () => {
  it("filters: a repository matches its tags only, * stays inside a path component", () => {
    const f = listFilter("localhost/acme/*");
    assert.deepEqual(["localhost/acme/a:1", "localhost/acme/a/b:1", "localhost/acme:1", undefined].map(f), [
      true,
      false,
      false,
      false,
    ]);
    assert.equal(listFilter("localhost/acme/a")("localhost/acme/ab:1"), false);
    assert.equal(listFilter("localhost:5000/a")("localhost:5000/a:1"), true);
    assert.equal(listFilter("localhost:5000/a:1")("localhost:5000/a:1"), true);
    assert.equal(listFilter("localhost:5000/a:1")("localhost:5000/a:10"), false);
  });

  it("says how long ago as docker does", () => {
    const now = Date.parse("2026-01-10T00:00:00Z");
    const cases: Array<[string, string]> = [
      ["2026-01-10T00:00:00Z", "Less than a second ago"],
      ["2026-01-09T23:59:30Z", "30 seconds ago"],
      ["2026-01-09T23:59:00Z", "About a minute ago"],
      ["2026-01-09T23:00:00Z", "About an hour ago"],
      ["2026-01-09T00:00:00Z", "24 hours ago"],
      ["2026-01-05T00:00:00Z", "5 days ago"],
      ["2025-12-10T00:00:00Z", "4 weeks ago"],
      ["2025-06-10T00:00:00Z", "7 months ago"],
      ["2023-11-14T22:13:20Z", "2 years ago"],
      ["not a date", "not a date"],
    ];
    for (const [at, expected] of cases) assert.equal(humanDuration(at, now), expected, at);
  });
});
