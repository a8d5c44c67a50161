import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { describe, it } from "node:test";
import { OciLayout } from "../../src/oci/layout.js";
import {
  MEDIA_TYPE_AGENT_CONFIG,
  MEDIA_TYPE_DATA_LAYER,
  MEDIA_TYPE_OCI_EMPTY,
  MEDIA_TYPE_OCI_MANIFEST,
} from "../../src/oci/mediaTypes.js";
import { attachReferrer, listReferrers } from "../../src/oci/referrers.js";
import { LocalStore } from "../../src/oci/store.js";
import { storeSource } from "../../src/package/push.js";
import { copy } from "../../src/transfer/copy.js";
import { LayoutTarget } from "../../src/transfer/layoutTarget.js";
import { canonicalJson } from "../../src/util/canonicalJson.js";
import { testdir } from "../helpers/testdir.js";

async function writePackage(layout: OciLayout) {
  const config = await layout.putBlob(canonicalJson({ n: randomBytes(8).toString("hex") }));
  const layer = await layout.putBlob(randomBytes(64));
  return layout.putManifest(
    canonicalJson({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      config: { mediaType: MEDIA_TYPE_AGENT_CONFIG, digest: config.digest, size: config.size },
      layers: [{ mediaType: MEDIA_TYPE_DATA_LAYER, digest: layer.digest, size: layer.size }],
    }),
  );
}

const SIG = "application/vnd.dev.sigstore.bundle.v0.3+json";
const PROMOTION = "application/vnd.example.promotion.v1+json";

describe("store referrers", () => {
  it("attaches referrers as untagged entries and lists them like the referrers API, filtered by artifactType", async () => {
    const store = await LocalStore.open({ path: join(await testdir(), "store") });
    const pkg = await writePackage(store.layout);
    await store.tag("localhost/a:1", pkg);
    const sig = await attachReferrer(store, pkg, {
      artifactType: SIG,
      blobs: [{ mediaType: SIG, bytes: '{"bundle":1}' }],
      annotations: { "dev.sigstore.bundle.content": "dsse-envelope" },
    });
    const promo = await attachReferrer(store, pkg, {
      artifactType: PROMOTION,
      annotations: { stage: "prod" },
    });
    const manifest = JSON.parse(promo.bytes.toString());
    assert.equal(manifest.layers[0].mediaType, MEDIA_TYPE_OCI_EMPTY, "no blob: the empty descriptor");
    assert.deepEqual(manifest.subject, { mediaType: pkg.mediaType, digest: pkg.digest, size: pkg.size });

    const all = await listReferrers(store, pkg.digest);
    assert.deepEqual(
      all.map((d) => [d.digest, d.artifactType, d.annotations]).sort(),
      [
        [sig.descriptor.digest, SIG, { "dev.sigstore.bundle.content": "dsse-envelope" }],
        [promo.descriptor.digest, PROMOTION, { stage: "prod" }],
      ].sort(),
    );
    assert.deepEqual(
      (await listReferrers(store, pkg.digest, { artifactType: PROMOTION })).map((d) => d.digest),
      [promo.descriptor.digest],
    );
    assert.deepEqual(
      await listReferrers(store, sig.descriptor.digest),
      [],
      "nothing refers to the signature",
    );
    assert.deepEqual(
      (await store.list()).map((e) => e.ref),
      ["localhost/a:1"],
      "referrers are not packages of the store",
    );
  });

  it("prune keeps referrers while their subject is kept; rm of the subject's last entry removes them (and theirs)", async () => {
    const store = await LocalStore.open({ path: join(await testdir(), "store") });
    const pkg = await writePackage(store.layout);
    await store.tag("localhost/a:1", pkg);
    await store.tag("localhost/a:2", pkg);
    const provenance = await attachReferrer(store, pkg, {
      artifactType: "application/vnd.in-toto+json",
      blobs: [{ mediaType: "application/vnd.in-toto+json", bytes: "{}x" }],
    });
    const sigOfProvenance = await attachReferrer(store, provenance.descriptor, {
      artifactType: SIG,
      blobs: [{ mediaType: SIG, bytes: "sig" }],
    });
    assert.equal((await store.prune()).deleted, 0);
    assert.equal(await store.layout.hasBlob(sigOfProvenance.descriptor.digest), true);

    const first = await store.remove([{ ref: "localhost/a:1", candidates: ["localhost/a:1"] }]);
    assert.deepEqual(first, [{ request: "localhost/a:1", ref: "localhost/a:1", digest: pkg.digest }]);
    assert.equal((await listReferrers(store, pkg.digest)).length, 1, "another tag still names the package");

    const removed = await store.remove([{ ref: "localhost/a:2", candidates: ["localhost/a:2"] }]);
    assert.deepEqual(removed, [
      { request: "localhost/a:2", ref: "localhost/a:2", digest: pkg.digest },
      { request: null, ref: null, digest: provenance.descriptor.digest, referrerOf: pkg.digest },
      {
        request: null,
        ref: null,
        digest: sigOfProvenance.descriptor.digest,
        referrerOf: provenance.descriptor.digest,
      },
    ]);
    assert.deepEqual((await store.layout.readIndex()).manifests, []);
    await store.prune();
    assert.equal(await store.layout.hasBlob(provenance.descriptor.digest), false);
    assert.equal(await store.layout.hasBlob(sigOfProvenance.descriptor.digest), false);
  });

  it("copy carries referrers (and referrers of referrers) from the store into a layout", async () => {
    const store = await LocalStore.open({ path: join(await testdir(), "store") });
    const pkg = await writePackage(store.layout);
    await store.tag("localhost/a:1", pkg);
    const att = await attachReferrer(store, pkg, {
      artifactType: "application/vnd.in-toto+json",
      blobs: [{ mediaType: "application/vnd.in-toto+json", bytes: "statement" }],
    });
    const sig = await attachReferrer(store, att.descriptor, {
      artifactType: SIG,
      blobs: [{ mediaType: SIG, bytes: "s" }],
    });
    const out = await OciLayout.create(join(await testdir(), "out"));
    const copied = await copy(storeSource(store), "localhost/a:1", new LayoutTarget(out), {
      tags: ["1"],
      referrers: true,
    });
    assert.deepEqual(copied.referrers, [
      {
        descriptor: { ...att.descriptor, artifactType: "application/vnd.in-toto+json" },
        subject: pkg.digest,
      },
      { descriptor: { ...sig.descriptor, artifactType: SIG }, subject: att.descriptor.digest },
    ]);
    assert.deepEqual(
      (await listReferrers(out, pkg.digest)).map((d) => d.digest),
      [att.descriptor.digest],
    );
    assert.deepEqual(
      (await listReferrers(out, att.descriptor.digest)).map((d) => d.digest),
      [sig.descriptor.digest],
    );
    const without = await OciLayout.create(join(await testdir(), "plain"));
    const plain = await copy(storeSource(store), "localhost/a:1", new LayoutTarget(without), { tags: ["1"] });
    assert.deepEqual(plain.referrers, []);
    assert.deepEqual(await listReferrers(without, pkg.digest), []);
  });
});
