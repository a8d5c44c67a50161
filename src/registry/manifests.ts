import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { repositoryScope } from "./challenge.js";
import { digestLike, isValidDigest, sha256Digest } from "./digest.js";
import { drain, readCapped, statusError } from "./errors.js";
import type { RegistryHttp } from "./http.js";
import type { Descriptor } from "./types.js";

export const MEDIA_TYPES = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
} as const;

/** Sent with every manifest GET/HEAD: without it Docker-lineage registries may answer schema1. */
export const MANIFEST_ACCEPT = [
  MEDIA_TYPES.ociManifest,
  MEDIA_TYPES.ociIndex,
  MEDIA_TYPES.dockerManifest,
  MEDIA_TYPES.dockerManifestList,
];

/** The manifest size limit, for reading and for pushing. */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;

export interface FetchedManifest {
  /** The exact bytes the registry stored (what the digest covers). */
  bytes: Buffer;
  mediaType: string;
  digest: string;
  size: number;
}

function manifestPath(repository: string, reference: string): string {
  return `/v2/${repository}/manifests/${reference}`;
}

function tooLarge(what: string, limit: number): AgentrcError {
  return new AgentrcError("REGISTRY_MANIFEST_TOO_LARGE", `${what}: manifest is larger than ${limit} bytes`);
}

const baseType = (contentType: string | undefined) => (contentType ?? "").split(";")[0]!.trim().toLowerCase();

/**
 * GET a manifest by tag or digest. The body is read with a size cap (enforced while reading); its digest is
 * computed and checked against the requested digest and against `Docker-Content-Digest`; the body's
 * `mediaType`, when present, must agree with `Content-Type`.
 */
export async function getManifest(
  http: RegistryHttp,
  repository: string,
  reference: string,
  options: { accept?: readonly string[]; maxBytes?: number } = {},
): Promise<FetchedManifest> {
  const what = `GET manifest ${repository}:${reference}`;
  const limit = options.maxBytes ?? MAX_MANIFEST_BYTES;
  const res = await http.request({
    method: "GET",
    url: manifestPath(repository, reference),
    scopes: [repositoryScope(repository, "pull")],
    headers: { accept: (options.accept ?? MANIFEST_ACCEPT).join(", ") },
  });
  if (res.status !== 200) throw await statusError(res, what);
  if (Number(res.headers["content-length"] ?? 0) > limit) {
    await drain(res);
    throw tooLarge(what, limit);
  }
  const bytes = await readCapped(res.body, limit, () => tooLarge(what, limit));
  const announced = res.headers["docker-content-digest"];
  const expected = isValidDigest(reference) ? reference : announced;
  const digest = expected ? digestLike(expected, bytes) : sha256Digest(bytes);
  if (isValidDigest(reference) && digest !== reference) {
    throw new AgentrcError("REGISTRY_DIGEST_MISMATCH", `${what}: content has digest ${digest}`);
  }
  if (announced !== undefined && digestLike(announced, bytes) !== announced) {
    throw new AgentrcError(
      "REGISTRY_DIGEST_MISMATCH",
      `${what}: Docker-Content-Digest is ${announced} but the content has digest ${digestLike(announced, bytes)}`,
    );
  }
  let parsed: { mediaType?: unknown };
  try {
    parsed = JSON.parse(bytes.toString("utf8"));
  } catch {
    throw new AgentrcError("REGISTRY_MANIFEST_INVALID", `${what}: manifest is not valid JSON`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new AgentrcError("REGISTRY_MANIFEST_INVALID", `${what}: manifest is not a JSON object`);
  }
  const contentType = baseType(res.headers["content-type"]);
  const bodyType = typeof parsed.mediaType === "string" ? parsed.mediaType : undefined;
  if (bodyType !== undefined && contentType !== "" && bodyType !== contentType) {
    throw new AgentrcError(
      "REGISTRY_MANIFEST_INVALID",
      `${what}: Content-Type ${contentType} disagrees with the manifest's mediaType ${bodyType}`,
    );
  }
  return { bytes, mediaType: bodyType ?? contentType, digest, size: bytes.length };
}

/** HEAD a manifest: its descriptor, or undefined on 404. Without Docker-Content-Digest it falls back to GET. */
export async function headManifest(
  http: RegistryHttp,
  repository: string,
  reference: string,
): Promise<Descriptor | undefined> {
  const res = await http.request({
    method: "HEAD",
    url: manifestPath(repository, reference),
    scopes: [repositoryScope(repository, "pull")],
    headers: { accept: MANIFEST_ACCEPT.join(", ") },
  });
  await drain(res);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw await statusError(res, `HEAD manifest ${repository}:${reference}`);
  const digest = res.headers["docker-content-digest"];
  if (digest === undefined || !isValidDigest(digest)) {
    const m = await getManifest(http, repository, reference);
    return { mediaType: m.mediaType, digest: m.digest, size: m.size };
  }
  if (isValidDigest(reference) && digest !== reference) {
    throw new AgentrcError(
      "REGISTRY_DIGEST_MISMATCH",
      `HEAD manifest ${repository}@${reference}: registry says ${digest}`,
    );
  }
  return {
    mediaType: baseType(res.headers["content-type"]),
    digest,
    size: Number(res.headers["content-length"] ?? -1),
  };
}

export interface PutManifestResult {
  digest: string;
  size: number;
  /** The `OCI-Subject` header: set when the registry maintains the referrers list itself. */
  subject?: string;
}

/**
 * PUT manifest bytes (stored verbatim) under a tag or digest with `Content-Type` = `mediaType`. The registry's
 * `Docker-Content-Digest` must equal the digest of the bytes sent.
 */
export async function putManifest(
  http: RegistryHttp,
  repository: string,
  reference: string,
  bytes: Uint8Array,
  mediaType: string,
): Promise<PutManifestResult> {
  const what = `PUT manifest ${repository}:${reference}`;
  if (bytes.length > MAX_MANIFEST_BYTES) throw tooLarge(what, MAX_MANIFEST_BYTES);
  const digest = sha256Digest(bytes);
  if (isValidDigest(reference) && reference !== digest) {
    throw new AgentrcError("REGISTRY_DIGEST_MISMATCH", `${what}: the manifest's digest is ${digest}`);
  }
  const body = Buffer.from(bytes);
  const res = await http.request({
    method: "PUT",
    url: manifestPath(repository, reference),
    scopes: [repositoryScope(repository, "pull", "push")],
    headers: { "content-type": mediaType, "content-length": String(body.length) },
    body: () => body,
  });
  if (res.status !== 201 && res.status !== 200 && res.status !== 204) throw await statusError(res, what);
  await drain(res);
  const announced = res.headers["docker-content-digest"];
  if (announced !== undefined && announced !== digest) {
    throw new AgentrcError(
      "REGISTRY_DIGEST_MISMATCH",
      `${what}: registry stored ${announced}, we sent ${digest}`,
    );
  }
  const out: PutManifestResult = { digest, size: body.length };
  const subject = res.headers["oci-subject"];
  if (subject) out.subject = subject;
  return out;
}

/** DELETE a manifest by digest (tags cannot be deleted through the spec API everywhere). */
export async function deleteManifest(http: RegistryHttp, repository: string, digest: string): Promise<void> {
  const res = await http.request({
    method: "DELETE",
    url: manifestPath(repository, digest),
    scopes: [repositoryScope(repository, "delete")],
  });
  if (res.status !== 202 && res.status !== 200 && res.status !== 204) {
    throw await statusError(res, `DELETE manifest ${repository}@${digest}`);
  }
  await drain(res);
}

/**
 * DELETE of a tag (distribution-spec 1.1: the tag goes, the manifest and its other tags stay). Returns false when
 * the registry only deletes by digest (distribution 2.x answers 400 DIGEST_INVALID, others 405 UNSUPPORTED).
 */
export async function deleteTagReference(
  http: RegistryHttp,
  repository: string,
  tag: string,
): Promise<boolean> {
  const res = await http.request({
    method: "DELETE",
    url: manifestPath(repository, tag),
    scopes: [repositoryScope(repository, "delete")],
  });
  if (res.status === 202 || res.status === 200 || res.status === 204) {
    await drain(res);
    return true;
  }
  const err = await statusError(res, `DELETE tag ${repository}:${tag}`);
  if (res.status === 400 || res.status === 405 || (res.status === 404 && /UNSUPPORTED/.test(err.message))) {
    return false;
  }
  throw err;
}
