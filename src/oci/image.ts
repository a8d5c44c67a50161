import { AgentrcError } from "../diagnostics/AgentrcError.js";
import {
  ANNOTATION_TITLE,
  MEDIA_TYPE_OCI_CONFIG,
  MEDIA_TYPE_OCI_LAYER_TAR_GZIP,
  MEDIA_TYPE_OCI_MANIFEST,
} from "./mediaTypes.js";
import type { Annotations, Descriptor, ImageManifest } from "./types.js";

/**
 * Image mode (docs/image.md): the plain OCI image of a package, for tools that only take container images —
 * `podman pull` / `podman image mount`, umoci, Kubernetes ImageVolumes. The image reuses the package's directory
 * layers byte for byte under the standard layer media type and adds one layer with the single-file layers
 * (Agentfile, lockfile, policy), so every file sits at its package path below the image root `/`.
 */

/** Tag suffix of the image beside the artifact: `host/repo:1.0` (artifact) and `host/repo:1.0-image` (image). */
export const IMAGE_TAG_SUFFIX = "-image";
/** Image manifest annotation: the digest of the package (artifact manifest) this image was made from. */
export const ANNOTATION_IMAGE_PACKAGE_DIGEST = "io.agentrc.package.digest";
/** The platform every agent image declares: the tree is data, so one fixed value keeps the digest reproducible. */
export const IMAGE_PLATFORM = { architecture: "amd64", os: "linux" } as const;

/** One image layer: the blob's compressed descriptor and the digest of its uncompressed tar (the diffID). */
export interface ImageLayerInput {
  digest: string;
  size: number;
  diffId: string;
  title: string;
}

export interface ImageParts {
  /** Canonical-JSON-ready image config (application/vnd.oci.image.config.v1+json). */
  config: Record<string, unknown>;
  /** The manifest, its config descriptor to be filled in by the caller once the config is stored. */
  manifest: (config: Descriptor) => ImageManifest;
}

/**
 * The image config and manifest for `layers` (applied in order). `created` (RFC 3339) only with SOURCE_DATE_EPOCH,
 * as for the package; `labels` become the config's `Labels`, `annotations` the manifest's.
 */
export function imageParts(
  layers: readonly ImageLayerInput[],
  options: { created?: string; labels: Annotations; annotations: Annotations },
): ImageParts {
  const config: Record<string, unknown> = {
    architecture: IMAGE_PLATFORM.architecture,
    os: IMAGE_PLATFORM.os,
    config: Object.keys(options.labels).length > 0 ? { Labels: options.labels } : {},
    rootfs: { type: "layers", diff_ids: layers.map((l) => l.diffId) },
    ...(options.created === undefined ? {} : { created: options.created }),
  };
  return {
    config,
    manifest: (configDescriptor) => ({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      config: {
        mediaType: MEDIA_TYPE_OCI_CONFIG,
        digest: configDescriptor.digest,
        size: configDescriptor.size,
      },
      layers: layers.map((l) => ({
        mediaType: MEDIA_TYPE_OCI_LAYER_TAR_GZIP,
        digest: l.digest,
        size: l.size,
        annotations: { [ANNOTATION_TITLE]: l.title },
      })),
      ...(Object.keys(options.annotations).length > 0 ? { annotations: options.annotations } : {}),
    }),
  };
}

/** The image's tag beside an artifact's tag: `1.0` → `1.0-image`. */
export function imageTagOf(tag: string): string {
  const image = `${tag}${IMAGE_TAG_SUFFIX}`;
  if (image.length > 128) {
    throw new AgentrcError(
      "REFERENCE_INVALID",
      `the image tag of ${tag} (${image}) is longer than 128 characters`,
      {
        hint: `Use a tag of at most ${128 - IMAGE_TAG_SUFFIX.length} characters with --image.`,
      },
    );
  }
  return image;
}

/**
 * The image's reference beside an artifact reference: `host/repo:1.0` → `host/repo:1.0-image`, `host/repo` (meaning
 * `:latest`) → `host/repo:latest-image`. A digest reference names no tag, so it has no image beside it.
 */
export function imageReference(reference: string): string {
  if (reference.includes("@")) {
    throw new AgentrcError("REFERENCE_INVALID", `${reference} is a digest reference: it has no image tag`, {
      hint: "Tag the package (-t host/repo:tag) to build or push its image beside it.",
    });
  }
  const colon = reference.lastIndexOf(":");
  if (colon > reference.lastIndexOf("/")) {
    return `${reference.slice(0, colon)}:${imageTagOf(reference.slice(colon + 1))}`;
  }
  return `${reference}:${imageTagOf("latest")}`;
}
