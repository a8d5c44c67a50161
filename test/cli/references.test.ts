import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { runCli } from "../helpers/cli.js";

let base: string;
let agent: string;
const env = (): NodeJS.ProcessEnv => ({
  HOME: join(base, "home"),
  AGENTRC_STORE: join(base, "store"),
  AGENTRC_CACHE: join(base, "cache"),
});
const json = async (args: string[]) => {
  const r = await runCli([...args, "--json"], { env: env() });
  assert.equal(r.code, 0, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout);
};

after(() => (base ? rm(base, { recursive: true, force: true }) : undefined));

/** A scaffolded agent in a fresh directory, once per test file. */
let ready: Promise<void> | undefined;
const setup = () =>
  (ready ??= (async () => {
    base = await mkdtemp(join(tmpdir(), "agentrc-refs-"));
    agent = join(base, "agent");
    assert.equal((await runCli(["init", agent, "--quiet"])).code, 0);
  })());

describe("agentrc lock says whether it wrote the lock", () => {
  it("wrote it (created, then updated) or found it current", async () => {
    await setup();
    const first = await runCli(["lock", agent, "--no-color"], { env: env() });
    assert.equal(first.code, 0, first.stderr);
    assert.match(first.stderr, /✔ wrote .*agentrc\.lock \(created\)\n$/);
    const again = await runCli(["lock", agent, "--no-color"], { env: env() });
    assert.match(again.stderr, /✔ .*agentrc\.lock is up to date \(not written\)\n$/);
    const lockPath = join(agent, "agentrc.lock");
    const lock = JSON.parse(await readFile(lockPath, "utf8"));
    await writeFile(lockPath, JSON.stringify({ ...lock, agentfile_hash: `sha256:${"0".repeat(64)}` }));
    const updated = await runCli(["lock", agent, "--json"], { env: env() });
    assert.equal(JSON.parse(updated.stdout).lockfileStatus, "updated");
    await writeFile(lockPath, JSON.stringify({ ...lock, agentfile_hash: `sha256:${"0".repeat(64)}` }));
    const frozen = await runCli(["lock", agent, "--frozen-lockfile", "--json"], { env: env() });
    assert.equal(frozen.code, 1);
    assert.equal(JSON.parse(frozen.stdout).lockfileStatus, "stale");
  });
});

describe("references in the local store", () => {
  let digest: string;
  before(async () => {
    await setup();
    digest = (await json(["build", agent, "-t", "localhost:5999/refs/agent:1.0"])).digest;
  });

  it("tag normalises the target as docker does", async () => {
    const cases: Array<[string, string]> = [
      ["busybox", "docker.io/library/busybox:latest"],
      ["acme/reviewer:2", "docker.io/acme/reviewer:2"],
      ["index.docker.io/library/alpine:3", "docker.io/library/alpine:3"],
      ["localhost:5999/refs/other", "localhost:5999/refs/other:latest"],
      ["oci://localhost:5999/refs/agent:stable", "localhost:5999/refs/agent:stable"],
    ];
    for (const [target, normalised] of cases) {
      const out = await json(["tag", "localhost:5999/refs/agent:1.0", target]);
      assert.deepEqual([out.target, out.digest], [normalised, digest], target);
    }
    const refs = (await json(["list"])).packages.map((p: { ref: string }) => p.ref);
    for (const [, normalised] of cases) assert.ok(refs.includes(normalised), `${normalised} in ${refs}`);
    // A normalised tag is found again by any spelling of it.
    assert.equal((await json(["inspect", "busybox"])).descriptor.digest, digest);
  });

  it("tag and inspect accept oci:// wherever they accept a reference", async () => {
    const out = await json([
      "tag",
      "oci://localhost:5999/refs/agent:1.0",
      "oci://localhost:5999/refs/agent:oci",
    ]);
    assert.deepEqual([out.target, out.digest], ["localhost:5999/refs/agent:oci", digest]);
    const inspected = await json(["inspect", "oci://localhost:5999/refs/agent:oci"]);
    assert.equal(inspected.descriptor.digest, digest);
    const byDigest = await json(["inspect", `oci://localhost:5999/refs/agent@${digest}`]);
    assert.equal(byDigest.descriptor.digest, digest);
  });

  it("tag rejects a target that is not a tag reference, and a source that is not in the store", async () => {
    const r = await runCli(["tag", "localhost:5999/refs/agent:1.0", "Bad Name", "--json"], { env: env() });
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout);
    assert.equal(out.error.code, "REFERENCE_INVALID");
    assert.match(out.error.message, /"Bad Name" contains whitespace/);
    const missing = await runCli(["tag", "localhost:5999/refs/nothing:1", "x", "--json"], { env: env() });
    assert.equal(missing.code, 1);
    assert.equal(JSON.parse(missing.stdout).error.code, "OCI_REF_NOT_FOUND");
    const byDigest = await runCli(
      ["tag", "localhost:5999/refs/agent:1.0", `busybox@sha256:${"a".repeat(64)}`],
      {
        env: env(),
      },
    );
    assert.equal(byDigest.code, 1);
    assert.match(byDigest.stderr, /REFERENCE_INVALID cannot tag with a digest reference "busybox@sha256:a+"/);
  });
});
