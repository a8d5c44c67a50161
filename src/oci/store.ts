import { homedir } from "node:os";
import { isAbsolute, join, resolve } from "node:path";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { isDigest } from "./digest.js";
import { type IndexEntry, type LayoutOptions, OciLayout } from "./layout.js";
import { ANNOTATION_REF_NAME } from "./mediaTypes.js";
import { type PruneResult, pruneLayout } from "./prune.js";
import { dropOrphanReferrers, untaggedReferrerSubjects } from "./referrers.js";
import type { Descriptor } from "./types.js";

/**
 * The local store: one OCI image layout under the user's data directory, addressed by full reference
 * strings used as tag names (`localhost/example:1.0`, `ghcr.io/acme/reviewer:1.0`), like docker's image store.
 *
 * Location: `$AGENTRC_STORE`, else `$XDG_DATA_HOME/agentrc/store`, else `~/.local/share/agentrc/store`.
 * References are taken as given (already normalised by the caller, see src/registry/reference.ts); a
 * reference with `@sha256:…` resolves by its digest.
 */

export type Env = Readonly<Record<string, string | undefined>>;

/** Where the store lives for this environment (not created). */
export function defaultStorePath(env: Env = process.env): string {
  const explicit = env.AGENTRC_STORE;
  if (explicit !== undefined && explicit !== "") return resolve(explicit);
  return join(dataHome(env), "agentrc", "store");
}

/** The user's data directory: `$XDG_DATA_HOME`, else `~/.local/share` (the store and installed packages live here). */
export function dataHome(env: Env = process.env): string {
  const xdg = env.XDG_DATA_HOME;
  // XDG base-directory spec: a relative XDG_DATA_HOME is invalid and must be ignored.
  return xdg !== undefined && xdg !== "" && isAbsolute(xdg)
    ? xdg
    : join(env.HOME || homedir(), ".local", "share");
}

export interface StoreOptions extends LayoutOptions {
  /** Store directory; default `defaultStorePath(env)`. */
  path?: string;
  env?: Env;
}

export class LocalStore {
  readonly layout: OciLayout;

  private constructor(layout: OciLayout) {
    this.layout = layout;
  }

  /** Opens the store, creating the layout on first use. */
  static async open(options: StoreOptions = {}): Promise<LocalStore> {
    const { path, env, ...layoutOptions } = options;
    const dir = path ?? defaultStorePath(env);
    const layout = await OciLayout.create(dir, layoutOptions);
    await layout.removeStaleTemporaries();
    return new LocalStore(layout);
  }

  get path(): string {
    return this.layout.root;
  }

  /** Points `ref` at a manifest already written to `store.layout`. */
  tag(ref: string, descriptor: Descriptor): Promise<void> {
    return this.layout.tag(ref, descriptor);
  }

  untag(ref: string): Promise<boolean> {
    return this.layout.untag(ref);
  }

  /** The manifest descriptor of `ref` (`name:tag`, `name@sha256:…`, or a bare digest). OCI_REF_NOT_FOUND. */
  resolve(ref: string): Promise<Descriptor> {
    return this.layout.resolve(digestOf(ref) ?? ref);
  }

  /**
   * Removes index entries, like `docker rmi` without deleting data: a tag removes that tag, a digest
   * (`name@sha256:…` or `sha256:…`) every entry of that manifest. Blobs stay until `prune`. Each request lists
   * the spellings to try (as written, normalised); when any request matches nothing, nothing is removed
   * (OCI_REF_NOT_FOUND naming every missing one). Untagged referrers (signatures, attestations) of a manifest that
   * no entry names any more go too, reported with `referrerOf`.
   */
  async remove(requests: ReadonlyArray<RemoveRequest>): Promise<RemovedEntry[]> {
    const referrerSubjects = await untaggedReferrerSubjects(this.layout);
    return this.layout.updateIndex((index) => {
      const removed: RemovedEntry[] = [];
      const missing: string[] = [];
      for (const request of requests) {
        const matches = (d: Descriptor) =>
          request.candidates.some((c) => {
            const digest = digestOf(c) ?? (isDigest(c) ? c : undefined);
            return digest !== undefined ? d.digest === digest : d.annotations?.[ANNOTATION_REF_NAME] === c;
          });
        const hits = index.manifests.filter(matches);
        if (hits.length === 0) missing.push(request.ref);
        for (const d of hits) {
          removed.push({
            request: request.ref,
            ref: d.annotations?.[ANNOTATION_REF_NAME] ?? null,
            digest: d.digest,
          });
        }
        index.manifests = index.manifests.filter((d) => !matches(d));
      }
      for (const d of dropOrphanReferrers(index.manifests, referrerSubjects)) {
        removed.push({
          request: null,
          ref: null,
          digest: d.digest,
          referrerOf: referrerSubjects.get(d.digest)!,
        });
      }
      if (missing.length > 0) {
        throw new AgentrcError(
          "OCI_REF_NOT_FOUND",
          `${missing.map((m) => JSON.stringify(m)).join(", ")} ${missing.length === 1 ? "is" : "are"} not in the local store (${this.path}); nothing was removed.`,
          { hint: "Check the names with `agentrc list`." },
        );
      }
      return removed;
    });
  }

  /** Deletes every blob no index entry (nor a running build's lease) references; see src/oci/prune.ts. */
  prune(): Promise<PruneResult> {
    return pruneLayout(this.layout);
  }

  /** Tagged entries, sorted by reference. */
  async list(): Promise<Array<IndexEntry & { ref: string }>> {
    return (await this.layout.list()).filter((e): e is IndexEntry & { ref: string } => e.ref !== undefined);
  }
}

export interface RemoveRequest {
  /** The reference as the user wrote it. */
  ref: string;
  /** Store spellings to try: as written, then normalised (src/package/push.ts `storeCandidates`). */
  candidates: readonly string[];
}

export interface RemovedEntry {
  /** The reference as the user wrote it; null for a referrer removed with its subject. */
  request: string | null;
  /** The store reference removed, null for an untagged entry. */
  ref: string | null;
  digest: string;
  /** For a referrer removed because its subject went: the subject's digest. */
  referrerOf?: string;
}

/** The digest part of `name@sha256:…`, if any. */
function digestOf(ref: string): string | undefined {
  const at = ref.lastIndexOf("@");
  return at >= 0 ? ref.slice(at + 1) : undefined;
}
