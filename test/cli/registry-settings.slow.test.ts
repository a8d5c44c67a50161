import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { build, type LintResult } from "../../src/index.js";
import { runCli } from "../helpers/cli.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { testdir } from "../helpers/testdir.js";

const ok = (r: LintResult) =>
  assert.deepEqual(
    r.diagnostics.filter((d) => d.severity === "error"),
    [],
    JSON.stringify(r.diagnostics, null, 2),
  );

/**
 * The registry flags reach every plugin that talks to a registry, in every command: an agent whose FROM tag and
 * `SKILL oci://` live on a TLS registry with a private CA locks and builds with `--ca-file` (or the config file's
 * `registry.caFile`), and `--verbose` traces the plugins' requests.
 */
describe("registry settings reach the lock-time resolvers (TLS registry, private CA)", () => {
  let registry: TestRegistry;
  let root: string;
  let agent: string;
  let baseRef: string;
  let skillRef: string;
  let baseDigest: string;
  let skillDigest: string;

  /** Builds `files` and pushes them to `reference` through the library (the CA given as a run option). */
  const publish = async (reference: string, files: Record<string, string>): Promise<string> => {
    const dir = await testdir(files);
    const r = await build({
      dir,
      cacheDir: join(dir, ".cache"),
      registry: registry.clientOptions(),
      config: { build: { tags: [reference], output: join(dir, ".layout") } },
      push: {},
    });
    ok(r);
    return r.pushed![0]!.digest;
  };

  before(async () => {
    registry = await startRegistry({ mode: "tls" });
    // testdir() would be removed as soon as this hook ends: these directories live for the whole suite
    root = await mkdtemp(join(tmpdir(), "agentrc-registry-settings-"));
    baseRef = `${registry.host}/base/agent:1`;
    skillRef = `${registry.host}/skills/summarize:1`;
    baseDigest = await publish(baseRef, { Agentfile: "AGENT base\nAUDIT basic\n" });
    skillDigest = await publish(skillRef, {
      Agentfile: "AGENT summarize-skill\nSKILL summarize\nAUDIT basic\n",
      "skills/summarize/SKILL.md": "# Summarize\n",
    });
    agent = join(root, "agent");
    await mkdir(agent);
    await writeFile(
      join(agent, "Agentfile"),
      `AGENT app\nFROM ${baseRef}\nSKILL oci://${skillRef}\nAUDIT basic\n`,
    );
  });
  after(async () => {
    await registry?.stop();
    await rm(root, { recursive: true, force: true });
  });

  const env = (name: string) => ({
    HOME: join(root, "home"),
    XDG_CONFIG_HOME: join(root, "config"),
    AGENTRC_CACHE: join(root, `cache-${name}`),
    AGENTRC_STORE: join(root, `store-${name}`),
  });

  test("without the CA, lock cannot reach the registry; with --ca-file it pins FROM and the skill, traced", async () => {
    // FROM is opened (to inherit from the base) before the skills are fetched: both fail, each with its own code.
    const refused = await runCli(["lock", agent, "--json"], { env: env("no-ca") });
    assert.equal(refused.code, 1, refused.stderr);
    const diagnostics = (
      JSON.parse(refused.stdout) as { diagnostics: Array<{ code: string; message: string }> }
    ).diagnostics;
    assert.deepEqual(
      diagnostics.map((d) => d.code),
      ["BASE_RESOLVE_FAILED", "SKILL_RESOLVE_FAILED"],
    );
    for (const d of diagnostics) assert.match(d.message, /Client sent an HTTP request to an HTTPS server/);

    const locked = await runCli(["lock", agent, "--ca-file", registry.caFile!, "--verbose"], {
      env: env("lock"),
    });
    assert.equal(locked.code, 0, locked.stderr);
    const lock = JSON.parse(await readFile(join(agent, "agentrc.lock"), "utf8"));
    assert.deepEqual(lock.base_image, { ref: baseRef, digest: baseDigest });
    assert.deepEqual(
      lock.skills.map((s: { source: string; digest: string }) => [s.source, s.digest]),
      [[`oci://${skillRef}`, skillDigest]],
    );
    const origin = `https://${registry.host}`;
    assert.match(locked.stderr, new RegExp(`^HEAD ${origin}/v2/base/agent/manifests/1 -> 200`, "m"));
    assert.match(locked.stderr, new RegExp(`^HEAD ${origin}/v2/skills/summarize/manifests/1 -> 200`, "m"));
    assert.match(
      locked.stderr,
      new RegExp(`^GET ${origin}/v2/skills/summarize/blobs/sha256:[0-9a-f]{64} -> 200`, "m"),
    );
  });

  test("build resolves and fetches with --ca-file too (no lock, empty cache); --insecure is accepted by lock", async () => {
    await rm(join(agent, "agentrc.lock"), { force: true });
    const built = await runCli(
      ["build", agent, "--ca-file", registry.caFile!, "--verbose", "-o", join(root, "out"), "--json"],
      { env: env("build") },
    );
    assert.equal(built.code, 0, built.stderr);
    const out = JSON.parse(built.stdout) as { ok: boolean; annotations?: Record<string, string> };
    assert.equal(out.ok, true);
    const lock = JSON.parse(await readFile(join(agent, "agentrc.lock"), "utf8"));
    assert.equal(lock.base_image.digest, baseDigest);
    assert.equal(lock.skills[0].digest, skillDigest);
    assert.match(built.stderr, /^HEAD https:\/\/127\.0\.0\.1:\d+\/v2\/base\/agent\/manifests\/1 -> 200/m);

    await rm(join(agent, "agentrc.lock"));
    const insecure = await runCli(["lock", agent, "--insecure"], { env: env("insecure") });
    assert.equal(insecure.code, 0, insecure.stderr);
    assert.equal(
      JSON.parse(await readFile(join(agent, "agentrc.lock"), "utf8")).base_image.digest,
      baseDigest,
    );
  });

  test("the config file's registry.caFile (relative to the file) does the same without flags", async () => {
    await rm(join(agent, "agentrc.lock"), { force: true });
    const dir = await testdir({
      Agentfile: `AGENT app\nFROM ${baseRef}\nSKILL oci://${skillRef}\nAUDIT basic\n`,
      "agentrc.config.json": JSON.stringify({ registry: { caFile: "certs/ca.pem", concurrency: 2 } }),
      "certs/ca.pem": await readFile(registry.caFile!, "utf8"),
    });
    const locked = await runCli(["lock", dir], { env: env("config") });
    assert.equal(locked.code, 0, locked.stderr);
    assert.equal(JSON.parse(await readFile(join(dir, "agentrc.lock"), "utf8")).base_image.digest, baseDigest);

    const bad = await testdir({
      Agentfile: "AGENT app\nAUDIT basic\n",
      "agentrc.config.json": JSON.stringify({ registry: { concurrency: 0, tls: true } }),
    });
    const refused = await runCli(["lock", bad, "--json"], { env: env("bad-config") });
    assert.equal(refused.code, 1);
    assert.match(refused.stdout + refused.stderr, /CONFIG_INVALID/);
    assert.match(refused.stdout + refused.stderr, /registry/);
  });
});
