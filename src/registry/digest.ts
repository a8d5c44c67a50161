import { createHash, type Hash } from "node:crypto";

/** Image-spec digest grammar: algorithm ":" encoded. */
const DIGEST_RE = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;
const KNOWN_LENGTHS: Record<string, number> = { sha256: 64, sha512: 128 };

/** True when `value` is a digest per the image spec; registered algorithms must also have the right hex length. */
export function isValidDigest(value: string): boolean {
  if (!DIGEST_RE.test(value)) return false;
  const [algorithm, encoded] = splitDigest(value);
  const length = KNOWN_LENGTHS[algorithm];
  return length === undefined || (encoded.length === length && /^[a-f0-9]+$/.test(encoded));
}

export function splitDigest(digest: string): [algorithm: string, encoded: string] {
  const i = digest.indexOf(":");
  return [digest.slice(0, i), digest.slice(i + 1)];
}

/** The node:crypto hash for a digest's algorithm, or undefined when agentrc cannot verify it. */
export function hasherFor(digest: string): Hash | undefined {
  const [algorithm] = splitDigest(digest);
  return algorithm === "sha256" || algorithm === "sha512" ? createHash(algorithm) : undefined;
}

export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** Computes `data`'s digest with the algorithm of `like` (sha256 when unknown). */
export function digestLike(like: string, data: Uint8Array): string {
  const [algorithm] = splitDigest(like);
  const alg = algorithm === "sha512" ? "sha512" : "sha256";
  return `${alg}:${createHash(alg).update(data).digest("hex")}`;
}
