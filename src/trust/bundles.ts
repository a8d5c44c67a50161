import { createPublicKey, type KeyObject, sign } from "node:crypto";
import { BUNDLE_V03_MEDIA_TYPE, bundleToJSON } from "@sigstore/bundle";
import type { Signer } from "@sigstore/sign";
import { type AttachedArtifact, type AttachReferrerOptions, referrerArtifact } from "../oci/referrers.js";
import type { Descriptor } from "../oci/types.js";
import { canonicalJson } from "../util/canonicalJson.js";
import { keyIdOf } from "./keys.js";

/**
 * Signatures and attestations as Sigstore bundles (v0.3) attached to a package as referrers, the layout cosign's
 * bundle format and GitHub's attestations use: an image manifest with `artifactType`
 * `application/vnd.dev.sigstore.bundle.v0.3+json`, the empty config, one layer holding the bundle JSON, `subject` =
 * the package manifest, and the annotations `dev.sigstore.bundle.content` and `dev.sigstore.bundle.predicateType`.
 *
 * Every bundle wraps an in-toto statement in a DSSE envelope whose subject is the package manifest digest: a
 * signature is cosign's `https://sigstore.dev/cosign/sign/v1` statement, provenance a SLSA v1 statement. The bundle
 * code is sigstore-js's (`DSSEBundleBuilder`, `bundleToJSON`); agentrc only supplies the statement and a signer.
 */
export const BUNDLE_MEDIA_TYPE = BUNDLE_V03_MEDIA_TYPE;
export const IN_TOTO_MEDIA_TYPE = "application/vnd.in-toto+json";
export const IN_TOTO_STATEMENT_TYPE = "https://in-toto.io/Statement/v1";
/** cosign's predicate for "this key signs this digest". */
export const SIGNATURE_PREDICATE_TYPE = "https://sigstore.dev/cosign/sign/v1";
export const SLSA_PROVENANCE_PREDICATE_TYPE = "https://slsa.dev/provenance/v1";
export const ANNOTATION_BUNDLE_CONTENT = "dev.sigstore.bundle.content";
export const ANNOTATION_BUNDLE_PREDICATE_TYPE = "dev.sigstore.bundle.predicateType";
/** The predicate type of an unsigned in-toto statement referrer. */
export const ANNOTATION_IN_TOTO_PREDICATE_TYPE = "in-toto.io/predicate-type";

export interface InTotoStatement {
  _type: string;
  subject: Array<{ name: string; digest: Record<string, string> }>;
  predicateType: string;
  predicate: Record<string, unknown>;
}

/** The Sigstore bundle JSON (`bundleToJSON`): what the referrer's layer holds. */
export type BundleJson = ReturnType<typeof bundleToJSON>;

/** sigstore-js's `Signer` over a private key: the bundle names the key by its hint (see `keyIdOf`). */
export function keySigner(privateKey: KeyObject): Signer {
  const publicKey = createPublicKey(privateKey);
  const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }) as string;
  const hint = keyIdOf(publicKey);
  return {
    async sign(data: Buffer) {
      return {
        signature: sign("sha256", data, privateKey),
        key: { $case: "publicKey", publicKey: publicKeyPem, hint },
      };
    },
  };
}

/** An in-toto statement about the manifest `subject` (one subject: `name`, sha256 digest). */
export function statementAbout(
  subject: Pick<Descriptor, "digest">,
  name: string,
  predicateType: string,
  predicate: Record<string, unknown>,
): InTotoStatement {
  return {
    _type: IN_TOTO_STATEMENT_TYPE,
    subject: [{ name, digest: { sha256: subject.digest.slice("sha256:".length) } }],
    predicateType,
    predicate,
  };
}

/** A DSSE bundle over `statement` (canonical JSON), signed by `signer`; no transparency log, no timestamp. */
export async function signStatement(statement: InTotoStatement, signer: Signer): Promise<BundleJson> {
  // Loaded only to sign: @sigstore/sign's entry point pulls in its Fulcio and HTTP clients, a sixth of every
  // command's start-up time.
  const { DSSEBundleBuilder } = await import("@sigstore/sign");
  const builder = new DSSEBundleBuilder({ signer, witnesses: [] });
  const bundle = await builder.create({
    data: Buffer.from(canonicalJson(statement)),
    type: IN_TOTO_MEDIA_TYPE,
  });
  return bundleToJSON(bundle);
}

/** The referrer holding a signed bundle about `subject`. */
export function bundleReferrer(
  subject: Pick<Descriptor, "mediaType" | "digest" | "size">,
  bundle: BundleJson,
  predicateType: string,
): AttachedArtifact {
  return referrerArtifact(subject, bundleReferrerOptions(bundle, predicateType));
}

export function bundleReferrerOptions(bundle: BundleJson, predicateType: string): AttachReferrerOptions {
  return {
    artifactType: BUNDLE_MEDIA_TYPE,
    blobs: [{ mediaType: BUNDLE_MEDIA_TYPE, bytes: canonicalJson(bundle) }],
    annotations: {
      [ANNOTATION_BUNDLE_CONTENT]: "dsse-envelope",
      [ANNOTATION_BUNDLE_PREDICATE_TYPE]: predicateType,
    },
  };
}

/** The referrer holding an unsigned in-toto statement (provenance of a build without a key). */
export function statementReferrer(
  subject: Pick<Descriptor, "mediaType" | "digest" | "size">,
  statement: InTotoStatement,
): AttachedArtifact {
  return referrerArtifact(subject, {
    artifactType: IN_TOTO_MEDIA_TYPE,
    blobs: [{ mediaType: IN_TOTO_MEDIA_TYPE, bytes: canonicalJson(statement) }],
    annotations: { [ANNOTATION_IN_TOTO_PREDICATE_TYPE]: statement.predicateType },
  });
}

/** Signs the manifest digest of `subject`: cosign's signature statement in a DSSE bundle, as a referrer. */
export async function signatureReferrer(
  subject: Pick<Descriptor, "mediaType" | "digest" | "size">,
  name: string,
  signer: Signer,
): Promise<AttachedArtifact> {
  const statement = statementAbout(subject, name, SIGNATURE_PREDICATE_TYPE, {});
  return bundleReferrer(subject, await signStatement(statement, signer), SIGNATURE_PREDICATE_TYPE);
}
