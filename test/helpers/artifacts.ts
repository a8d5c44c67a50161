import { createHash, randomBytes } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { type BlobSource, bytesBlob, fileBlob } from "../../src/registry/blobs.js";
import type { RegistryClient } from "../../src/registry/client.js";
import { MEDIA_TYPES } from "../../src/registry/manifests.js";
import { canonicalJson } from "../../src/util/canonicalJson.js";

export interface TestArtifact {
  config: BlobSource;
  layers: BlobSource[];
  manifest: Buffer;
  manifestDigest: string;
}

/** A small agentrc-like artifact: a JSON config and `layerSizes` random layers written as files in `dir`. */
export async function makeArtifact(
  dir: string,
  layerSizes: number[],
  extra: Record<string, unknown> = {},
): Promise<TestArtifact> {
  const config = bytesBlob(
    Buffer.from(canonicalJson({ name: "test-agent", nonce: randomBytes(8).toString("hex") })),
  );
  const layers: BlobSource[] = [];
  for (const [i, size] of layerSizes.entries()) {
    const data = randomBytes(size);
    const path = join(dir, `layer-${i}-${randomBytes(4).toString("hex")}`);
    await writeFile(path, data);
    layers.push(fileBlob(path, `sha256:${createHash("sha256").update(data).digest("hex")}`, size));
  }
  const manifest = Buffer.from(
    canonicalJson({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      artifactType: "application/vnd.agentrc.agent.v1",
      config: {
        mediaType: "application/vnd.agentrc.agent.config.v1+json",
        digest: config.digest,
        size: config.size,
      },
      layers: layers.map((l) => ({
        mediaType: "application/vnd.agentrc.agent.source.layer.v1.tar+gzip",
        digest: l.digest,
        size: l.size,
      })),
      ...extra,
    }),
  );
  return {
    config,
    layers,
    manifest,
    manifestDigest: `sha256:${createHash("sha256").update(manifest).digest("hex")}`,
  };
}

/** Pushes blobs then the manifest under `tag`. */
export async function pushArtifact(client: RegistryClient, repo: string, a: TestArtifact, tag: string) {
  const blobs = [];
  for (const b of [a.config, ...a.layers]) blobs.push(await client.pushBlob(repo, b));
  const manifest = await client.putManifest(repo, tag, a.manifest, MEDIA_TYPES.ociManifest);
  return { blobs, manifest };
}

export async function readAll(stream: Readable): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function sha256(data: Uint8Array): string {
  return `sha256:${createHash("sha256").update(data).digest("hex")}`;
}

/** Checks that the registry holds the artifact completely: every blob, and the manifest bytes. */
export async function assertConsistent(client: RegistryClient, repo: string, a: TestArtifact, tag: string) {
  for (const b of [a.config, ...a.layers]) {
    const size = await client.headBlob(repo, b.digest);
    if (size !== b.size) throw new Error(`blob ${b.digest}: HEAD size ${size}, expected ${b.size}`);
    const got = await readAll(await client.getBlob(repo, b.digest, b.size));
    if (sha256(got) !== b.digest) throw new Error(`blob ${b.digest} content differs`);
  }
  const m = await client.getManifest(repo, tag);
  if (!m.bytes.equals(a.manifest)) throw new Error("manifest bytes differ");
  if (m.digest !== a.manifestDigest) throw new Error("manifest digest differs");
}
