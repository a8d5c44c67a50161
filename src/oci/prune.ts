import { readdir, stat, unlink } from "node:fs/promises";
import { join } from "node:path";
import { AgentrcError, isAgentrcError } from "../diagnostics/AgentrcError.js";
import { MAX_MANIFEST_SIZE, type OciLayout, TEMP_PREFIX } from "./layout.js";
import { leasedDigests } from "./lease.js";
import { referencedDescriptors } from "./manifest.js";
import { MANIFEST_MEDIA_TYPES, OCI_BLOBS_DIR } from "./mediaTypes.js";
import { untaggedReferrerSubjects } from "./referrers.js";
import type { Descriptor } from "./types.js";

/**
 * Garbage collection of an image layout: mark every blob reachable from index.json (manifests, their configs,
 * layers and child manifests, and the `subject` of a kept referrer; an untagged referrer entry only while its subject
 * is kept, src/oci/referrers.ts) plus every blob a live lease names
 * (src/oci/lease.ts), then delete every other blob. Mark and sweep run under the layout's index lock, which
 * leases are taken under too, so a writer that has written blobs but not indexed them yet is never broken.
 */
export interface PruneOptions {
  /** More digests to keep, read under the lock (the build cache's layer index). */
  roots?: () => Promise<Iterable<string>>;
  now?: number;
}

export interface PruneResult {
  /** Blobs deleted (a dead writer's temporary files go when the layout is opened: `removeStaleTemporaries`). */
  deleted: number;
  /** Bytes those files held. */
  bytes: number;
  /** Blobs kept and their bytes: what the index and the live leases reference. */
  kept: number;
  keptBytes: number;
}

export async function pruneLayout(layout: OciLayout, options: PruneOptions = {}): Promise<PruneResult> {
  const now = options.now ?? Date.now();
  return layout.withIndexLock(async () => {
    const keep = await indexedBlobs(layout);
    for (const d of await leasedDigests(layout, now)) keep.add(d);
    for (const d of (await options.roots?.()) ?? []) keep.add(d);
    const result: PruneResult = { deleted: 0, bytes: 0, kept: 0, keptBytes: 0 };
    const blobs = join(layout.root, OCI_BLOBS_DIR);
    for (const algorithm of await readdir(blobs)) {
      const dir = join(blobs, algorithm);
      const names = await readdir(dir).catch(() => [] as string[]); // a stray file, not a directory
      for (const name of names) {
        const path = join(dir, name);
        const info = await stat(path).catch(() => undefined);
        if (!info?.isFile()) continue;
        const digest = `${algorithm}:${name}`;
        if (name.startsWith(TEMP_PREFIX) || !/^[0-9a-f]+$/.test(name)) {
          continue; // a blob being written, or not a blob name: not ours to delete
        }
        if (keep.has(digest)) {
          result.kept += 1;
          result.keptBytes += info.size;
          continue;
        }
        await unlink(path);
        result.deleted += 1;
        result.bytes += info.size;
      }
    }
    return result;
  });
}

/**
 * Every blob reachable from index.json. A manifest that is missing keeps nothing; a corrupt one fails. An untagged
 * referrer (a signature, an attestation) is reachable only through its subject: it does not keep a package alive,
 * and goes once the package is gone.
 */
export async function indexedBlobs(layout: OciLayout): Promise<Set<string>> {
  const seen = new Set<string>();
  const referrers = await untaggedReferrerSubjects(layout);
  const visit = async (d: Descriptor): Promise<void> => {
    if (seen.has(d.digest)) return;
    seen.add(d.digest);
    if (!MANIFEST_MEDIA_TYPES.includes(d.mediaType)) return;
    let bytes: Buffer;
    try {
      bytes = await layout.readBlob(d.digest, MAX_MANIFEST_SIZE);
    } catch (err) {
      if (isAgentrcError(err) && err.code === "OCI_BLOB_NOT_FOUND") return;
      throw err;
    }
    let json: Record<string, unknown>;
    try {
      json = JSON.parse(bytes.toString("utf8")) as Record<string, unknown>;
    } catch (err) {
      throw new AgentrcError("OCI_MANIFEST_INVALID", `Manifest ${d.digest} in ${layout.root} is not JSON.`, {
        cause: err,
      });
    }
    for (const child of referencedDescriptors(json, d.mediaType)) await visit(child);
    const subject = json.subject as Descriptor | undefined;
    if (subject && typeof subject.digest === "string" && typeof subject.mediaType === "string") {
      await visit(subject);
    }
  };
  const entries = (await layout.readIndex()).manifests;
  for (const entry of entries) if (!referrers.has(entry.digest)) await visit(entry);
  let pending = entries.filter((e) => referrers.has(e.digest));
  for (let changed = true; changed; ) {
    changed = false;
    const next: Descriptor[] = [];
    for (const entry of pending) {
      if (seen.has(referrers.get(entry.digest)!)) {
        await visit(entry);
        changed = true;
      } else next.push(entry);
    }
    pending = next;
  }
  return seen;
}
