import { sha256Digest } from "../oci/digest.js";
import { ANNOTATION_IMAGE_PACKAGE_DIGEST, imageParts } from "../oci/image.js";
import {
  ANNOTATION_AGENT_NAME,
  ANNOTATION_TITLE,
  MEDIA_TYPE_OCI_CONFIG,
  MEDIA_TYPE_OCI_MANIFEST,
} from "../oci/mediaTypes.js";
import { packLayer } from "../oci/pack.js";
import { parseSourceDateEpoch, type TarEntry } from "../oci/tar.js";
import { canonicalJson } from "../util/canonicalJson.js";
import type { Compilation } from "./Compilation.js";
import type { BuiltImage, BuiltPackage, PackedBlob } from "./payloads.js";

/** Title of the image layer holding the package's single-file layers (Agentfile, lockfile, policy). */
export const IMAGE_FILES_LAYER_TITLE = "files";

/**
 * Image mode (docs/image.md): the plain OCI image of a built package. Its layers are one new tar+gzip of the
 * single-file layers at their titles (`Agentfile`, `agentrc.lock`, `policy/agent.cedar`), then every directory layer
 * of the package, the same blobs under the standard media type, so the image costs one small layer and two JSON
 * blobs and is exactly as reproducible as the package. Nothing of the package changes: its manifest digest is the
 * same with or without `--image`. A skill or toolset package (one directory layer, no single files) gets that layer
 * alone: its image holds `<name>/…`, as `oras pull -o` writes it.
 */
export async function buildImage(compilation: Compilation, pkg: BuiltPackage): Promise<BuiltImage> {
  const plan = compilation.layerPlan;
  const epoch = parseSourceDateEpoch(compilation.options.env.SOURCE_DATE_EPOCH);
  const files: TarEntry[] = [];
  const directories: PackedBlob[] = [];
  for (const [i, layer] of plan.entries()) {
    if (layer.kind === "blob") {
      files.push({ path: layer.title, kind: "file", content: layer.bytes, size: layer.bytes.length });
    } else {
      directories.push(pkg.layers[i]!);
    }
  }
  const inputs = directories.map((blob) => ({
    blob,
    title: blob.descriptor.annotations?.[ANNOTATION_TITLE] ?? "",
  }));
  if (files.length > 0) {
    const cache = await compilation.compiler.blobCache();
    const temp = await cache.layout.tempBlobPath();
    const packed = await packLayer(files, { epoch, destination: temp, deflatePool: null });
    await cache.commitBlob(temp, { digest: packed.digest, size: packed.size });
    const filesLayer: PackedBlob = {
      descriptor: { mediaType: "", digest: packed.digest, size: packed.size },
      path: cache.blobPath(packed.digest),
      diffId: packed.diffId,
      uncompressedSize: packed.uncompressedSize,
    };
    inputs.unshift({ blob: filesLayer, title: IMAGE_FILES_LAYER_TITLE });
  }
  const packageAnnotations = pkg.manifest.annotations ?? {};
  const carried = Object.fromEntries(
    Object.entries(packageAnnotations).filter(([key]) => key.startsWith("org.opencontainers.image.")),
  );
  const parts = imageParts(
    inputs.map(({ blob, title }) => ({
      digest: blob.descriptor.digest,
      size: blob.descriptor.size,
      diffId: blob.diffId ?? blob.descriptor.digest,
      title,
    })),
    {
      ...(carried["org.opencontainers.image.created"] === undefined
        ? {}
        : { created: carried["org.opencontainers.image.created"] }),
      labels: {
        ...(packageAnnotations[ANNOTATION_AGENT_NAME] === undefined
          ? {}
          : { [ANNOTATION_AGENT_NAME]: packageAnnotations[ANNOTATION_AGENT_NAME] }),
        [ANNOTATION_IMAGE_PACKAGE_DIGEST]: pkg.descriptor.digest,
      },
      annotations: { ...carried, [ANNOTATION_IMAGE_PACKAGE_DIGEST]: pkg.descriptor.digest },
    },
  );
  const config = await compilation.compiler.putBlob(
    Buffer.from(canonicalJson(parts.config)),
    MEDIA_TYPE_OCI_CONFIG,
  );
  const manifest = parts.manifest(config.descriptor);
  const manifestBytes = Buffer.from(canonicalJson(manifest));
  const stored = await compilation.compiler.putBlob(manifestBytes, MEDIA_TYPE_OCI_MANIFEST);
  const layers = manifest.layers.map((descriptor, i) => ({ ...inputs[i]!.blob, descriptor }));
  return {
    manifest,
    manifestBytes,
    descriptor: {
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      digest: sha256Digest(manifestBytes),
      size: stored.descriptor.size,
    },
    config,
    layers,
  };
}
