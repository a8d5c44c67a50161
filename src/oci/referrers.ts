import { isAgentrcError } from "../diagnostics/AgentrcError.js";
import { canonicalJson } from "../util/canonicalJson.js";
import { sha256Digest } from "./digest.js";
import { MAX_MANIFEST_SIZE, type OciLayout } from "./layout.js";
import { parseManifestObject } from "./manifest.js";
import {
  ANNOTATION_REF_NAME,
  EMPTY_JSON_DIGEST,
  EMPTY_JSON_SIZE,
  MEDIA_TYPE_OCI_EMPTY,
  MEDIA_TYPE_OCI_MANIFEST,
} from "./mediaTypes.js";
import type { Annotations, Descriptor, ImageManifest } from "./types.js";

/**
 * Referrers in an image layout (the local store, `--output` layouts, oci-archives): manifests whose `subject` is
 * another manifest (signatures, attestations, SBOMs, promotion records), kept as untagged index.json entries the way
 * oras-go's OCI store keeps them, so oras, skopeo and regctl reading the layout see them too.
 *
 * - `listReferrers` answers like the distribution-spec referrers API: one descriptor per referrer, with its
 *   `artifactType` (else its config media type) and its manifest annotations.
 * - An untagged referrer lives as long as its subject: `prune` keeps it only while the subject is kept
 *   (src/oci/prune.ts), and `rm` of the subject's last index entry removes it (`LocalStore.remove`).
 */
export type LayoutHolder = OciLayout | { layout: OciLayout };

/** One blob of a referrer: its media type, bytes and descriptor annotations. */
export interface ReferrerBlob {
  mediaType: string;
  bytes: Buffer | string;
  annotations?: Annotations;
}

export interface AttachReferrerOptions {
  /** The referrer's `artifactType` (the referrers API filters by it). */
  artifactType: string;
  /** The layers (at least one; the empty descriptor when none is given). */
  blobs?: readonly ReferrerBlob[];
  /** The referrer manifest's annotations (carried into referrers listings). */
  annotations?: Annotations;
}

/**
 * A referrer held in memory before it is written anywhere (a build's provenance and signatures): its manifest
 * (whose `subject` is `subject`) and its small blobs. Copies carry it with the package (src/transfer/filesSource.ts).
 */
export interface AttachedArtifact {
  descriptor: Descriptor;
  bytes: Buffer;
  subject: string;
  /** digest → bytes of its config and layers. */
  blobs: ReadonlyMap<string, Buffer>;
}

export interface AttachedReferrer {
  /** The referrer manifest's descriptor (with `artifactType`). */
  descriptor: Descriptor;
  /** Its exact bytes (canonical JSON). */
  bytes: Buffer;
}

/**
 * Builds a referrer of `subject` in memory: its blobs, the empty config and the manifest (canonical JSON, so the same
 * content gives the same digest). Nothing is written; `attachReferrer` stores one, copies carry one.
 */
export function referrerArtifact(
  subject: Pick<Descriptor, "mediaType" | "digest" | "size">,
  options: AttachReferrerOptions,
): AttachedArtifact {
  const blobs = new Map<string, Buffer>();
  const layers: Descriptor[] = [];
  for (const blob of options.blobs ?? []) {
    const bytes = Buffer.from(blob.bytes);
    const d: Descriptor = { mediaType: blob.mediaType, digest: sha256Digest(bytes), size: bytes.length };
    if (blob.annotations && Object.keys(blob.annotations).length > 0) d.annotations = { ...blob.annotations };
    blobs.set(d.digest, bytes);
    layers.push(d);
  }
  blobs.set(EMPTY_JSON_DIGEST, Buffer.from("{}"));
  const empty: Descriptor = {
    mediaType: MEDIA_TYPE_OCI_EMPTY,
    digest: EMPTY_JSON_DIGEST,
    size: EMPTY_JSON_SIZE,
  };
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_OCI_MANIFEST,
    artifactType: options.artifactType,
    config: empty,
    layers: layers.length > 0 ? layers : [{ ...empty }],
    subject: { mediaType: subject.mediaType, digest: subject.digest, size: subject.size },
  };
  if (options.annotations && Object.keys(options.annotations).length > 0) {
    manifest.annotations = { ...options.annotations };
  }
  const bytes = Buffer.from(canonicalJson(manifest));
  return {
    descriptor: {
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      digest: sha256Digest(bytes),
      size: bytes.length,
      artifactType: options.artifactType,
    },
    bytes,
    subject: subject.digest,
    blobs,
  };
}

/**
 * Stores a referrer of `subject` (a manifest the layout holds): the blobs, the empty config, then the manifest, then
 * an untagged index entry. Returns its descriptor and bytes.
 */
export async function attachReferrer(
  holder: LayoutHolder,
  subject: Pick<Descriptor, "mediaType" | "digest" | "size">,
  options: AttachReferrerOptions | AttachedArtifact,
): Promise<AttachedReferrer> {
  const layout = layoutOf(holder);
  const artifact: AttachedArtifact = isAttached(options) ? options : referrerArtifact(subject, options);
  for (const [digest, bytes] of artifact.blobs) await layout.putBlob(bytes, { digest, size: bytes.length });
  const descriptor = await putReferrerManifest(layout, artifact.bytes);
  return { descriptor, bytes: artifact.bytes };
}

/**
 * Stores referrer manifest bytes unchanged (a copy from elsewhere) and lists it as an untagged index entry. Its
 * layers must be in the layout already.
 */
export async function putReferrerManifest(holder: LayoutHolder, bytes: Buffer): Promise<Descriptor> {
  const layout = layoutOf(holder);
  const descriptor = await layout.putManifest(bytes);
  await layout.updateIndex((index) => {
    if (!index.manifests.some((d) => d.digest === descriptor.digest)) index.manifests.push(descriptor);
  });
  return descriptor;
}

/**
 * The referrers of `subjectDigest` in the layout (every index entry whose manifest names it as `subject`), as the
 * referrers API lists them, sorted by digest; `artifactType` filters.
 */
export async function listReferrers(
  holder: LayoutHolder,
  subjectDigest: string,
  options: { artifactType?: string } = {},
): Promise<Descriptor[]> {
  const layout = layoutOf(holder);
  const out = new Map<string, Descriptor>();
  // Many tags may name one manifest (a store with thousands of tags of one package): read each digest once.
  const read = new Set<string>();
  for (const entry of (await layout.readIndex()).manifests) {
    if (read.has(entry.digest)) continue;
    read.add(entry.digest);
    const manifest = await readManifestJson(layout, entry.digest);
    if (manifest === undefined || subjectDigestOf(manifest) !== subjectDigest) continue;
    const d = referrerEntry(entry, manifest);
    if (options.artifactType === undefined || d.artifactType === options.artifactType) out.set(d.digest, d);
  }
  return [...out.values()].sort((a, b) => (a.digest < b.digest ? -1 : a.digest > b.digest ? 1 : 0));
}

/**
 * The subject digest of every untagged index entry that is a referrer (manifests are immutable, so this may be read
 * outside the index lock and used under it).
 */
export async function untaggedReferrerSubjects(holder: LayoutHolder): Promise<Map<string, string>> {
  const layout = layoutOf(holder);
  const subjects = new Map<string, string>();
  const read = new Set<string>();
  for (const entry of (await layout.readIndex()).manifests) {
    if (entry.annotations?.[ANNOTATION_REF_NAME] !== undefined || read.has(entry.digest)) continue;
    read.add(entry.digest);
    const manifest = await readManifestJson(layout, entry.digest);
    const subject = manifest === undefined ? undefined : subjectDigestOf(manifest);
    if (subject !== undefined) subjects.set(entry.digest, subject);
  }
  return subjects;
}

/**
 * Drops from `manifests` the untagged referrers whose subject no entry names any more, repeatedly (a signature of
 * a provenance goes with the provenance). `subjects` comes from `untaggedReferrerSubjects`. Returns what was dropped.
 */
export function dropOrphanReferrers(
  manifests: Descriptor[],
  subjects: ReadonlyMap<string, string>,
): Descriptor[] {
  const dropped: Descriptor[] = [];
  let list = manifests;
  for (;;) {
    const present = new Set(list.map((d) => d.digest));
    const orphans = list.filter((d) => {
      if (d.annotations?.[ANNOTATION_REF_NAME] !== undefined) return false;
      const subject = subjects.get(d.digest);
      return subject !== undefined && !present.has(subject);
    });
    if (orphans.length === 0) break;
    dropped.push(...orphans);
    list = list.filter((d) => !orphans.includes(d));
  }
  manifests.splice(0, manifests.length, ...list);
  return dropped;
}

/** The `subject.digest` of a parsed manifest, if it has one. */
export function subjectDigestOf(manifest: Record<string, unknown>): string | undefined {
  const subject = manifest.subject as { digest?: unknown } | undefined;
  return subject !== null && typeof subject === "object" && typeof subject.digest === "string"
    ? subject.digest
    : undefined;
}

function referrerEntry(entry: Descriptor, manifest: Record<string, unknown>): Descriptor {
  const d: Descriptor = { mediaType: entry.mediaType, digest: entry.digest, size: entry.size };
  const config = manifest.config as { mediaType?: unknown } | undefined;
  const artifactType = typeof manifest.artifactType === "string" ? manifest.artifactType : config?.mediaType;
  if (typeof artifactType === "string") d.artifactType = artifactType;
  const annotations = manifest.annotations;
  if (annotations !== null && typeof annotations === "object" && Object.keys(annotations).length > 0) {
    d.annotations = { ...(annotations as Annotations) };
  }
  return d;
}

async function readManifestJson(
  layout: OciLayout,
  digest: string,
): Promise<Record<string, unknown> | undefined> {
  try {
    return parseManifestObject(
      await layout.readBlob(digest, MAX_MANIFEST_SIZE),
      digest,
      "OCI_MANIFEST_INVALID",
    );
  } catch (err) {
    // A missing or damaged manifest is nobody's referrer here; whoever reads it as a package reports it.
    if (
      isAgentrcError(err) &&
      /^OCI_(BLOB_NOT_FOUND|DIGEST_MISMATCH|SIZE_MISMATCH|MANIFEST_INVALID)$/.test(err.code)
    ) {
      return undefined;
    }
    throw err;
  }
}

function isAttached(options: AttachReferrerOptions | AttachedArtifact): options is AttachedArtifact {
  return "bytes" in options && options.blobs instanceof Map;
}

function layoutOf(holder: LayoutHolder): OciLayout {
  return "layout" in holder ? holder.layout : holder;
}
