import { createHash } from "node:crypto";
import {
  ARTIFACT_TYPE_AGENT,
  MEDIA_TYPE_AGENT_CONFIG,
  MEDIA_TYPE_OCI_MANIFEST,
} from "../../src/oci/mediaTypes.js";
import { bytesBlob } from "../../src/registry/blobs.js";
import type { RegistryClient } from "../../src/registry/client.js";
import { canonicalJson } from "../../src/util/canonicalJson.js";

/** A file a hand-made test package holds, for its file index. */
export interface IndexedFile {
  path: string;
  content: Buffer | string;
  layer: string;
  mode?: number;
}

/**
 * The config blob of a hand-made agent package: the fields readers require (agent, layers, files) and a file index
 * that tells the truth about `files`, so that pull's file-index check passes and what a test exercises comes after.
 */
export function agentConfigBytes(files: readonly IndexedFile[]): Buffer {
  return Buffer.from(
    canonicalJson({
      formatVersion: "agentrc.package/v1",
      agentfileVersion: "0.1.0-draft.4",
      agent: { name: "x", directives: [] },
      layers: [],
      files: files.map((f) => ({
        path: f.path,
        sha256: `sha256:${createHash("sha256").update(f.content).digest("hex")}`,
        size: Buffer.byteLength(f.content),
        mode: f.mode ?? 0o644,
        layer: f.layer,
      })),
      builder: { name: "test", version: "0", formatVersion: "agentrc.package/v1", compression: "" },
    }),
  );
}

/** A layer of a hand-made agent package: its media type, bytes and descriptor annotations (none: no annotations). */
export interface HandMadeLayer {
  mediaType: string;
  bytes: Buffer;
  annotations?: Record<string, string>;
}

/**
 * Pushes a hand-made agent package to `repo` of the test registry: the config, each layer, then an OCI image
 * manifest with the agent artifactType naming them in order, tagged `tag`. Returns the manifest's bytes.
 */
export async function pushAgentPackage(
  client: RegistryClient,
  repo: string,
  tag: string,
  config: Buffer,
  layers: readonly HandMadeLayer[],
): Promise<Buffer> {
  const configBlob = bytesBlob(config);
  await client.pushBlob(repo, configBlob);
  const descriptors = [];
  for (const layer of layers) {
    const blob = bytesBlob(layer.bytes);
    await client.pushBlob(repo, blob);
    descriptors.push({
      mediaType: layer.mediaType,
      digest: blob.digest,
      size: blob.size,
      ...(layer.annotations === undefined ? {} : { annotations: layer.annotations }),
    });
  }
  const manifest = Buffer.from(
    canonicalJson({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      artifactType: ARTIFACT_TYPE_AGENT,
      config: { mediaType: MEDIA_TYPE_AGENT_CONFIG, digest: configBlob.digest, size: configBlob.size },
      layers: descriptors,
    }),
  );
  await client.putManifest(repo, tag, manifest, MEDIA_TYPE_OCI_MANIFEST);
  return manifest;
}
