import type { Readable } from "node:stream";
import { bundleFromJSON } from "@sigstore/bundle";
import { type TrustMaterial, toSignedEntity, Verifier } from "@sigstore/verify";
import { AgentrcError, isAgentrcError } from "../diagnostics/AgentrcError.js";
import { parseImageManifest } from "../oci/manifest.js";
import { MEDIA_TYPE_OCI_MANIFEST } from "../oci/mediaTypes.js";
import type { Descriptor } from "../oci/types.js";
import type { ReadTarget } from "../transfer/types.js";
import {
  ANNOTATION_BUNDLE_PREDICATE_TYPE,
  BUNDLE_MEDIA_TYPE,
  IN_TOTO_MEDIA_TYPE,
  type InTotoStatement,
  SIGNATURE_PREDICATE_TYPE,
  SLSA_PROVENANCE_PREDICATE_TYPE,
} from "./bundles.js";
import type { PublicKeyInfo } from "./keys.js";

/**
 * Reads and checks the signatures and attestations attached to a package: every referrer that is a Sigstore bundle
 * (or an unsigned in-toto statement) is fetched, parsed with @sigstore/bundle and, when its key is among `keys`,
 * verified with @sigstore/verify's `Verifier` (the keys as trust material; no transparency log, certificate log or
 * timestamp required: these are offline key signatures). The statement inside must name the manifest digest.
 */
export type BundleKind = "signature" | "provenance" | "attestation";

export interface BundleCheck {
  /** The referrer manifest's digest. */
  referrer: string;
  kind: BundleKind;
  predicateType: string | undefined;
  /** The bundle's key hint (base64 SHA-256 of the key's DER SPKI); undefined for an unsigned statement. */
  keyId: string | undefined;
  /** `verified` by one of the keys; `unknown-key`: signed by a key not given; `unsigned` statement; `failed`. */
  status: "verified" | "unknown-key" | "unsigned" | "failed";
  /** The given key that verified it (its file). */
  signer?: string;
  code?: string;
  message?: string;
}

export interface TrustFailure {
  code: string;
  /** `signature <referrer digest>`, `provenance <digest>`, `signatures`. */
  part: string;
  message: string;
}

export interface AttachmentReport {
  subject: string;
  bundles: BundleCheck[];
  /**
   * The package's SLSA provenance statement, when it has one whose subject matches: the one verified by a given key
   * if any, else one signed by another key, else an unsigned one.
   */
  provenance: InTotoStatement | undefined;
  /** The check of the referrer `provenance` came from: how it is vouched for. */
  provenanceCheck?: BundleCheck;
  /** Tampered, malformed or misdirected bundles (always failures, whatever the keys). */
  failures: TrustFailure[];
}

const PROVENANCE_RANK: Record<BundleCheck["status"], number> = {
  verified: 0,
  "unknown-key": 1,
  unsigned: 2,
  failed: 3,
};

/** Bundles larger than this are refused (a DSSE bundle of a provenance is a few KiB). */
const MAX_BUNDLE_BYTES = 4 * 1024 * 1024;

/** Every signature and attestation of `subject` in `source`, checked against `keys`. Never throws for a bad bundle. */
export async function checkAttachments(
  source: ReadTarget,
  subject: string,
  keys: readonly PublicKeyInfo[],
): Promise<AttachmentReport> {
  const report: AttachmentReport = { subject, bundles: [], provenance: undefined, failures: [] };
  if (source.referrers === undefined) return report;
  const verifier = verifierFor(keys);
  let provenanceRank = Number.POSITIVE_INFINITY;
  for (const listed of await source.referrers(subject)) {
    // Some copies of a fallback index lose the descriptors' artifactType (skopeo): read it from the manifest.
    const d = listed.artifactType === undefined ? await withArtifactType(source, listed) : listed;
    const isBundle = d.artifactType === BUNDLE_MEDIA_TYPE;
    if (!isBundle && d.artifactType !== IN_TOTO_MEDIA_TYPE) continue;
    const check = await checkOne(source, d, subject, isBundle, keys, verifier);
    report.bundles.push(check.result);
    if (check.result.status === "failed") {
      report.failures.push({
        code: check.result.code!,
        part: `${check.result.kind} ${d.digest}`,
        message: check.result.message!,
      });
    } else if (check.statement?.predicateType === SLSA_PROVENANCE_PREDICATE_TYPE) {
      // Anyone who may push can attach an unsigned statement: the report shows the most trustworthy one, a
      // statement verified by a given key over one merely signed over an unsigned one, whatever the listing order.
      const rank = PROVENANCE_RANK[check.result.status];
      if (report.provenance === undefined || rank < provenanceRank) {
        report.provenance = check.statement;
        report.provenanceCheck = check.result;
        provenanceRank = rank;
      }
    }
  }
  return report;
}

/**
 * The signature requirement: a signature (cosign's sign predicate) verified by every key (`all`) or one of them
 * (`any`). TRUST_SIGNATURE_MISSING when the package has no signature at all, TRUST_KEY_MISMATCH when none of its
 * signatures is by the key; bundle failures (tampered, another digest, malformed) come first.
 */
export function signatureFailures(
  report: AttachmentReport,
  keys: readonly PublicKeyInfo[],
  mode: "all" | "any" = "all",
): TrustFailure[] {
  const failures = [...report.failures];
  const signatures = report.bundles.filter((b) => b.kind === "signature");
  const verifiedBy = new Set(signatures.filter((b) => b.status === "verified").map((b) => b.keyId));
  const missing = keys.filter((k) => !verifiedBy.has(k.keyId));
  const satisfied = mode === "any" ? missing.length < keys.length : missing.length === 0;
  if (satisfied || keys.length === 0) return failures;
  const names = (mode === "any" ? keys : missing).map((k) => k.source).join(", ");
  if (signatures.length === 0) {
    failures.push({
      code: "TRUST_SIGNATURE_MISSING",
      part: "signatures",
      message: `${report.subject} has no signature (no Sigstore bundle signing the manifest digest)`,
    });
  } else if (failures.length === 0 || signatures.some((s) => s.status !== "failed")) {
    failures.push({
      code: "TRUST_KEY_MISMATCH",
      part: "signatures",
      message: `${report.subject} has ${signatures.length} signature${signatures.length === 1 ? "" : "s"}, none by ${mode === "any" ? "any of " : ""}${names} (signed by ${[...new Set(signatures.map((s) => s.keyId ?? "?"))].join(", ")})`,
    });
  }
  return failures;
}

async function checkOne(
  source: ReadTarget,
  d: Descriptor,
  subject: string,
  isBundle: boolean,
  keys: readonly PublicKeyInfo[],
  verifier: Verifier,
): Promise<{ result: BundleCheck; statement?: InTotoStatement }> {
  const annotated = d.annotations?.[ANNOTATION_BUNDLE_PREDICATE_TYPE];
  const result: BundleCheck = {
    referrer: d.digest,
    kind: kindOf(annotated),
    predicateType: annotated,
    keyId: undefined,
    status: isBundle ? "unknown-key" : "unsigned",
  };
  const fail = (code: string, message: string) => {
    result.status = "failed";
    result.code = code;
    result.message = message;
    return { result };
  };
  let layerBytes: Buffer;
  try {
    const resolved = await source.resolve(d.digest);
    // The one manifest validator: a referrer is hostile input like any manifest (layers not an array, a subject
    // that is not a descriptor, …).
    const manifest = parseImageManifest(
      resolved.bytes,
      resolved.descriptor.mediaType || MEDIA_TYPE_OCI_MANIFEST,
      `referrer ${d.digest}`,
      "OCI_MANIFEST_INVALID",
    );
    if (manifest.subject?.digest !== subject) {
      return fail(
        "TRUST_BUNDLE_SUBJECT_MISMATCH",
        `referrer ${d.digest} is listed for ${subject} but its subject is ${String(manifest.subject?.digest)}`,
      );
    }
    const wanted = isBundle ? BUNDLE_MEDIA_TYPE : IN_TOTO_MEDIA_TYPE;
    const layer = manifest.layers.find((l) => l.mediaType === wanted);
    if (layer === undefined)
      return fail("TRUST_BUNDLE_INVALID", `referrer ${d.digest} has no ${wanted} layer`);
    if (layer.size > MAX_BUNDLE_BYTES) {
      return fail(
        "TRUST_BUNDLE_INVALID",
        `referrer ${d.digest}: the bundle is ${layer.size} bytes, over the limit`,
      );
    }
    layerBytes = await collect(await source.fetch(layer));
  } catch (err) {
    if (isAgentrcError(err) && /DIGEST_MISMATCH|SIZE_MISMATCH/.test(err.code)) {
      return fail("TRUST_BUNDLE_TAMPERED", `referrer ${d.digest}: ${err.message}`);
    }
    if (isAgentrcError(err) && /NOT_FOUND/.test(err.code)) {
      return fail("TRUST_BUNDLE_INVALID", `referrer ${d.digest} cannot be read: ${err.message}`);
    }
    if (isAgentrcError(err) && err.code === "TRUST_BUNDLE_INVALID") return fail(err.code, err.message);
    if (isAgentrcError(err) && /MANIFEST_(INVALID|UNSUPPORTED)/.test(err.code)) {
      return fail("TRUST_BUNDLE_INVALID", err.message);
    }
    if (err instanceof SyntaxError) return fail("TRUST_BUNDLE_INVALID", `referrer ${d.digest} is not JSON`);
    throw err;
  }
  let payload: Buffer;
  if (isBundle) {
    let bundle: ReturnType<typeof bundleFromJSON>;
    try {
      bundle = bundleFromJSON(JSON.parse(layerBytes.toString("utf8")));
    } catch (err) {
      return fail(
        "TRUST_BUNDLE_INVALID",
        `referrer ${d.digest} is not a Sigstore bundle: ${(err as Error).message}`,
      );
    }
    if (bundle.content.$case !== "dsseEnvelope") {
      return fail(
        "TRUST_BUNDLE_INVALID",
        `referrer ${d.digest} is a message-signature bundle; agentrc reads DSSE bundles`,
      );
    }
    const material = bundle.verificationMaterial.content;
    result.keyId = material.$case === "publicKey" ? material.publicKey.hint : undefined;
    const key = keys.find((k) => k.keyId === result.keyId);
    if (key !== undefined) {
      try {
        verifier.verify(toSignedEntity(bundle));
        result.status = "verified";
        result.signer = key.source;
      } catch (err) {
        return fail(
          "TRUST_BUNDLE_TAMPERED",
          `referrer ${d.digest}: the bundle does not verify with ${key.source}: ${(err as Error).message}`,
        );
      }
    }
    payload = bundle.content.dsseEnvelope.payload;
    if (bundle.content.dsseEnvelope.payloadType !== IN_TOTO_MEDIA_TYPE) {
      return fail(
        "TRUST_BUNDLE_INVALID",
        `referrer ${d.digest}: the envelope does not hold an in-toto statement`,
      );
    }
  } else {
    payload = layerBytes;
  }
  let statement: InTotoStatement;
  try {
    statement = JSON.parse(payload.toString("utf8")) as InTotoStatement;
    if (!Array.isArray(statement.subject) || typeof statement.predicateType !== "string")
      throw new Error("shape");
  } catch {
    return fail("TRUST_BUNDLE_INVALID", `referrer ${d.digest} does not hold an in-toto statement`);
  }
  result.predicateType = statement.predicateType;
  result.kind = kindOf(statement.predicateType);
  const hex = subject.slice("sha256:".length);
  if (!statement.subject.some((s) => s?.digest?.sha256 === hex)) {
    const named = statement.subject.map((s) => `sha256:${s?.digest?.sha256}`).join(", ");
    return fail(
      result.kind === "provenance" ? "TRUST_PROVENANCE_SUBJECT_MISMATCH" : "TRUST_BUNDLE_SUBJECT_MISMATCH",
      `the ${result.kind} in referrer ${d.digest} is about ${named}, not ${subject}`,
    );
  }
  return { result, statement };
}

async function withArtifactType(source: ReadTarget, d: Descriptor): Promise<Descriptor> {
  try {
    const m = JSON.parse((await source.resolve(d.digest)).bytes.toString("utf8")) as {
      artifactType?: unknown;
      config?: { mediaType?: unknown };
      annotations?: Record<string, string>;
    };
    const artifactType = typeof m.artifactType === "string" ? m.artifactType : m.config?.mediaType;
    return {
      ...d,
      ...(typeof artifactType === "string" ? { artifactType } : {}),
      ...(m.annotations && typeof m.annotations === "object" ? { annotations: m.annotations } : {}),
    };
  } catch {
    return d;
  }
}

function kindOf(predicateType: string | undefined): BundleKind {
  if (predicateType === SIGNATURE_PREDICATE_TYPE) return "signature";
  if (predicateType === SLSA_PROVENANCE_PREDICATE_TYPE) return "provenance";
  return "attestation";
}

/** @sigstore/verify over the given keys alone: no CA, no logs, no timestamp authority (thresholds 0). */
function verifierFor(keys: readonly PublicKeyInfo[]): Verifier {
  const trust: TrustMaterial = {
    certificateAuthorities: [],
    timestampAuthorities: [],
    tlogs: [],
    ctlogs: [],
    publicKey: (hint: string) => {
      const key = keys.find((k) => k.keyId === hint);
      if (key === undefined) {
        throw new AgentrcError("TRUST_KEY_MISMATCH", `no trusted key has the id ${hint}`);
      }
      return { publicKey: key.key, validFor: () => true };
    },
  };
  return new Verifier(trust, { tlogThreshold: 0, ctlogThreshold: 0, timestampThreshold: 0 });
}

async function collect(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let n = 0;
  for await (const c of stream) {
    n += (c as Buffer).length;
    if (n > MAX_BUNDLE_BYTES) {
      stream.destroy();
      throw new AgentrcError("TRUST_BUNDLE_INVALID", `a bundle is over ${MAX_BUNDLE_BYTES} bytes`);
    }
    chunks.push(c as Buffer);
  }
  return Buffer.concat(chunks);
}
