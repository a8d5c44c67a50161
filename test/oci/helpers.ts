import { createReadStream } from "node:fs";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative, sep } from "node:path";
import type { TestContext } from "node:test";
import type { OciLayout } from "../../src/oci/layout.js";
import {
  ANNOTATION_TITLE,
  ARTIFACT_TYPE_AGENT,
  MEDIA_TYPE_AGENT_CONFIG,
  MEDIA_TYPE_OCI_MANIFEST,
  MEDIA_TYPE_SOURCE_LAYER,
} from "../../src/oci/mediaTypes.js";
import { packLayer } from "../../src/oci/pack.js";
import type { TarEntry } from "../../src/oci/tar.js";
import type { Descriptor } from "../../src/oci/types.js";
import { canonicalJson } from "../../src/util/canonicalJson.js";

/** A fresh temporary directory, removed after the test. */
export async function tempDir(t: TestContext, prefix = "agentrc-oci-"): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), prefix));
  t.after(() => rm(dir, { recursive: true, force: true }));
  return dir;
}

/** What a compiler would do: walk a directory, stat every file, stream contents lazily. */
export async function entriesFromDir(root: string): Promise<TarEntry[]> {
  const out: TarEntry[] = [];
  for (const name of await readdir(root, { recursive: true })) {
    const abs = join(root, name);
    const st = await stat(abs);
    const path = relative(root, abs).split(sep).join("/");
    if (st.isDirectory()) out.push({ path, kind: "dir" });
    else
      out.push({
        path,
        kind: "file",
        executable: (st.mode & 0o100) !== 0,
        size: st.size,
        content: () => createReadStream(abs),
      });
  }
  return out;
}

/** Collects a stream into a buffer. */
export async function collect(stream: AsyncIterable<Buffer | Uint8Array | string>): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of stream) chunks.push(Buffer.from(c));
  return Buffer.concat(chunks);
}

/** Every path (relative, `/`-separated) under `dir`, sorted. */
export async function listTree(dir: string): Promise<string[]> {
  return (await readdir(dir, { recursive: true })).map((p) => p.split(sep).join("/")).sort();
}

/** Asserts that `fn` throws or rejects with an AgentrcError of `code` whose message matches `message`. */
export async function expectCode(fn: () => unknown, code: string, message: RegExp): Promise<void> {
  let caught: unknown;
  try {
    await fn();
  } catch (err) {
    caught = err;
  }
  if (caught === undefined) throw new Error(`expected ${code}, but nothing was thrown`);
  const e = caught as { code?: string; message?: string; name?: string };
  if (e.name !== "AgentrcError" || e.code !== code || !message.test(e.message ?? "")) {
    throw new Error(
      `expected AgentrcError ${code} matching ${message}, got ${e.name} ${e.code}: ${e.message}`,
      {
        cause: caught,
      },
    );
  }
}

/** Writes a tiny agent package (config + one tar+gzip layer) and returns the manifest bytes and descriptor. */
export async function writeTinyPackage(
  layout: OciLayout,
  name = "tiny",
  tag?: string,
): Promise<{ bytes: Buffer; descriptor: Descriptor }> {
  const config = Buffer.from(canonicalJson({ agent: { name }, formatVersion: 1 }));
  const cfg = await layout.putBlob(config);
  const tmp = await layout.tempBlobPath();
  const layer = await packLayer(
    [{ path: "main.py", kind: "file", content: Buffer.from(`print("${name}")\n`) }],
    {
      epoch: 0,
      destination: tmp,
    },
  );
  await layout.commitBlob(tmp, layer);
  const manifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_OCI_MANIFEST,
    artifactType: ARTIFACT_TYPE_AGENT,
    config: { mediaType: MEDIA_TYPE_AGENT_CONFIG, digest: cfg.digest, size: cfg.size },
    layers: [
      {
        mediaType: MEDIA_TYPE_SOURCE_LAYER,
        digest: layer.digest,
        size: layer.size,
        annotations: { [ANNOTATION_TITLE]: "src" },
      },
    ],
  };
  const bytes = Buffer.from(canonicalJson(manifest));
  const descriptor = await layout.putManifest(bytes, tag === undefined ? {} : { tag });
  return { bytes, descriptor };
}
