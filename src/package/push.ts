import { AgentrcError, isAgentrcError } from "../diagnostics/AgentrcError.js";
import { referencedDescriptors } from "../oci/layout.js";
import { ANNOTATION_TITLE, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_OCI_MANIFEST } from "../oci/mediaTypes.js";
import type { LocalStore } from "../oci/store.js";
import type { Descriptor } from "../oci/types.js";
import { fileBlob } from "../registry/blobs.js";
import type { RegistryClient } from "../registry/client.js";
import {
  type NamedBlob,
  type PushImageOptions,
  type PushImageResult,
  pushImage,
} from "../registry/pushImage.js";
import { parseReference, type Reference } from "../registry/reference.js";

/** Manifest types push and pull handle: single image manifests. */
export const IMAGE_MANIFEST_TYPES: readonly string[] = [MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST];

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

/**
 * Pushes a package from the local store to `target`: the manifest bytes are pushed unchanged (same digest), blobs
 * are streamed from the store's files. `source` names the package in the store (default: `target` as written).
 */
export async function pushFromStore(
  store: LocalStore,
  client: RegistryClient,
  target: Reference,
  source: string,
  options: PushImageOptions = {},
): Promise<PushImageResult> {
  const { descriptor } = await findInStore(store, source).catch((err: unknown) => {
    if (isAgentrcError(err) && err.code === "OCI_REF_NOT_FOUND") {
      throw new AgentrcError("OCI_REF_NOT_FOUND", `${source} is not in the local store (${store.path})`, {
        hint: `Build it first: agentrc build -t ${source} <dir>, or check \`agentrc list\`.`,
        cause: err,
      });
    }
    throw err;
  });
  if (!IMAGE_MANIFEST_TYPES.includes(descriptor.mediaType)) {
    throw new AgentrcError(
      "REGISTRY_MANIFEST_UNSUPPORTED",
      `${source} is a ${descriptor.mediaType}; push handles image manifests only`,
    );
  }
  const layout = store.layout;
  const manifest = await layout.readBlob(descriptor.digest, 4 * 1024 * 1024);
  const json = JSON.parse(manifest.toString("utf8")) as Record<string, unknown>;
  const blobs: NamedBlob[] = [];
  for (const [i, d] of referencedDescriptors(json, descriptor.mediaType).entries()) {
    const size = await layout.blobSize(d.digest);
    if (size !== d.size) {
      throw new AgentrcError(
        "OCI_SIZE_MISMATCH",
        `blob ${d.digest} in ${store.path} has ${size} bytes; the manifest says ${d.size}`,
        { hint: "The store is damaged: build or pull the package again." },
      );
    }
    blobs.push({
      source: fileBlob(layout.blobPath(d.digest), d.digest, d.size),
      title: i === 0 ? "config" : (d.annotations?.[ANNOTATION_TITLE] ?? d.digest),
    });
  }
  return pushImage(client, target, { manifest, mediaType: descriptor.mediaType, blobs }, options);
}
