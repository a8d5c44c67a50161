import assert from "node:assert/strict";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { build, type LintResult } from "../../src/index.js";
import { runCli } from "../helpers/cli.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { testdir } from "../helpers/testdir.js";

const errors = (r: LintResult) => r.diagnostics.filter((d) => d.severity === "error");
const ok = (r: LintResult) => assert.deepEqual(errors(r), [], JSON.stringify(r.diagnostics, null, 2));
const OPTS = { plainHttp: true, env: {}, proxy: false } as const;

async function put(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(join(dir, rel, ".."), { recursive: true });
    await writeFile(join(dir, rel), text);
  }
}

describe("agentrc lock --update: only what is asked moves, builds never re-resolve", () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry({ mode: "open" });
  });
  after(() => registry?.stop());

  test("a re-pushed base moves with lock --update, nothing else does; pinned and cached builds work offline", async () => {
    const root = await testdir();
    const host = registry.host;
    const publish = async (name: string, ref: string, files: Record<string, string>) => {
      const dir = join(root, `${name}-${Math.random().toString(36).slice(2)}`);
      await put(dir, files);
      const r = await build({
        dir,
        cacheDir: join(root, "publish-cache"),
        config: { build: { tags: [ref], output: join(dir, ".layout") } },
        push: { references: [ref] },
        registry: OPTS,
      });
      ok(r);
      return r.pushed![0]!.digest;
    };
    const baseRef = `${host}/org/base:1`;
    const skillRef = `${host}/skills/review:1`;
    const toolsetRef = `${host}/toolsets/t:1`;
    const base1 = await publish("base", baseRef, { Agentfile: "AGENT base\nAUDIT basic\nLIMIT max 1\n" });
    const skill1 = await publish("skill", skillRef, {
      "SKILL.md": "---\nname: review\ndescription: Reviews.\n---\n",
    });
    const toolset1 = await publish("toolset", toolsetRef, {
      "toolset.json": JSON.stringify({ name: "t", tools: [{ ref: "utcp:echo" }] }),
    });
    const agent = join(root, "agent");
    await put(agent, {
      Agentfile: `AGENT app\nFROM ${baseRef}\nSKILL oci://${skillRef}\nTOOLSET oci://${toolsetRef}\nAUDIT basic\n`,
    });
    const env = { AGENTRC_CACHE: join(root, "agent-cache"), AGENTRC_STORE: join(root, "store") };
    const cli = (args: string[]) => runCli(args, { env, cwd: root });
    const readLock = async () => JSON.parse(await readFile(join(agent, "agentrc.lock"), "utf8"));

    const first = await cli(["lock", agent]);
    assert.equal(first.code, 0, first.stderr);
    const pins = await readLock();
    assert.deepEqual(pins.base_image, { ref: baseRef, digest: base1 });
    assert.equal(pins.skills[0].digest, skill1);
    assert.equal(pins.toolsets[`oci://${toolsetRef}`].digest, toolset1);

    // the base is re-pushed; a build and a plain lock keep the pin (never re-resolved silently)
    const base2 = await publish("base", baseRef, { Agentfile: "AGENT base\nAUDIT basic\nLIMIT max 2\n" });
    assert.notEqual(base2, base1);
    const built = await cli(["build", agent, "--json"]);
    assert.equal(built.code, 0, built.stdout);
    assert.deepEqual((await readLock()).base_image.digest, base1);
    assert.equal((await cli(["lock", agent])).code, 0);
    assert.deepEqual(await readLock(), pins);

    // lock --update: the base moves, the skill and the toolset are re-resolved and stay
    const updated = await cli(["lock", "--update", "-C", agent, "--json"]);
    assert.equal(updated.code, 0, updated.stdout);
    const json = JSON.parse(updated.stdout);
    assert.deepEqual(json.updates, [
      { kind: "base", ref: baseRef, before: base1, after: base2, moved: true },
      { kind: "skill", ref: `oci://${skillRef}`, before: skill1, after: skill1, moved: false },
      { kind: "toolset", ref: `oci://${toolsetRef}`, before: toolset1, after: toolset1, moved: false },
    ]);
    const after = await readLock();
    assert.deepEqual(after.base_image, { ref: baseRef, digest: base2 });
    assert.deepEqual(after.skills, pins.skills);
    assert.deepEqual(after.toolsets, pins.toolsets);

    // named: only the skill is re-resolved; the base, re-pushed again, keeps its pin
    const base3 = await publish("base", baseRef, { Agentfile: "AGENT base\nAUDIT basic\nLIMIT max 3\n" });
    const named = await cli(["lock", "--update", "review", "-C", agent]);
    assert.equal(named.code, 0, named.stderr);
    assert.equal(named.stdout, `unchanged oci://${skillRef}  ${skill1}\n`);
    assert.equal((await readLock()).base_image.digest, base2);
    const byRef = await cli(["lock", "--update", baseRef, "-C", agent]);
    assert.equal(byRef.stdout, `moved     ${baseRef}  ${base2} → ${base3}\n`);

    // an unknown name is an error, and the lock is left alone
    const before = await readFile(join(agent, "agentrc.lock"), "utf8");
    const unknown = await cli(["lock", "--update", "nosuch", "-C", agent, "--json"]);
    assert.equal(unknown.code, 1);
    const diag = JSON.parse(unknown.stdout).diagnostics;
    assert.deepEqual(
      diag.map((d: { code: string }) => d.code),
      ["LOCK_UPDATE_UNKNOWN"],
    );
    assert.match(
      diag[0].message,
      /^lock --update nosuch: the agent has no FROM, SKILL oci:\/\/ or TOOLSET oci:\/\//,
    );
    assert.equal(await readFile(join(agent, "agentrc.lock"), "utf8"), before);

    // offline: with every dependency pinned and cached, builds work with the registry stopped
    const online = await build({
      dir: agent,
      cacheDir: env.AGENTRC_CACHE,
      config: { build: { output: join(root, "o1") } },
      registry: OPTS,
    });
    ok(online);
    await registry.stop();
    const offline = await build({
      dir: agent,
      cacheDir: env.AGENTRC_CACHE,
      config: { build: { output: join(root, "o2"), frozenLockfile: true } },
      registry: OPTS,
    });
    ok(offline);
    assert.equal(
      offline.compilation.package!.descriptor.digest,
      online.compilation.package!.descriptor.digest,
    );

    // --frozen-lockfile fails when a dependency's pin is missing (the toolset's, here)
    const lock = await readLock();
    const fullLock = JSON.stringify(lock);
    delete lock.toolsets;
    await writeFile(join(agent, "agentrc.lock"), JSON.stringify(lock));
    const frozen = await cli(["lock", agent, "--frozen-lockfile", "--json"]);
    assert.equal(frozen.code, 1);
    const stale = JSON.parse(frozen.stdout).diagnostics.filter(
      (d: { severity: string }) => d.severity === "error",
    );
    assert.deepEqual(
      stale.map((d: { code: string; message: string }) => [d.code, d.message]),
      [
        [
          "LOCKFILE_STALE",
          `agentrc.lock does not pin TOOLSET oci://${toolsetRef} and --frozen-lockfile forbids resolving it`,
        ],
      ],
    );

    // verified on every use: a modified cache entry is refused, never packed (offline, it cannot be fetched again)
    await writeFile(join(agent, "agentrc.lock"), fullLock);
    const pinnedBase = (await readLock()).base_image.digest as string;
    const cachedManifest = join(
      env.AGENTRC_CACHE,
      "deps",
      "blobs",
      "sha256",
      pinnedBase.slice("sha256:".length),
    );
    await writeFile(cachedManifest, "{}");
    const tampered = await build({
      dir: agent,
      cacheDir: env.AGENTRC_CACHE,
      config: { build: { output: join(root, "o3") } },
      registry: OPTS,
    });
    assert.deepEqual(
      errors(tampered).map((d) => d.code),
      ["BASE_RESOLVE_FAILED"],
    );
    assert.match(errors(tampered)[0]!.message, /cannot fetch the base package: .*ECONNREFUSED/);
    // (online, the next build fetches it again: DependencyCache.fetch after the drop)
    await assert.rejects(readFile(cachedManifest), { code: "ENOENT" }, "the modified blob is dropped");
  });
});
