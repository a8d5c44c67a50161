import { createHash, randomBytes } from "node:crypto";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Readable } from "node:stream";
import { gzipSync } from "node:zlib";
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

/** A tiny tar with one file, built by hand (512-byte ustar header + data + two zero blocks). */
export function tinyTar(name: string, content: string): Buffer {
  const header = Buffer.alloc(512);
  header.write(name, 0);
  header.write("0000644\0", 100);
  header.write("0000000\0", 108);
  header.write("0000000\0", 116);
  header.write(`${content.length.toString(8).padStart(11, "0")}\0`, 124);
  header.write("00000000000\0", 136);
  header.write("        ", 148);
  header.write("0", 156);
  header.write("ustar\0", 257);
  header.write("00", 263);
  let sum = 0;
  for (const b of header) sum += b;
  header.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  const data = Buffer.alloc(Math.ceil(content.length / 512) * 512);
  data.write(content);
  return Buffer.concat([header, data, Buffer.alloc(1024)]);
}

/** A plain container image (one gzip layer holding one file), as docker or skopeo would push it. */
export function plainImage(
  name: string,
  content: string,
): { layer: Buffer; config: Buffer; manifest: Buffer } {
  const { layers, config, manifest } = imageOfLayers([tinyTar(name, content)]);
  return { layer: layers[0]!, config, manifest };
}

/**
 * A plain image (OCI image config, `rootfs.diff_ids`, no annotations) whose layers are `tars`, gzipped, as docker,
 * buildah or skillimage make them.
 */
export function imageOfLayers(tars: Buffer[]): { layers: Buffer[]; config: Buffer; manifest: Buffer } {
  const layers = tars.map((tar) => gzipSync(tar, { level: 9 }));
  const config = Buffer.from(
    canonicalJson({
      architecture: "amd64",
      os: "linux",
      rootfs: { type: "layers", diff_ids: tars.map((tar) => sha256(tar)) },
      config: {},
    }),
  );
  const manifest = Buffer.from(
    canonicalJson({
      schemaVersion: 2,
      mediaType: MEDIA_TYPES.ociManifest,
      config: {
        mediaType: "application/vnd.oci.image.config.v1+json",
        digest: sha256(config),
        size: config.length,
      },
      layers: layers.map((layer) => ({
        mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
        digest: sha256(layer),
        size: layer.length,
      })),
    }),
  );
  return { layers, config, manifest };
}

/** Writes an OCI image layout holding `blobs` and one manifest, tagged `tag`; returns the manifest digest. */
export async function writeLayout(
  dir: string,
  blobs: Buffer[],
  manifest: Buffer,
  tag: string,
): Promise<string> {
  await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
  for (const b of [...blobs, manifest]) await writeFile(join(dir, "blobs", "sha256", sha256(b).slice(7)), b);
  await writeFile(join(dir, "oci-layout"), canonicalJson({ imageLayoutVersion: "1.0.0" }));
  const index = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPES.ociIndex,
    manifests: [
      {
        mediaType: MEDIA_TYPES.ociManifest,
        digest: sha256(manifest),
        size: manifest.length,
        annotations: { "org.opencontainers.image.ref.name": tag },
      },
    ],
  };
  await writeFile(join(dir, "index.json"), canonicalJson(index));
  return sha256(manifest);
}
