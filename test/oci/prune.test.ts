import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdir, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { BlobCache } from "../../src/cache/BlobCache.js";
import { isAgentrcError } from "../../src/diagnostics/AgentrcError.js";
import { sha256Digest } from "../../src/oci/digest.js";
import { OciLayout } from "../../src/oci/layout.js";
import { LEASES_DIR, Lease, leasedDigests } from "../../src/oci/lease.js";
import {
  MEDIA_TYPE_AGENT_CONFIG,
  MEDIA_TYPE_DATA_LAYER,
  MEDIA_TYPE_OCI_MANIFEST,
} from "../../src/oci/mediaTypes.js";
import { pruneLayout } from "../../src/oci/prune.js";
import { LocalStore } from "../../src/oci/store.js";
import { canonicalJson } from "../../src/util/canonicalJson.js";
import { testdir } from "../helpers/testdir.js";

/** Writes a config and a layer of `layerBytes` random bytes and a manifest over them; returns every digest. */
async function writePackage(layout: OciLayout, layerBytes: number, extra: Record<string, unknown> = {}) {
  const config = await layout.putBlob(canonicalJson({ n: randomBytes(8).toString("hex") }));
  const layer = await layout.putBlob(randomBytes(layerBytes));
  const manifest = await layout.putManifest(
    canonicalJson({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      config: { mediaType: MEDIA_TYPE_AGENT_CONFIG, digest: config.digest, size: config.size },
      layers: [{ mediaType: MEDIA_TYPE_DATA_LAYER, digest: layer.digest, size: layer.size }],
      ...extra,
    }),
  );
  return { manifest, config, layer, bytes: manifest.size + config.size + layer.size };
}

async function blobNames(layout: OciLayout): Promise<string[]> {
  return (await readdir(join(layout.root, "blobs", "sha256"))).sort();
}

const hex = (d: string) => d.slice("sha256:".length);

describe("pruneLayout", () => {
  it("deletes what no index entry reaches, keeps tagged, untagged, referrer chains and referrers of kept subjects, counts the bytes", async () => {
    const layout = await OciLayout.create(join(await testdir(), "store"));
    const tagged = await writePackage(layout, 3000);
    await layout.tag("localhost/a:1", tagged.manifest);
    const untagged = await writePackage(layout, 2000);
    await layout.updateIndex((index) => {
      index.manifests.push(untagged.manifest);
    });
    // A tagged referrer keeps its subject, which nothing else indexes.
    const subject = await writePackage(layout, 1000);
    const referrer = await writePackage(layout, 10, { subject: subject.manifest });
    await layout.tag("localhost/a:sig", referrer.manifest);
    // An untagged referrer lives as long as its subject: kept with the tagged package, gone with an orphan.
    const signature = await writePackage(layout, 20, { subject: tagged.manifest });
    const orphan = await writePackage(layout, 5000);
    const orphanSignature = await writePackage(layout, 30, { subject: orphan.manifest });
    await layout.updateIndex((index) => {
      index.manifests.push(signature.manifest, orphanSignature.manifest);
    });
    const stray = await layout.putBlob(randomBytes(700));

    const result = await pruneLayout(layout);
    assert.equal(
      result.deleted,
      7,
      "the orphan's and its signature's manifest, config, layer, and the stray blob",
    );
    assert.equal(result.bytes, orphan.bytes + orphanSignature.bytes + stray.size);
    const kept = [tagged, untagged, subject, referrer, signature].flatMap((p) => [
      p.manifest,
      p.config,
      p.layer,
    ]);
    assert.deepEqual(await blobNames(layout), kept.map((d) => hex(d.digest)).sort());
    assert.equal(result.kept, kept.length);
    assert.equal(
      result.keptBytes,
      kept.reduce((n, d) => n + d.size, 0),
    );
    assert.equal((await pruneLayout(layout)).deleted, 0, "a second prune finds nothing");
  });

  it("keeps a live lease's blobs and a writer's temp file; drops a crashed holder's lease", async () => {
    const layout = await OciLayout.create(join(await testdir(), "store"));
    const leased = await layout.putBlob(randomBytes(100));
    const lease = await Lease.acquire(layout, [leased.digest]);
    // A lease left by a process that is gone: its pid is dead (a child that already exited).
    const dead = spawnSync(process.execPath, ["-e", "process.pid"]).pid!;
    const deadBlob = await layout.putBlob(randomBytes(200));
    await writeFile(
      join(layout.root, LEASES_DIR, "dead.json"),
      JSON.stringify({ pid: dead, host: hostname(), time: Date.now(), digests: [deadBlob.digest] }),
    );
    const blobs = join(layout.root, "blobs", "sha256");
    await writeFile(join(blobs, `.tmp-${process.pid}-fresh`), "being written");

    const result = await pruneLayout(layout);
    assert.equal(result.deleted, 1, "the dead lease's blob");
    assert.deepEqual(await blobNames(layout), [`.tmp-${process.pid}-fresh`, hex(leased.digest)].sort());
    assert.deepEqual(await readdir(join(layout.root, LEASES_DIR)).then((n) => n.length), 1);

    await lease.release();
    assert.deepEqual([...(await leasedDigests(layout))], []);
    assert.equal((await pruneLayout(layout)).deleted, 1, "released: the blob goes");
  });

  it("extends a lease atomically with the work done under the lock", async () => {
    const layout = await OciLayout.create(join(await testdir(), "store"));
    const lease = await Lease.acquire(layout);
    const blob = await lease.extend(["sha256:" + "a".repeat(64)], async () =>
      layout.putBlob(Buffer.from("late blob")),
    );
    await lease.extend([blob!.digest]);
    assert.deepEqual(
      [...(await leasedDigests(layout))].sort(),
      ["sha256:" + "a".repeat(64), blob!.digest].sort(),
    );
    await pruneLayout(layout);
    assert.equal(await layout.hasBlob(blob!.digest), true);
    await lease.release();
  });
});

describe("LocalStore.remove", () => {
  it("untags several references at once, a digest removing every entry of its package", async () => {
    const store = await LocalStore.open({ path: join(await testdir(), "store") });
    const a = await writePackage(store.layout, 10);
    const b = await writePackage(store.layout, 10);
    await store.tag("localhost/a:1", a.manifest);
    await store.tag("localhost/a:2", a.manifest);
    await store.tag("localhost/b:1", b.manifest);
    const removed = await store.remove([
      { ref: "localhost/b:1", candidates: ["localhost/b:1"] },
      { ref: `localhost/a@${a.manifest.digest}`, candidates: [`localhost/a@${a.manifest.digest}`] },
    ]);
    assert.deepEqual(removed, [
      { request: "localhost/b:1", ref: "localhost/b:1", digest: b.manifest.digest },
      { request: `localhost/a@${a.manifest.digest}`, ref: "localhost/a:1", digest: a.manifest.digest },
      { request: `localhost/a@${a.manifest.digest}`, ref: "localhost/a:2", digest: a.manifest.digest },
    ]);
    assert.deepEqual(await store.list(), []);
    assert.equal(await store.layout.hasBlob(a.layer.digest), true, "blobs stay until prune");
    assert.equal((await store.prune()).bytes, a.bytes + b.bytes);
  });

  it("removes nothing when one reference is missing, and names every missing one", async () => {
    const store = await LocalStore.open({ path: join(await testdir(), "store") });
    const a = await writePackage(store.layout, 10);
    await store.tag("localhost/a:1", a.manifest);
    await assert.rejects(
      store.remove([
        { ref: "localhost/a:1", candidates: ["localhost/a:1"] },
        { ref: "nope", candidates: ["nope", "docker.io/library/nope:latest"] },
        { ref: "localhost/a:9", candidates: ["localhost/a:9"] },
      ]),
      (err: unknown) =>
        isAgentrcError(err) &&
        err.code === "OCI_REF_NOT_FOUND" &&
        err.message ===
          `"nope", "localhost/a:9" are not in the local store (${store.path}); nothing was removed.`,
    );
    assert.deepEqual(
      (await store.list()).map((e) => e.ref),
      ["localhost/a:1"],
    );
  });
});

describe("BlobCache.prune", () => {
  it("keeps blobs the layer index references, drops the rest; --all drops the index; a build's lease wins", async () => {
    const root = join(await testdir(), "cache");
    const cache = await BlobCache.open(root);
    const indexed = await cache.putBlob(randomBytes(1000));
    await cache.record("k1", {
      digest: indexed.digest,
      size: indexed.size,
      diffId: indexed.digest,
      uncompressedSize: 1,
    });
    await cache.record("gone", {
      digest: sha256Digest("never written"),
      size: 1,
      diffId: sha256Digest("x"),
      uncompressedSize: 1,
    });
    const config = await cache.putBlob(Buffer.from("a config"));
    await cache.dispose(); // the build that wrote them is over

    const pruned = await (await BlobCache.open(root)).prune();
    assert.deepEqual([pruned.deleted, pruned.bytes, pruned.entries], [1, config.size, 1]);
    assert.deepEqual(await readdir(join(root, "layers")), ["k1.json"]);

    // A build running now has looked up k1: --all drops the index but not the blob that build holds.
    const running = await BlobCache.open(root);
    assert.equal((await running.lookup("k1"))?.digest, indexed.digest);
    const all = await (await BlobCache.open(root)).prune({ all: true });
    assert.deepEqual([all.deleted, all.entries, all.kept], [0, 1, 1]);
    assert.equal(await running.layout.hasBlob(indexed.digest), true);
    await running.dispose();
    const after = await (await BlobCache.open(root)).prune({ all: true });
    assert.deepEqual([after.deleted, after.bytes], [1, indexed.size]);
    assert.deepEqual(await readdir(join(root, "blobs", "blobs", "sha256")), []);
  });
});
