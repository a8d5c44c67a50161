import { AgentrcError, isAgentrcError } from "../diagnostics/AgentrcError.js";
import type { LocalStore } from "../oci/store.js";
import type { Descriptor } from "../oci/types.js";
import type { RegistryClient } from "../registry/client.js";
import { parseReference, type Reference } from "../registry/reference.js";
import type { CopyOptions } from "../transfer/copy.js";
import { LayoutTarget } from "../transfer/layoutTarget.js";
import { copyToRegistry } from "../transfer/registryCopy.js";
import type { PushImageResult } from "../transfer/types.js";

/** The store spellings of a reference: as written, then normalised as docker does (busybox → docker.io/…). */
export function storeCandidates(ref: string): string[] {
  const candidates = [ref];
  try {
    candidates.push(parseReference(ref).toString());
  } catch {
    // not a registry reference: only the literal tag can match
  }
  return [...new Set(candidates)];
}

/**
 * Finds `ref` in the local store: as written first, then in its normalised form (`oci://` dropped, Docker Hub
 * names expanded, `:latest` added), so `agentrc build -t localhost:5000/a` and `agentrc push oci://localhost:5000/a:latest`
 * find the same package. Returns the store tag (or digest reference) that matched.
 */
export async function findInStore(
  store: LocalStore,
  ref: string,
): Promise<{ descriptor: Descriptor; storeRef: string }> {
  let firstError: unknown;
  for (const candidate of storeCandidates(ref)) {
    try {
      return { descriptor: await store.resolve(candidate), storeRef: candidate };
    } catch (err) {
      if (!isAgentrcError(err) || err.code !== "OCI_REF_NOT_FOUND") throw err;
      firstError ??= err;
    }
  }
  throw firstError;
}

/** The local store as a copy source: references resolve as `findInStore` finds them. */
export function storeSource(store: LocalStore): LayoutTarget {
  return new LayoutTarget(store.layout, {
    description: `local store ${store.path}`,
    resolveReference: async (ref) => {
      try {
        return (await findInStore(store, ref)).descriptor;
      } catch (err) {
        if (isAgentrcError(err) && err.code === "OCI_REF_NOT_FOUND") {
          throw new AgentrcError("OCI_REF_NOT_FOUND", `${ref} is not in the local store (${store.path})`, {
            hint: `Build it first: agentrc build -t ${ref} <dir>, or check \`agentrc list\`.`,
            cause: err,
          });
        }
        throw err;
      }
    },
  });
}

/**
 * Pushes a package from the local store to `target`: the manifest bytes are pushed unchanged (same digest), blobs
 * are streamed from the store's files. `source` names the package in the store (default: `target` as written).
 */
export function pushFromStore(
  store: LocalStore,
  client: RegistryClient,
  target: Reference,
  source: string,
  options: Pick<CopyOptions, "concurrency" | "onProgress" | "mountFrom"> = {},
): Promise<PushImageResult> {
  // Signatures and attestations travel with the package (referrers API, else the sha256-<hex> tag).
  return copyToRegistry(storeSource(store), source, client, target, { ...options, referrers: true });
}
