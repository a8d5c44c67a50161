import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import type { PackageConfig } from "../../src/compiler/payloads.js";
import { build, type LintResult, lint, lock, type RunOptions } from "../../src/index.js";
import { extractTar } from "../../src/oci/extract.js";
import { bytesBlob } from "../../src/registry/blobs.js";
import { RegistryClient } from "../../src/registry/client.js";
import { MEDIA_TYPES } from "../../src/registry/manifests.js";
import { sha256, tinyTar } from "../helpers/artifacts.js";
import { freePort, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { skillMd } from "../helpers/skillMd.js";
import { testdir } from "../helpers/testdir.js";

const SKILL_LAYER = "application/vnd.agentrc.agent.skill.layer.v1.tar+gzip";
const TITLE = "org.opencontainers.image.title";

/** Writes `files` into `dir` (replacing what was there at those paths). */
async function put(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(join(dir, rel, ".."), { recursive: true });
    await writeFile(join(dir, rel), text);
  }
}

const errors = (r: LintResult) => r.diagnostics.filter((d) => d.severity === "error");
const ok = (r: LintResult) => assert.deepEqual(errors(r), [], JSON.stringify(r.diagnostics, null, 2));
const readLock = async (dir: string) => JSON.parse(await readFile(join(dir, "agentrc.lock"), "utf8"));

/** Builds `dir` into a layout of its own with `cache`, optionally pushing to `references` on `registry`. */
async function buildAgent(
  dir: string,
  cache: string,
  extra: { push?: { registry: TestRegistry; references: string[] }; frozen?: boolean } = {},
): Promise<LintResult> {
  const run: RunOptions = {
    dir,
    cacheDir: cache,
    config: {
      build: {
        tags: ["localhost/test:1"],
        output: join(dir, "..", `layout-${Math.random().toString(36).slice(2)}`),
        ...(extra.frozen ? { frozenLockfile: true } : {}),
      },
    },
  };
  if (extra.push) {
    run.push = { references: extra.push.references };
    run.registry = extra.push.registry.clientOptions();
  }
  return build(run);
}

/** Builds and pushes a small agentrc package under `reference`; returns its manifest digest. */
async function publish(
  registry: TestRegistry,
  reference: string,
  files: Record<string, string>,
): Promise<string> {
  const dir = await testdir();
  const src = join(dir, "src");
  await put(src, files);
  const r = await buildAgent(src, join(dir, "cache"), { push: { registry, references: [reference] } });
  ok(r);
  assert.equal(r.pushed?.length, 1);
  return r.pushed![0]!.digest;
}

describe("FROM <tag> is pinned at lock time", () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry({ mode: "open" });
  });
  after(() => registry?.stop());

  test("build resolves the tag, pins it in the lock and the annotation; later builds never ask the registry", async () => {
    const baseRef = `${registry.host}/base/agent:1`;
    const baseDigest = await publish(registry, baseRef, { Agentfile: "AGENT base\nAUDIT basic\n" });
    const root = await testdir();
    const dir = join(root, "agent");
    await put(dir, { Agentfile: `AGENT app\nFROM ${baseRef}\nAUDIT basic\n` });
    const cache = join(root, "cache");

    // lint stays offline and warns about the unpinned tag
    const linted = await lint({ dir, cacheDir: cache });
    assert.deepEqual(
      linted.diagnostics.map((d) => d.code),
      ["FROM_MUTABLE_TAG"],
    );

    const first = await buildAgent(dir, cache);
    ok(first);
    assert.deepEqual(first.diagnostics, [], "the build pins the tag, so it does not warn about it");
    assert.deepEqual((await readLock(dir)).base_image, { ref: baseRef, digest: baseDigest });
    const pkg = first.compilation.package!;
    assert.equal(pkg.manifest.annotations?.["io.agentrc.base.digest"], baseDigest);
    // with the pin, lint no longer warns
    assert.deepEqual((await lint({ dir, cacheDir: cache })).diagnostics, []);

    // the tag moves upstream: the pinned build does not follow it
    const moved = await publish(registry, baseRef, { Agentfile: "AGENT base\nAUDIT all\n" });
    assert.notEqual(moved, baseDigest);
    const second = await buildAgent(dir, cache);
    ok(second);
    assert.equal(second.compilation.package!.descriptor.digest, pkg.descriptor.digest);

    // offline: with the registry gone, the pinned and cached build gives the same digest, also with
    // --frozen-lockfile; a cache without the base cannot inherit from it (the base's content is needed)
    await registry.stop();
    const offline = await buildAgent(dir, cache);
    ok(offline);
    const uncached = await buildAgent(dir, join(root, "cache-2"));
    assert.deepEqual(
      errors(uncached).map((d) => d.code),
      ["BASE_RESOLVE_FAILED"],
    );
    assert.match(errors(uncached)[0]!.message, /cannot fetch the base package/);
    assert.equal(offline.compilation.package!.descriptor.digest, pkg.descriptor.digest);
    const frozen = await buildAgent(dir, cache, { frozen: true });
    ok(frozen);
    assert.equal(frozen.compilation.package!.descriptor.digest, pkg.descriptor.digest);
    assert.deepEqual((await readLock(dir)).base_image, { ref: baseRef, digest: baseDigest });
  });
});

describe("FROM resolution failures", () => {
  test("an unreachable registry is BASE_RESOLVE_FAILED at the FROM argument, and no lock is written", async () => {
    const port = await freePort();
    const ref = `127.0.0.1:${port}/base/agent:1`;
    const dir = await testdir({ Agentfile: `AGENT app\nFROM   ${ref}\nAUDIT basic\n` });
    const r = await lock({ dir });
    const failed = errors(r);
    assert.equal(failed.length, 1, JSON.stringify(r.diagnostics));
    assert.equal(failed[0]!.code, "BASE_RESOLVE_FAILED");
    assert.match(
      failed[0]!.message,
      new RegExp(`^FROM 127\\.0\\.0\\.1:${port}/base/agent:1: cannot resolve`),
    );
    assert.deepEqual(failed[0]!.location, { file: "Agentfile", line: 2, column: 8 });
    await assert.rejects(readFile(join(dir, "agentrc.lock")), { code: "ENOENT" });
  });

  test("--frozen-lockfile without a pin is LOCKFILE_STALE and resolves nothing", async () => {
    const port = await freePort(); // nothing listens: any attempt to resolve would be BASE_RESOLVE_FAILED
    const dir = await testdir({ Agentfile: "AGENT app\nAUDIT basic\n" });
    ok(await lock({ dir }));
    await put(dir, { Agentfile: `AGENT app\nFROM 127.0.0.1:${port}/base/agent:1\nAUDIT basic\n` });
    const r = await lock({ dir, config: { build: { frozenLockfile: true } } });
    const failed = errors(r);
    assert.deepEqual(
      failed.map((d) => [d.code, d.location?.line, d.location?.column]),
      [["LOCKFILE_STALE", 2, 6]],
    );
    assert.match(
      failed[0]!.message,
      /does not pin FROM 127\.0\.0\.1:\d+\/base\/agent:1 and --frozen-lockfile/,
    );
    assert.equal((await readLock(dir)).base_image, undefined);
  });
});

/** The files of the `skills/<name>` layer of a built package, path → text. */
async function skillLayerFiles(result: LintResult, name: string): Promise<Record<string, string>> {
  const pkg = result.compilation.package!;
  const layer = pkg.layers.find((l) => l.descriptor.annotations?.[TITLE] === `skills/${name}`);
  assert.ok(layer, `no layer skills/${name}`);
  assert.equal(layer.descriptor.mediaType, SKILL_LAYER);
  const into = join(await testdir(), "x");
  await extractTar(createReadStream(layer.path), into);
  const config = JSON.parse(await readFile(pkg.config.path, "utf8")) as PackageConfig;
  const out: Record<string, string> = {};
  for (const f of config.files.filter((f) => f.layer === `skills/${name}`)) {
    out[f.path] = await readFile(join(into, f.path), "utf8");
  }
  return out;
}

describe("SKILL oci://<ref>", () => {
  /** A registry of its own per test (the first test stops it half-way). */
  const fresh = async () => {
    const r = await startRegistry({ mode: "open" });
    after(() => r.stop());
    return r;
  };

  test("pulls the skill layer, pins the manifest digest, and rebuilds from the pin (tag moved, registry gone)", async () => {
    const registry = await fresh();
    const skillRef = `${registry.host}/skills/summarize:1`;
    const v1 = {
      Agentfile: "AGENT summarize-skill\nSKILL summarize\nAUDIT basic\n",
      "skills/summarize/SKILL.md": "# Summarize\nSummarise the input.\n",
      "skills/summarize/prompts/short.txt": "Be brief.\n",
    };
    const d1 = await publish(registry, skillRef, v1);
    const root = await testdir();
    const dir = join(root, "agent");
    const source = `oci://${skillRef}`;
    await put(dir, {
      Agentfile: `AGENT app\nSKILL ${source}\nSKILL local\nAUDIT basic\n`,
      "skills/local/SKILL.md": skillMd("local"),
    });
    const cache = join(root, "cache");

    // lint is offline: nothing cached yet, nothing reported, nothing selected
    const before = await lint({ dir, cacheDir: cache });
    assert.deepEqual(before.diagnostics, []);
    assert.equal(before.compilation.files.get("skill:summarize"), undefined);

    const first = await buildAgent(dir, cache);
    ok(first);
    assert.deepEqual(await skillLayerFiles(first, "summarize"), {
      "skills/summarize/SKILL.md": v1["skills/summarize/SKILL.md"],
      "skills/summarize/prompts/short.txt": v1["skills/summarize/prompts/short.txt"],
    });
    const lock1 = await readLock(dir);
    assert.deepEqual(lock1.skills, [
      { name: "summarize", source, digest: d1 },
      { name: "local", source: "name:local", digest: lock1.layers["skill:local"] },
    ]);
    assert.match(lock1.layers["skill:summarize"], /^sha256:[a-f0-9]{64}$/);
    const digest = first.compilation.package!.descriptor.digest;

    // the tag moves to new content: the lock still pins d1, so the build does not change (cache or registry)
    const d2 = await publish(registry, skillRef, {
      ...v1,
      "skills/summarize/SKILL.md": "# Summarize v2\n",
    });
    assert.notEqual(d2, d1);
    const cached = await buildAgent(dir, cache);
    ok(cached);
    assert.equal(cached.compilation.package!.descriptor.digest, digest);
    const refetched = await buildAgent(dir, join(root, "cache-fresh")); // pulls d1 by digest
    ok(refetched);
    assert.equal(refetched.compilation.package!.descriptor.digest, digest);
    assert.deepEqual(await readLock(dir), lock1);

    // registry gone: the cache serves the pinned digest
    await registry.stop();
    const offline = await buildAgent(dir, cache, { frozen: true });
    ok(offline);
    assert.equal(offline.compilation.package!.descriptor.digest, digest);
    // lint uses the cached skill (its files are scanned), still without a network
    const linted = await lint({ dir, cacheDir: cache });
    assert.deepEqual(linted.diagnostics, []);
    assert.deepEqual([...(linted.compilation.files.get("skill:summarize")?.keys() ?? [])].sort(), [
      "skills/summarize/SKILL.md",
      "skills/summarize/prompts/short.txt",
    ]);
    // without the cache and without the registry, the pinned skill cannot be fetched: a diagnostic, no crash
    const missing = await buildAgent(dir, join(root, "cache-empty"));
    assert.deepEqual(
      errors(missing).map((d) => [d.code, d.location?.line, d.location?.column]),
      [["SKILL_RESOLVE_FAILED", 2, 7]],
    );
    assert.match(errors(missing)[0]!.message, new RegExp(`^SKILL oci://${skillRef.replace(/\./g, "\\.")}: `));
  });

  test("an unpinned tag moves with the registry; --frozen-lockfile refuses to resolve it", async () => {
    const registry = await fresh();
    const skillRef = `${registry.host}/skills/review:1`;
    const files = {
      Agentfile: "AGENT review-skill\nSKILL review\nAUDIT basic\n",
      "skills/review/SKILL.md": "# Review\n",
    };
    const d1 = await publish(registry, skillRef, files);
    const root = await testdir();
    const dir = join(root, "agent");
    await put(dir, { Agentfile: `AGENT app\nSKILL oci://${skillRef}\nAUDIT basic\n` });

    const frozen = await lock({
      dir,
      cacheDir: join(root, "cache"),
      config: { build: { frozenLockfile: true } },
    });
    assert.deepEqual(
      errors(frozen).map((d) => [d.code, d.location?.line]),
      [["LOCKFILE_STALE", 2]],
    );
    assert.match(errors(frozen)[0]!.message, /does not pin SKILL oci:\/\/.* and --frozen-lockfile/);

    ok(await lock({ dir, cacheDir: join(root, "cache") }));
    assert.equal((await readLock(dir)).skills[0].digest, d1);
    const d2 = await publish(registry, skillRef, { ...files, "skills/review/SKILL.md": "# Review v2\n" });
    await rm(join(dir, "agentrc.lock"));
    ok(await lock({ dir, cacheDir: join(root, "cache") }));
    assert.equal((await readLock(dir)).skills[0].digest, d2);
  });

  test("a package without the skill layer is SKILL_RESOLVE_FAILED", async () => {
    const registry = await fresh();
    const ref = `${registry.host}/skills/other:1`;
    await publish(registry, ref, { Agentfile: "AGENT other\nAUDIT basic\n" });
    const dir = await testdir({ Agentfile: `AGENT app\nSKILL oci://${ref}\nAUDIT basic\n` });
    const r = await lock({ dir, cacheDir: await testdir() });
    assert.deepEqual(
      errors(r).map((d) => d.code),
      ["SKILL_RESOLVE_FAILED"],
    );
    assert.match(
      errors(r)[0]!.message,
      /has no skill layer titled skills\/other \(layers: Agentfile, agentrc\.lock\)/,
    );
  });
});

/** Pushes an oras-style artifact: one gzip tar layer titled `title` (unpack annotation), an empty config. */
async function pushOras(registry: TestRegistry, repo: string, tag: string, title: string, tar: Buffer) {
  const layer = gzipSync(tar);
  const config = Buffer.from("{}");
  const manifest = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      artifactType: "application/vnd.example.skill",
      config: { mediaType: "application/vnd.oci.empty.v1+json", digest: sha256(config), size: config.length },
      layers: [
        {
          mediaType: "application/vnd.oci.image.layer.v1.tar",
          digest: sha256(layer),
          size: layer.length,
          annotations: { [TITLE]: title, "io.deis.oras.content.unpack": "true" },
        },
      ],
    }),
  );
  const client = new RegistryClient(registry.host, registry.clientOptions());
  try {
    await client.pushBlob(repo, bytesBlob(config));
    await client.pushBlob(repo, bytesBlob(layer));
    return (await client.putManifest(repo, tag, manifest, MEDIA_TYPES.ociManifest)).digest;
  } finally {
    await client.close();
  }
}

describe("SKILL oci:// from an oras-style artifact", () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry({ mode: "open" });
  });
  after(() => registry?.stop());

  test("a layer titled <name> with the oras unpack annotation provides the skill", async () => {
    const digest = await pushOras(
      registry,
      "team/translate",
      "1",
      "translate",
      tinyTar("translate/SKILL.md", "# Translate\n"),
    );
    const root = await testdir();
    const dir = join(root, "agent");
    await put(dir, { Agentfile: `AGENT app\nSKILL oci://${registry.host}/team/translate:1\nAUDIT basic\n` });
    const r = await buildAgent(dir, join(root, "cache"));
    ok(r);
    assert.deepEqual(await skillLayerFiles(r, "translate"), { "skills/translate/SKILL.md": "# Translate\n" });
    assert.equal((await readLock(dir)).skills[0].digest, digest);
  });

  test("a layer that escapes its directory is refused (SKILL_RESOLVE_FAILED), nothing is cached", async () => {
    await pushOras(registry, "team/evil", "1", "evil", tinyTar("../evil/SKILL.md", "# Evil\n"));
    const root = await testdir();
    const dir = join(root, "agent");
    await put(dir, { Agentfile: `AGENT app\nSKILL oci://${registry.host}/team/evil:1\nAUDIT basic\n` });
    const r = await lock({ dir, cacheDir: join(root, "cache") });
    assert.deepEqual(
      errors(r).map((d) => d.code),
      ["SKILL_RESOLVE_FAILED"],
    );
    assert.match(errors(r)[0]!.message, /\.\./);
    assert.deepEqual(await readdir(join(root, "cache", "oci-skills")), []);
    await assert.rejects(readFile(join(dir, "agentrc.lock")), { code: "ENOENT" });
  });
});
