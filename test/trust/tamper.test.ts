import assert from "node:assert/strict";
import { createHash, createPrivateKey } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after, before, test } from "node:test";
import { attachReferrer, listReferrers } from "../../src/oci/referrers.js";
import { LocalStore } from "../../src/oci/store.js";
import { LayoutTarget } from "../../src/transfer/layoutTarget.js";
import {
  BUNDLE_MEDIA_TYPE,
  bundleReferrer,
  bundleReferrerOptions,
  keySigner,
  SIGNATURE_PREDICATE_TYPE,
  SLSA_PROVENANCE_PREDICATE_TYPE,
  signStatement,
  statementAbout,
  statementReferrer,
} from "../../src/trust/bundles.js";
import { generateKeyPair, parsePublicKey } from "../../src/trust/keys.js";
import { summariseProvenance } from "../../src/trust/provenance.js";
import { checkAttachments, signatureFailures } from "../../src/trust/verify.js";
import { canonicalJson } from "../../src/util/canonicalJson.js";

let base: string;
before(async () => {
  base = await mkdtemp(join(tmpdir(), "agentrc-tamper-"));
});
after(() => rm(base, { recursive: true, force: true }));

const subject = (n: number) => ({
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
  size: 100,
});

test("each bad bundle fails with its own code: another digest, tampered, not a bundle, missing", async () => {
  const store = await LocalStore.open({ path: join(base, "store") });
  const pair = await generateKeyPair();
  const key = parsePublicKey(pair.publicKeyPem, "good.pub");
  const signer = keySigner(createPrivateKey(pair.privateKeyPem));
  const pkg = subject(1);
  const target = new LayoutTarget(store.layout);
  const failuresOf = async () =>
    signatureFailures(await checkAttachments(target, pkg.digest, [key]), [key]).map((f) => f.code);
  assert.deepEqual(await failuresOf(), ["TRUST_SIGNATURE_MISSING"]);
  // A bundle signing another digest, attached to this package.
  const other = await signStatement(statementAbout(subject(2), "x", SIGNATURE_PREDICATE_TYPE, {}), signer);
  const foreign = await attachReferrer(store, pkg, bundleReferrerOptions(other, SIGNATURE_PREDICATE_TYPE));
  assert.deepEqual(await failuresOf(), ["TRUST_BUNDLE_SUBJECT_MISMATCH"]);
  await store.layout.updateIndex((i) => {
    i.manifests = i.manifests.filter((d) => d.digest !== foreign.descriptor.digest);
  });
  // A bundle whose statement was altered after signing.
  const good = await signStatement(statementAbout(pkg, "x", SIGNATURE_PREDICATE_TYPE, {}), signer);
  const altered = structuredClone(good) as typeof good;
  altered.dsseEnvelope!.payload = Buffer.from(
    canonicalJson(statementAbout(pkg, "y", SIGNATURE_PREDICATE_TYPE, {})),
  ).toString("base64");
  const tampered = await attachReferrer(store, pkg, bundleReferrerOptions(altered, SIGNATURE_PREDICATE_TYPE));
  assert.deepEqual(await failuresOf(), ["TRUST_BUNDLE_TAMPERED"]);
  await store.layout.updateIndex((i) => {
    i.manifests = i.manifests.filter((d) => d.digest !== tampered.descriptor.digest);
  });
  // Not a bundle at all.
  await attachReferrer(store, pkg, {
    artifactType: "application/vnd.dev.sigstore.bundle.v0.3+json",
    blobs: [{ mediaType: "application/vnd.dev.sigstore.bundle.v0.3+json", bytes: '{"mediaType":"nope"}' }],
  });
  assert.deepEqual(await failuresOf(), ["TRUST_BUNDLE_INVALID", "TRUST_SIGNATURE_MISSING"]);
  assert.equal((await listReferrers(store, pkg.digest)).length, 1);
});

test("a referrer that is not a manifest (layers not an array, no config) is TRUST_BUNDLE_INVALID, never a crash", async () => {
  const store = await LocalStore.open({ path: join(base, "store-hostile") });
  const pair = await generateKeyPair();
  const key = parsePublicKey(pair.publicKeyPem, "good.pub");
  const pkg = subject(3);
  // Written by hand, as in a layout or archive someone else made: the store itself refuses such a manifest.
  const bytes = Buffer.from(
    JSON.stringify({
      schemaVersion: 2,
      mediaType: "application/vnd.oci.image.manifest.v1+json",
      artifactType: BUNDLE_MEDIA_TYPE,
      config: { mediaType: "application/vnd.oci.empty.v1+json", digest: `sha256:${"4".repeat(64)}`, size: 2 },
      layers: "x",
      subject: pkg,
    }),
  );
  const digest = `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
  await mkdir(dirname(store.layout.blobPath(digest)), { recursive: true });
  await writeFile(store.layout.blobPath(digest), bytes);
  await store.layout.updateIndex((i) => {
    i.manifests.push({ mediaType: "application/vnd.oci.image.manifest.v1+json", digest, size: bytes.length });
  });
  const report = await checkAttachments(new LayoutTarget(store.layout), pkg.digest, [key]);
  assert.deepEqual(
    report.failures.map((f) => f.code),
    ["TRUST_BUNDLE_INVALID"],
  );
  assert.match(report.failures[0]!.message, /^referrer sha256:[0-9a-f]{64}: layers is not an array$/);
});

test("the provenance shown is the verified one, never an unsigned statement someone else attached", async () => {
  const store = await LocalStore.open({ path: join(base, "store-provenance") });
  const pair = await generateKeyPair();
  const key = parsePublicKey(pair.publicKeyPem, "good.pub");
  const signer = keySigner(createPrivateKey(pair.privateKeyPem));
  const pkg = subject(4);
  const provenance = (builder: string) =>
    statementAbout(pkg, "x", SLSA_PROVENANCE_PREDICATE_TYPE, { runDetails: { builder: { id: builder } } });
  // Several forged statements, so that some sort before the genuine one whatever the digests.
  for (const n of [1, 2, 3, 4]) {
    await attachReferrer(store, pkg, statementReferrer(pkg, provenance(`https://forged.example/${n}`)));
  }
  const signed = await signStatement(provenance("https://agentrc.dev/builder/agentrc-cli"), signer);
  await attachReferrer(store, pkg, bundleReferrer(pkg, signed, SLSA_PROVENANCE_PREDICATE_TYPE));
  const target = new LayoutTarget(store.layout);
  for (const keys of [[key], []]) {
    const report = await checkAttachments(target, pkg.digest, keys);
    assert.equal(report.bundles.length, 5);
    const summary = summariseProvenance(report.provenance!, report.provenanceCheck);
    assert.equal(summary.builder, "https://agentrc.dev/builder/agentrc-cli");
    assert.equal(summary.signed, true);
    assert.equal(summary.signer, keys.length === 1 ? "good.pub" : undefined);
    assert.equal(report.provenanceCheck?.status, keys.length === 1 ? "verified" : "unknown-key");
  }
});

test("a provenance statement about another digest, attached to this package, is TRUST_PROVENANCE_SUBJECT_MISMATCH", async () => {
  const store = await LocalStore.open({ path: join(base, "store-prov-subject") });
  const pkg = subject(5);
  const other = subject(6);
  await attachReferrer(
    store,
    pkg,
    statementReferrer(pkg, statementAbout(other, "x", SLSA_PROVENANCE_PREDICATE_TYPE, {})),
  );
  const report = await checkAttachments(new LayoutTarget(store.layout), pkg.digest, []);
  assert.deepEqual(
    report.failures.map((f) => f.code),
    ["TRUST_PROVENANCE_SUBJECT_MISMATCH"],
  );
  assert.match(
    report.failures[0]!.message,
    new RegExp(
      `^the provenance in referrer sha256:[0-9a-f]{64} is about ${other.digest}, not ${pkg.digest}$`,
    ),
  );
  assert.equal(report.provenance, undefined, "a misdirected statement is never shown as the package's");
});
