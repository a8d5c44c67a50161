import assert from "node:assert/strict";
import { appendFile, mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RegistryLayerCache } from "../../src/cache/RegistryCache.js";
import {
  type AgentrcPlugin,
  ARTIFACT_TYPE_BUILD_CACHE,
  canonicalJson,
  MEDIA_TYPE_BUILD_CACHE_INDEX,
  oci,
  registry as registryLib,
} from "../../src/core.js";
import { build as buildApi } from "../../src/index.js";
import { FIXTURES } from "../helpers/build.js";
import { runCli } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

/**
 * The shared build cache on a registry (issue 13, point 6; docs/cache.md), against the real docker-registry: a fresh
 * machine (empty store and cache directory) reads a cache another machine wrote, packs nothing whose inputs are
 * unchanged and fetches only the layers it emits; concurrent writers leave a cache holding all their entries; a
 * poisoned entry is refused and the package is the one a cold build makes.
 */
let registry: TestRegistry;
let base: string;
let n = 0;

before(async () => {
  delete process.env.SOURCE_DATE_EPOCH;
  registry = await startRegistry({ mode: "htpasswd" });
  base = await mkdtemp(join(tmpdir(), "agentrc-shared-cache-"));
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

/** A copy of the full fixture agent, optionally with one more line in a data file. */
async function source(change?: string): Promise<string> {
  const dir = join(base, `src-${n++}`);
  await copyTree(join(FIXTURES, "agents/full"), dir);
  if (change !== undefined) await appendFile(join(dir, "docs/index.md"), `\n${change}\n`);
  return dir;
}

/** Titles of the layers a build deflated (the packer reports progress only while packing). */
class PackedLayers implements AgentrcPlugin {
  readonly name = "test-packed-layers";
  readonly titles = new Set<string>();
  apply(compiler: Parameters<AgentrcPlugin["apply"]>[0]): void {
    compiler.hooks.compilation.tap(this.name, (c) => {
      c.hooks.packProgress.tap(this.name, (p) => {
        this.titles.add(p.title);
      });
    });
  }
}

/** Builds `dir` on a "machine" of its own (cache directory `machine`) into a layout; returns digest and layers. */
async function buildOn(
  machine: string,
  dir: string,
  cache: { from?: string[]; to?: string } = {},
): Promise<{ digest: string; packed: Set<string>; layers: Map<string, string>; warnings: string[] }> {
  const packed = new PackedLayers();
  const r = await buildApi({
    dir,
    cacheDir: join(base, machine, "cache"),
    registry: registry.clientOptions(),
    plugins: [packed],
    config: {
      build: {
        output: join(base, machine, `layout-${n++}`),
        ...(cache.from ? { cacheFrom: cache.from } : {}),
        ...(cache.to ? { cacheTo: cache.to } : {}),
      },
    },
  });
  assert.equal(r.errorCount, 0, JSON.stringify(r.diagnostics));
  const pkg = r.compilation.package!;
  return {
    digest: pkg.descriptor.digest,
    packed: packed.titles,
    layers: new Map(pkg.manifest.layers.map((l) => [l.annotations![oci.ANNOTATION_TITLE]!, l.digest])),
    warnings: r.diagnostics
      .filter((d) => d.code.startsWith("BUILD_CACHE"))
      .map((d) => `${d.code} ${d.message}`),
  };
}

const TAR_LAYERS = ["src", "tools", "data", "skills/summarize", "skills/review"];

/** The blobs a machine's local build cache holds. */
async function cachedBlobs(machine: string): Promise<Set<string>> {
  const dir = join(base, machine, "cache", "blobs", "blobs", "sha256");
  return new Set((await readdir(dir).catch(() => [])).map((h) => `sha256:${h}`));
}

describe("a fresh machine builds from the shared cache", () => {
  test("packs nothing whose inputs are unchanged, fetches only the layers it emits", async () => {
    const ref = `${registry.host}/team/full:buildcache`;
    // Machine A builds cold and writes the cache (through the CLI flags).
    const dirA = await source();
    const cli = await runCli(["build", dirA, "-o", join(base, "a-layout"), "--cache-to", ref, "--json"], {
      env: {
        HOME: join(base, "home"),
        AGENTRC_CACHE: join(base, "a", "cache"),
        AGENTRC_STORE: join(base, "a", "store"),
        AGENTRC_REGISTRY_HOST: registry.host,
        AGENTRC_REGISTRY_USERNAME: registry.users[0]!.name,
        AGENTRC_REGISTRY_PASSWORD: registry.users[0]!.password,
      },
    });
    assert.equal(cli.code, 0, cli.stdout + cli.stderr);
    const cold = JSON.parse(cli.stdout) as {
      digest: string;
      layers: Array<{ title: string; digest: string }>;
    };
    const coldLayers = new Map(cold.layers.map((l) => [l.title, l.digest]));
    for (const title of TAR_LAYERS) assert.ok(coldLayers.has(title), `the fixture has a ${title} layer`);

    // Machine B: empty cache directory and store, same sources elsewhere on disk.
    const b = await buildOn("b", await source(), { from: [ref] });
    assert.equal(b.digest, cold.digest, "the same package as the cold build");
    assert.deepEqual([...b.packed], [], "nothing was deflated");
    assert.deepEqual(b.warnings, []);

    // Machine C: one data file changed. Only the data layer is packed; its old blob is never fetched.
    const c = await buildOn("c", await source("A line only machine C has."), { from: [ref] });
    assert.deepEqual([...c.packed], ["data"]);
    assert.notEqual(c.layers.get("data"), coldLayers.get("data"));
    for (const title of TAR_LAYERS.filter((t) => t !== "data"))
      assert.equal(c.layers.get(title), coldLayers.get(title));
    const fetched = await cachedBlobs("c");
    assert.equal(
      fetched.has(coldLayers.get("data")!),
      false,
      "the changed layer's cached blob was not fetched",
    );
    for (const title of TAR_LAYERS.filter((t) => t !== "data"))
      assert.ok(fetched.has(coldLayers.get(title)!));
  });

  test("a tag that is not a build cache is reported and the build packs everything itself", async () => {
    const dir = await source();
    const layout = join(base, "not-cache-layout");
    const built = await buildApi({
      dir,
      cacheDir: join(base, "nc", "cache"),
      config: { build: { output: layout } },
    });
    assert.equal(built.errorCount, 0);
    const pkgRef = `${registry.host}/team/package:1`;
    const { push } = await import("../../src/index.js");
    await push(pkgRef, { ...registry.clientOptions(), store: layout, source: "latest" });
    const d = await buildOn("d", await source(), { from: [pkgRef] });
    assert.equal(d.digest, built.compilation.package!.descriptor.digest);
    assert.equal(d.warnings.length, 1, d.warnings.join("\n"));
    assert.match(
      d.warnings[0]!,
      /^BUILD_CACHE_UNAVAILABLE the shared build cache .*team\/package:1 cannot be read \(BUILD_CACHE_INVALID: .* is not an agentrc build cache/,
    );
    assert.deepEqual([...d.packed].sort(), [...TAR_LAYERS].sort());
  });
});

test("concurrent writers to one cache tag: every entry of every build is in it, every blob it names is there", async () => {
  const ref = `${registry.host}/team/shared:buildcache`;
  const changes = ["writer one", "writer two", "writer three", "writer four"];
  const dirs = await Promise.all(changes.map((c) => source(c)));
  const written = await Promise.all(dirs.map((dir, i) => buildOn(`w${i}`, dir, { to: ref })));
  const cache = RegistryLayerCache.open(ref, registry.clientOptions());
  const client = new registryLib.RegistryClient(registry.host, registry.clientOptions());
  try {
    const entries = await cache.entries();
    const digests = new Set([...entries.values()].map((e) => e.digest));
    for (const [i, w] of written.entries()) {
      for (const title of TAR_LAYERS)
        assert.ok(digests.has(w.layers.get(title)!), `writer ${i}'s ${title} layer`);
    }
    for (const d of digests)
      assert.notEqual(await client.headBlob("team/shared", d), undefined, `${d} is in the registry`);
    // The cache serves each writer's package to a fresh machine without packing.
    const again = await buildOn("fresh-w2", dirs[2]!, { from: [ref] });
    assert.equal(again.digest, written[2]!.digest);
    assert.deepEqual([...again.packed], []);
  } finally {
    await cache.close();
    await client.close();
  }
});

describe("a poisoned cache wastes time but never changes a package", () => {
  let ref: string;
  let cold: Awaited<ReturnType<typeof buildOn>>;
  let other: Awaited<ReturnType<typeof buildOn>>;
  before(async () => {
    ref = `${registry.host}/team/poison:buildcache`;
    cold = await buildOn("p-cold", await source(), { to: ref });
    other = await buildOn("p-other", await source("another data layer"), { to: ref });
  });

  /** Rewrites the cache at `tag` with the data layer's entry of the cold build changed by `edit`. */
  async function poison(
    tag: string,
    edit: (entry: Record<string, unknown>, otherEntry: Record<string, unknown>) => void,
  ) {
    const client = new registryLib.RegistryClient(registry.host, registry.clientOptions());
    try {
      const cache = RegistryLayerCache.open(ref, registry.clientOptions());
      const entries = [...(await cache.entries())].map(([key, e]) => ({ key, ...e }));
      await cache.close();
      const target = entries.find((e) => e.digest === cold.layers.get("data"))!;
      const source = entries.find((e) => e.digest === other.layers.get("data"))!;
      edit(target as unknown as Record<string, unknown>, source as unknown as Record<string, unknown>);
      const index = Buffer.from(canonicalJson({ schemaVersion: 1, entries }));
      await client.pushBlob("team/poison", registryLib.bytesBlob(index));
      const manifest = Buffer.from(
        canonicalJson({
          schemaVersion: 2,
          mediaType: oci.MEDIA_TYPE_OCI_MANIFEST,
          artifactType: ARTIFACT_TYPE_BUILD_CACHE,
          config: {
            mediaType: oci.MEDIA_TYPE_OCI_EMPTY,
            digest: oci.EMPTY_JSON_DIGEST,
            size: oci.EMPTY_JSON_SIZE,
          },
          layers: [
            { mediaType: MEDIA_TYPE_BUILD_CACHE_INDEX, digest: oci.sha256Digest(index), size: index.length },
            ...[...new Set(entries.map((e) => e.digest))].map((digest) => ({
              mediaType: "application/octet-stream",
              digest,
              size: entries.find((e) => e.digest === digest)!.size,
            })),
          ],
        }),
      );
      await client.putManifest("team/poison", tag, manifest, oci.MEDIA_TYPE_OCI_MANIFEST);
      return `${registry.host}/team/poison:${tag}`;
    } finally {
      await client.close();
    }
  }

  test("an entry whose recorded diffID is another layer's: refused before anything is fetched", async () => {
    const poisoned = await poison("wrong-layer", (entry, otherEntry) => {
      for (const k of ["digest", "size", "diffId", "uncompressedSize"]) entry[k] = otherEntry[k];
    });
    const r = await buildOn("p-fresh-1", await source(), { from: [poisoned] });
    assert.equal(r.digest, cold.digest, "the package a cold build makes");
    assert.deepEqual([...r.packed], ["data"], "the data layer was packed here");
    assert.equal(r.warnings.length, 1, r.warnings.join("\n"));
    assert.match(
      r.warnings[0]!,
      /^BUILD_CACHE_ENTRY_REJECTED layer data: the entry of .*poison:wrong-layer was not used: it unpacks to sha256:\w+, these files to sha256:\w+/,
    );
    assert.equal((await cachedBlobs("p-fresh-1")).has(other.layers.get("data")!), false, "not fetched");
  });

  test("an entry that names the right diffID but another blob: refused once the blob is read", async () => {
    const poisoned = await poison("wrong-blob", (entry, otherEntry) => {
      entry.digest = otherEntry.digest;
      entry.size = otherEntry.size;
    });
    const r = await buildOn("p-fresh-2", await source(), { from: [poisoned] });
    assert.equal(r.digest, cold.digest, "the package a cold build makes");
    assert.deepEqual([...r.packed], ["data"]);
    assert.equal(r.warnings.length, 1, r.warnings.join("\n"));
    assert.match(
      r.warnings[0]!,
      /^BUILD_CACHE_ENTRY_REJECTED layer data: .* its blob sha256:\w+ unpacks to sha256:\w+, not the recorded sha256:\w+/,
    );
  });

  test("the cache's own tag, unpoisoned, still serves the cold build's package", async () => {
    const r = await buildOn("p-fresh-3", await source(), { from: [ref] });
    assert.equal(r.digest, cold.digest);
    assert.deepEqual([...r.packed], []);
    await assert.rejects(stat(join(base, "p-fresh-3", "store")), /ENOENT/, "a layout build writes no store");
  });
});
