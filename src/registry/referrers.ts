import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { canonicalJson } from "../util/canonicalJson.js";
import { pushAll } from "../util/pushAll.js";
import { repositoryScope } from "./challenge.js";
import { splitDigest } from "./digest.js";
import { readCapped, statusError } from "./errors.js";
import type { RegistryHttp } from "./http.js";
import { getManifest, MAX_MANIFEST_BYTES, MEDIA_TYPES, putManifest } from "./manifests.js";
import { nextLink } from "./tags.js";
import type { Descriptor } from "./types.js";

interface ImageIndex {
  schemaVersion: 2;
  mediaType: string;
  manifests: Descriptor[];
  [key: string]: unknown;
}

/** The referrers tag schema: `<alg>-<encoded>` (32 and 64 characters at most; other characters become `-`). */
export function referrersTag(digest: string): string {
  const [alg, encoded] = splitDigest(digest);
  return `${alg.slice(0, 32)}-${encoded.slice(0, 64)}`.replace(/[^a-zA-Z0-9_.-]/g, "-");
}

/** The descriptor a referrers list holds for a manifest: artifactType (else config.mediaType) and annotations. */
export function referrerDescriptor(bytes: Uint8Array, digest: string, mediaType: string): Descriptor {
  const m = JSON.parse(Buffer.from(bytes).toString("utf8")) as {
    artifactType?: unknown;
    config?: { mediaType?: unknown };
    annotations?: Record<string, string>;
  };
  const d: Descriptor = { mediaType, digest, size: bytes.length };
  const artifactType = typeof m.artifactType === "string" ? m.artifactType : m.config?.mediaType;
  if (typeof artifactType === "string") d.artifactType = artifactType;
  if (m.annotations && typeof m.annotations === "object") d.annotations = m.annotations;
  return d;
}

/**
 * The manifests that refer to `subject`: the referrers API when the registry has it (pages followed, filtered
 * client-side unless `OCI-Filters-Applied` says the registry did), else the `sha256-<hex>` tag fallback.
 */
export async function listReferrers(
  http: RegistryHttp,
  repository: string,
  subject: string,
  options: { artifactType?: string } = {},
): Promise<{ manifests: Descriptor[]; source: "api" | "tag" }> {
  const what = `list referrers of ${repository}@${subject}`;
  let url: URL | undefined = http.url(`/v2/${repository}/referrers/${subject}`);
  if (options.artifactType) url.searchParams.set("artifactType", options.artifactType);
  const manifests: Descriptor[] = [];
  let filtered = false;
  for (let page = 0; url; page++) {
    const res = await http.request({ method: "GET", url, scopes: [repositoryScope(repository, "pull")] });
    if (res.status === 404 && page === 0) {
      const err = await statusError(res, what);
      if (/NAME_UNKNOWN/.test(err.message)) return { manifests: [], source: "api" };
      return {
        manifests: filter(await readFallback(http, repository, subject), options.artifactType),
        source: "tag",
      };
    }
    if (res.status !== 200) throw await statusError(res, what);
    filtered ||= /artifactType/.test(res.headers["oci-filters-applied"] ?? "");
    const body = await readCapped(
      res.body,
      MAX_MANIFEST_BYTES,
      () => new AgentrcError("REGISTRY_MANIFEST_TOO_LARGE", `${what}: page larger than 4 MiB`),
    );
    pushAll(manifests, parseIndex(body, what).manifests);
    url = page < 1000 ? nextLink(res.headers.link, res.url, what) : undefined;
  }
  return { manifests: filtered ? manifests : filter(manifests, options.artifactType), source: "api" };
}

function filter(list: Descriptor[], artifactType: string | undefined): Descriptor[] {
  return artifactType === undefined ? list : list.filter((d) => d.artifactType === artifactType);
}

function parseIndex(bytes: Uint8Array, what: string): ImageIndex {
  let parsed: Partial<ImageIndex>;
  try {
    parsed = JSON.parse(Buffer.from(bytes).toString("utf8"));
  } catch {
    throw new AgentrcError("REGISTRY_REFERRERS_INVALID", `${what}: not JSON`);
  }
  if (parsed === null || typeof parsed !== "object") {
    throw new AgentrcError("REGISTRY_REFERRERS_INVALID", `${what}: not a JSON object`);
  }
  if (parsed.mediaType !== MEDIA_TYPES.ociIndex || !Array.isArray(parsed.manifests)) {
    throw new AgentrcError(
      "REGISTRY_REFERRERS_INVALID",
      `${what}: expected an image index, got ${String(parsed.mediaType ?? "a document without mediaType")}`,
    );
  }
  return parsed as ImageIndex;
}

/** The fallback index of `subject`, or an empty list when its tag does not exist. */
async function readFallback(http: RegistryHttp, repository: string, subject: string): Promise<Descriptor[]> {
  const index = await readFallbackIndex(http, repository, subject);
  return index?.manifests ?? [];
}

async function readFallbackIndex(
  http: RegistryHttp,
  repository: string,
  subject: string,
): Promise<ImageIndex | undefined> {
  const tag = referrersTag(subject);
  try {
    const m = await getManifest(http, repository, tag);
    if (m.digest === subject) {
      throw new AgentrcError(
        "REGISTRY_REFERRERS_INVALID",
        `referrers tag ${tag} points at the subject itself`,
      );
    }
    return parseIndex(m.bytes, `referrers tag ${repository}:${tag}`);
  } catch (err) {
    if (err instanceof AgentrcError && err.code === "REGISTRY_NOT_FOUND") return undefined;
    throw err;
  }
}

/** Adds (or, with `remove`, drops) a referrer in the subject's fallback index and pushes it back. */
export async function updateReferrersFallback(
  http: RegistryHttp,
  repository: string,
  subject: string,
  change: { add: Descriptor } | { remove: string },
): Promise<void> {
  const existing = await readFallbackIndex(http, repository, subject);
  const index: ImageIndex = existing ?? { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] };
  if ("add" in change) {
    if (index.manifests.some((d) => d.digest === change.add.digest)) return;
    index.manifests = [...index.manifests, change.add];
  } else {
    if (!index.manifests.some((d) => d.digest === change.remove)) return;
    index.manifests = index.manifests.filter((d) => d.digest !== change.remove);
  }
  const bytes = Buffer.from(canonicalJson(index));
  await putManifest(http, repository, referrersTag(subject), bytes, MEDIA_TYPES.ociIndex);
}
