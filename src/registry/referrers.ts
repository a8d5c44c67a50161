import { setTimeout as sleep } from "node:timers/promises";
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

/** How often a fallback update is written and checked before it is reported as lost to concurrent writers. */
export const FALLBACK_ATTEMPTS = 6;
/** The shortest wait between a fallback PUT and the read that checks it stuck. */
const MIN_SETTLE_MS = 20;
const MAX_SETTLE_MS = 2_000;

/**
 * Adds (or, with `remove`, drops) a referrer in the subject's fallback index and pushes it back.
 *
 * The tag is a read-modify-write that the registry cannot make atomic (the distribution API has no conditional
 * manifest PUT), so two clients attaching at once can each write an index without the other's entry, and both
 * would succeed. After its PUT the update therefore waits longer than its own read-to-write window (another writer
 * that read before this PUT has landed its write by then), re-reads the index and, while the change is not there,
 * merges it again, with jittered and growing waits so that competing writers spread out. If it still does not stick
 * after FALLBACK_ATTEMPTS it fails with REGISTRY_REFERRERS_CONFLICT rather than report a referrer nobody can find.
 */
export async function updateReferrersFallback(
  http: RegistryHttp,
  repository: string,
  subject: string,
  change: { add: Descriptor } | { remove: string },
): Promise<void> {
  const digest = "add" in change ? change.add.digest : change.remove;
  const holds = (index: ImageIndex | undefined): boolean =>
    (index?.manifests ?? []).some((d) => d.digest === digest) === "add" in change;
  let window = 0;
  for (let attempt = 0; attempt < FALLBACK_ATTEMPTS; attempt++) {
    const started = performance.now();
    const current = await readFallbackIndex(http, repository, subject);
    if (!holds(current)) {
      await putManifest(
        http,
        repository,
        referrersTag(subject),
        applyChange(current, change),
        MEDIA_TYPES.ociIndex,
      );
      window = Math.max(window, performance.now() - started);
    } else if (attempt === 0) {
      return;
    }
    await sleep(settleDelay(window, attempt));
    if (holds(await readFallbackIndex(http, repository, subject))) return;
  }
  const tag = referrersTag(subject);
  throw new AgentrcError(
    "REGISTRY_REFERRERS_CONFLICT",
    `referrers tag ${repository}:${tag}: ${"add" in change ? "adding" : "removing"} ${digest} did not stick after ${FALLBACK_ATTEMPTS} attempts: another client keeps rewriting the tag`,
    {
      hint: "Another client is attaching to the same package at the same time on a registry without the referrers API; run the command again once it is done (attach one at a time), or use a registry with the referrers API.",
    },
  );
}

/** The index bytes with `change` applied to `current` (or to an empty index). */
function applyChange(
  current: ImageIndex | undefined,
  change: { add: Descriptor } | { remove: string },
): Buffer {
  const index: ImageIndex = current ?? { schemaVersion: 2, mediaType: MEDIA_TYPES.ociIndex, manifests: [] };
  index.manifests =
    "add" in change
      ? [...index.manifests.filter((d) => d.digest !== change.add.digest), change.add]
      : index.manifests.filter((d) => d.digest !== change.remove);
  return Buffer.from(canonicalJson(index));
}

/** Twice the read-to-write window, jittered up to double and growing per attempt, so competing writers spread out. */
function settleDelay(windowMs: number, attempt: number): number {
  const base = Math.max(MIN_SETTLE_MS, 2 * windowMs) * (attempt + 1);
  return Math.min(MAX_SETTLE_MS, Math.ceil(base * (1 + Math.random())));
}
