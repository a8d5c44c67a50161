import assert from "node:assert/strict";
import { createPrivateKey } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { attachReferrer, listReferrers } from "../../src/oci/referrers.js";
import { LocalStore } from "../../src/oci/store.js";
import { LayoutTarget } from "../../src/transfer/layoutTarget.js";
import {
  bundleReferrerOptions,
  keySigner,
  SIGNATURE_PREDICATE_TYPE,
  signStatement,
  statementAbout,
} from "../../src/trust/bundles.js";
import { generateKeyPair, parsePublicKey } from "../../src/trust/keys.js";
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
