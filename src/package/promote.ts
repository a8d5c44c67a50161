import { Readable } from "node:stream";
import { AgentrcError, isAgentrcError } from "../diagnostics/AgentrcError.js";
import { sha256Digest } from "../oci/digest.js";
import { ANNOTATION_IMAGE_PACKAGE_DIGEST, IMAGE_TAG_SUFFIX } from "../oci/image.js";
import { MAX_MANIFEST_SIZE, type OciLayout } from "../oci/layout.js";
import {
  ANNOTATION_CREATED,
  ANNOTATION_REF_NAME,
  ANNOTATION_VERSION,
  EMPTY_JSON_DIGEST,
  EMPTY_JSON_SIZE,
  MEDIA_TYPE_OCI_EMPTY,
  MEDIA_TYPE_OCI_MANIFEST,
} from "../oci/mediaTypes.js";
import { listReferrers, putReferrerManifest } from "../oci/referrers.js";
import { LocalStore } from "../oci/store.js";
import type { Descriptor } from "../oci/types.js";
import { RegistryClient, type RegistryClientOptions } from "../registry/client.js";
import { parseReference, type Reference } from "../registry/reference.js";
import { canonicalJson } from "../util/canonicalJson.js";
import { storeCandidates } from "./push.js";

/**
 * `agentrc promote` (docs/image.md#promotion): skillimage's lifecycle — draft → testing → published → deprecated →
 * archived, one step at a time — with its tag rules, but the package is never rewritten: the state is recorded as a
 * referrer of the manifest (artifactType `application/vnd.agentrc.promotion.v1`), so the manifest digest, and every
 * signature over it, stays the same from draft to archived, and the referrers list is the state history.
 */

export const LIFECYCLE_STATES = ["draft", "testing", "published", "deprecated", "archived"] as const;
export type LifecycleState = (typeof LIFECYCLE_STATES)[number];

export const ARTIFACT_TYPE_PROMOTION = "application/vnd.agentrc.promotion.v1";
export const MEDIA_TYPE_PROMOTION = "application/vnd.agentrc.promotion.v1+json";
export const ANNOTATION_PROMOTION_STATE = "io.agentrc.promotion.state";
export const ANNOTATION_PROMOTION_FROM = "io.agentrc.promotion.from";
/** 1 for the first promotion of a manifest, then 2, …: orders the history whatever the clocks said. */
export const ANNOTATION_PROMOTION_SEQUENCE = "io.agentrc.promotion.sequence";

/** The one state each state may move to (skillimage's transitions). */
const NEXT: Readonly<Record<LifecycleState, LifecycleState | undefined>> = {
  draft: "testing",
  testing: "published",
  published: "deprecated",
  deprecated: "archived",
  archived: undefined,
};

/** The tags a state gives version `v`: `<v>-draft`, `<v>-testing`, `<v>` and `latest`, `<v>`, none. */
export function tagsForState(version: string, state: LifecycleState): string[] {
  switch (state) {
    case "draft":
      return [`${version}-draft`];
    case "testing":
      return [`${version}-testing`];
    case "published":
      return [version, "latest"];
    case "deprecated":
      return [version];
    case "archived":
      return [];
  }
}

/** Every tag the lifecycle may have given version `v` (what a promotion moves or removes). */
const lifecycleTags = (version: string) => [`${version}-draft`, `${version}-testing`, version, "latest"];

export interface PromotionEvent {
  state: LifecycleState;
  from: LifecycleState;
  /** When it was recorded (RFC 3339). */
  at: string | null;
  sequence: number;
  /** The version the lifecycle tags were made of. */
  version: string | null;
  /** The promotion record's manifest digest (a referrer of the package). */
  record: string;
}

/** The state history from a manifest's referrers (promotion records only), oldest first. */
export function promotionHistory(referrers: readonly Descriptor[]): PromotionEvent[] {
  const events: PromotionEvent[] = [];
  for (const d of referrers) {
    if (d.artifactType !== ARTIFACT_TYPE_PROMOTION) continue;
    const a = d.annotations ?? {};
    const state = a[ANNOTATION_PROMOTION_STATE] as LifecycleState;
    const from = a[ANNOTATION_PROMOTION_FROM] as LifecycleState;
    const sequence = Number(a[ANNOTATION_PROMOTION_SEQUENCE]);
    if (!LIFECYCLE_STATES.includes(state) || !LIFECYCLE_STATES.includes(from) || !Number.isInteger(sequence))
      continue;
    events.push({
      state,
      from,
      at: a[ANNOTATION_CREATED] ?? null,
      sequence,
      version: a[ANNOTATION_VERSION] ?? null,
      record: d.digest,
    });
  }
  return events.sort((x, y) => x.sequence - y.sequence || (x.record < y.record ? -1 : 1));
}

/** A package's state: the last promotion's, `draft` before any. */
export const currentState = (history: readonly PromotionEvent[]): LifecycleState =>
  history.at(-1)?.state ?? "draft";

/** Where a promotion happens: the local store or a registry repository. */
interface PromotionSite {
  readonly description: string;
  /** The manifest a tag names now, or undefined. */
  resolveTag(tag: string): Promise<{ descriptor: Descriptor; bytes: Buffer } | undefined>;
  tag(tag: string, descriptor: Descriptor, bytes: Buffer): Promise<void>;
  /** Removes a tag; the manifest stays reachable by digest. */
  untag(tag: string, descriptor: Descriptor): Promise<void>;
  referrers(digest: string): Promise<Descriptor[]>;
  /** Stores a promotion record: its blobs (in memory) and its manifest, as a referrer. */
  attach(manifest: Buffer, blobs: ReadonlyMap<string, Buffer>): Promise<void>;
  close(): Promise<void>;
}

export interface PromoteOptions extends RegistryClientOptions {
  /** Promote in the local store (`--local`) instead of the registry. */
  local?: boolean;
  store?: string;
  /** Recorded as the promotion's time (default now). */
  now?: Date;
}

export interface PromoteResult {
  /** The package's manifest digest: the same before and after. */
  digest: string;
  /** `registry/repository` (or the store's repository part). */
  repository: string;
  where: "store" | "registry";
  /** The version the tags are made of (`org.opencontainers.image.version`, else the reference's tag). */
  packageVersion: string;
  from: LifecycleState;
  to: LifecycleState;
  /** Tags now pointing at the package (and, with an image beside it, at its image: `<tag>-image`). */
  added: string[];
  removed: string[];
  /** The promotion record's manifest digest. */
  record: string;
  history: PromotionEvent[];
}

/**
 * Moves the package `ref` names one state on (`to` must be the next state), following the tag rules: the new
 * state's tags are pointed at the unchanged manifest (the same bytes, the same digest), the other lifecycle tags of
 * this version that point at it are removed, an image beside it (`<tag>-image`, docs/image.md) follows, and a
 * promotion record is attached as a referrer. Archived removes every tag: the package stays, by digest.
 */
export async function promotePackage(
  ref: string,
  to: LifecycleState,
  options: PromoteOptions = {},
): Promise<PromoteResult> {
  const parsed = parseReference(ref);
  const site = options.local === true ? await storeSite(ref, parsed, options) : registrySite(parsed, options);
  try {
    const resolved = await resolvePackage(site, parsed);
    const { descriptor, bytes } = resolved;
    const manifest = JSON.parse(bytes.toString("utf8")) as { annotations?: Record<string, string> };
    const history = promotionHistory(await site.referrers(descriptor.digest));
    const from = currentState(history);
    if (NEXT[from] !== to) {
      throw new AgentrcError(
        "PROMOTE_TRANSITION_INVALID",
        `${ref} is ${from}: it cannot be promoted to ${to}${NEXT[from] ? ` (the next state is ${NEXT[from]})` : " (archived is the last state)"}`,
      );
    }
    const version =
      manifest.annotations?.[ANNOTATION_VERSION] ?? history.at(-1)?.version ?? versionFromTag(parsed.tag);
    if (version === undefined) {
      throw new AgentrcError(
        "PROMOTE_VERSION_UNKNOWN",
        `${ref} has no ${ANNOTATION_VERSION} annotation and no lifecycle tag to read its version from`,
      );
    }
    const wanted = tagsForState(version, to);
    const candidates = [...new Set([...lifecycleTags(version), ...(parsed.tag ? [parsed.tag] : [])])];
    const ours: string[] = [];
    for (const tag of candidates) {
      if ((await site.resolveTag(tag))?.descriptor.digest === descriptor.digest) ours.push(tag);
    }
    const image = await findImage(site, ours, descriptor.digest);
    const added: string[] = [];
    const removed: string[] = [];
    for (const tag of wanted) {
      await site.tag(tag, descriptor, bytes);
      added.push(tag);
      if (image) {
        await site.tag(`${tag}${IMAGE_TAG_SUFFIX}`, image.descriptor, image.bytes);
        added.push(`${tag}${IMAGE_TAG_SUFFIX}`);
      }
    }
    const at = (options.now ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z");
    const sequence = (history.at(-1)?.sequence ?? 0) + 1;
    const record = promotionRecord(descriptor, { from, to, version, at, sequence, tags: wanted });
    await site.attach(record.bytes, record.blobs);
    for (const tag of ours.filter((t) => !wanted.includes(t))) {
      await site.untag(tag, descriptor);
      removed.push(tag);
      const imageTag = `${tag}${IMAGE_TAG_SUFFIX}`;
      if (image && (await site.resolveTag(imageTag))?.descriptor.digest === image.descriptor.digest) {
        await site.untag(imageTag, image.descriptor);
        removed.push(imageTag);
      }
    }
    return {
      digest: descriptor.digest,
      repository: `${parsed.registry}/${parsed.repository}`,
      where: options.local === true ? "store" : "registry",
      packageVersion: version,
      from,
      to,
      added,
      removed,
      record: record.digest,
      history: [...history, { state: to, from, at, sequence, version, record: record.digest }],
    };
  } finally {
    await site.close();
  }
}

/** The state history of the package `ref` names, from its referrers (store or registry). */
export async function readPromotionHistory(
  digest: string,
  where: { layout: OciLayout } | { reference: Reference; client: RegistryClientOptions },
): Promise<PromotionEvent[]> {
  if ("layout" in where) {
    return promotionHistory(
      await listReferrers(where.layout, digest, { artifactType: ARTIFACT_TYPE_PROMOTION }),
    );
  }
  const client = new RegistryClient(where.reference.registry, where.client);
  try {
    const { manifests } = await client.listReferrers(where.reference.repository, digest, {
      artifactType: ARTIFACT_TYPE_PROMOTION,
    });
    return promotionHistory(manifests);
  } finally {
    await client.close();
  }
}

/** `1.0-draft` → `1.0`, `1.0-testing` → `1.0`, `1.0` → `1.0`; `latest` and no tag give nothing. */
function versionFromTag(tag: string | undefined): string | undefined {
  if (tag === undefined || tag === "latest") return undefined;
  return tag.replace(/-(draft|testing)$/, "");
}

/** The manifest `ref` names at the site (its tag, or its digest). */
async function resolvePackage(
  site: PromotionSite,
  ref: Reference,
): Promise<{ descriptor: Descriptor; bytes: Buffer }> {
  const found = await site.resolveTag(ref.digest ?? ref.tag!);
  if (!found) {
    throw new AgentrcError("OCI_REF_NOT_FOUND", `${ref} is not in ${site.description}`, {
      hint: "Check the reference; promote --local works on the local store, without it on the registry.",
    });
  }
  return found;
}

/** The package's image beside one of its tags, when it is this package's (docs/image.md). */
async function findImage(
  site: PromotionSite,
  tags: readonly string[],
  digest: string,
): Promise<{ descriptor: Descriptor; bytes: Buffer } | undefined> {
  for (const tag of tags) {
    const image = await site.resolveTag(`${tag}${IMAGE_TAG_SUFFIX}`);
    if (!image) continue;
    const annotations = (JSON.parse(image.bytes.toString("utf8")) as { annotations?: Record<string, string> })
      .annotations;
    if (annotations?.[ANNOTATION_IMAGE_PACKAGE_DIGEST] === digest) return image;
  }
  return undefined;
}

/** A promotion record: an artifact manifest whose subject is the package, its one layer the record as JSON. */
function promotionRecord(
  subject: Descriptor,
  fields: {
    from: LifecycleState;
    to: LifecycleState;
    version: string;
    at: string;
    sequence: number;
    tags: string[];
  },
): { digest: string; bytes: Buffer; blobs: Map<string, Buffer> } {
  const body = Buffer.from(canonicalJson(fields));
  const bodyDigest = sha256Digest(body);
  const empty = { mediaType: MEDIA_TYPE_OCI_EMPTY, digest: EMPTY_JSON_DIGEST, size: EMPTY_JSON_SIZE };
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_OCI_MANIFEST,
    artifactType: ARTIFACT_TYPE_PROMOTION,
    config: empty,
    layers: [{ mediaType: MEDIA_TYPE_PROMOTION, digest: bodyDigest, size: body.length }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
    annotations: {
      [ANNOTATION_PROMOTION_STATE]: fields.to,
      [ANNOTATION_PROMOTION_FROM]: fields.from,
      [ANNOTATION_PROMOTION_SEQUENCE]: String(fields.sequence),
      [ANNOTATION_CREATED]: fields.at,
      [ANNOTATION_VERSION]: fields.version,
    },
  };
  const bytes = Buffer.from(canonicalJson(manifest));
  return {
    digest: sha256Digest(bytes),
    bytes,
    blobs: new Map([
      [EMPTY_JSON_DIGEST, Buffer.from("{}")],
      [bodyDigest, body],
    ]),
  };
}

/**
 * The local store: tags are full references (`host/repo:tag`); removing the last tag of the package keeps an
 * untagged index entry, so an archived package stays (by digest) with its history until `agentrc rm`.
 */
async function storeSite(written: string, ref: Reference, options: PromoteOptions): Promise<PromotionSite> {
  const store = await LocalStore.open(options.store === undefined ? {} : { path: options.store });
  // The repository as the store spells it: the written reference's, else the normalised one's.
  let base = `${ref.registry}/${ref.repository}`;
  for (const candidate of storeCandidates(written)) {
    const at = candidate.lastIndexOf("@");
    const colon = candidate.lastIndexOf(":");
    const name =
      at >= 0
        ? candidate.slice(0, at)
        : colon > candidate.lastIndexOf("/")
          ? candidate.slice(0, colon)
          : candidate;
    if ((await store.layout.list()).some((e) => e.ref?.startsWith(`${name}:`))) {
      base = name;
      break;
    }
  }
  const full = (tag: string) => (tag.startsWith("sha256:") ? tag : `${base}:${tag}`);
  const read = async (descriptor: Descriptor) => ({
    descriptor: { mediaType: descriptor.mediaType, digest: descriptor.digest, size: descriptor.size },
    bytes: await store.layout.readBlob(descriptor.digest, MAX_MANIFEST_SIZE),
  });
  return {
    description: `the local store (${store.path})`,
    async resolveTag(tag) {
      try {
        return await read(await store.resolve(full(tag)));
      } catch (err) {
        if (isAgentrcError(err) && err.code === "OCI_REF_NOT_FOUND") return undefined;
        throw err;
      }
    },
    tag: (tag, descriptor) => store.tag(full(tag), descriptor),
    async untag(tag, descriptor) {
      await store.layout.updateIndex((index) => {
        index.manifests = index.manifests.filter((d) => d.annotations?.[ANNOTATION_REF_NAME] !== full(tag));
        if (!index.manifests.some((d) => d.digest === descriptor.digest))
          index.manifests.push({ ...descriptor });
      });
    },
    referrers: (digest) => listReferrers(store.layout, digest, { artifactType: ARTIFACT_TYPE_PROMOTION }),
    async attach(manifest, blobs) {
      for (const [digest, bytes] of blobs) await store.layout.putBlob(bytes, { digest, size: bytes.length });
      await putReferrerManifest(store.layout, manifest);
    },
    close: async () => {},
  };
}

/** A registry repository: tags through the distribution API, the record through its referrers (or the tag fallback). */
function registrySite(ref: Reference, options: PromoteOptions): PromotionSite {
  const { local: _l, store: _s, now: _n, ...clientOptions } = options;
  const client = new RegistryClient(ref.registry, clientOptions);
  const repo = ref.repository;
  return {
    description: `${ref.registry}/${repo}`,
    async resolveTag(tag) {
      const head = await client.headManifest(repo, tag);
      if (head === undefined) return undefined;
      const m = await client.getManifest(repo, head.digest);
      return { descriptor: { mediaType: m.mediaType, digest: m.digest, size: m.size }, bytes: m.bytes };
    },
    async tag(tag, descriptor, bytes) {
      await client.putManifest(repo, tag, bytes, descriptor.mediaType);
    },
    untag: (tag) => client.deleteTag(repo, tag),
    async referrers(digest) {
      return (await client.listReferrers(repo, digest, { artifactType: ARTIFACT_TYPE_PROMOTION })).manifests;
    },
    async attach(manifest, blobs) {
      for (const [digest, bytes] of blobs) {
        if ((await client.headBlob(repo, digest)) !== undefined) continue;
        await client.pushBlob(repo, { digest, size: bytes.length, open: () => Readable.from([bytes]) });
      }
      await client.putManifest(repo, sha256Digest(manifest), manifest, MEDIA_TYPE_OCI_MANIFEST);
    },
    close: () => client.close(),
  };
}
