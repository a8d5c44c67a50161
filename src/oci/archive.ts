import { createHash, randomUUID } from "node:crypto";
import { createReadStream } from "node:fs";
import { open, readdir, rename, rm, stat } from "node:fs/promises";
import { basename, dirname, join } from "node:path";
import type { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AgentrcError, isAgentrcError } from "../diagnostics/AgentrcError.js";
import { withFilePath } from "../diagnostics/fsError.js";
import { canonicalJson } from "../util/canonicalJson.js";
import { type ExtractOptions, extractTar } from "./extract.js";
import { emptyIndex, OCI_LAYOUT_CONTENT, OciLayout } from "./layout.js";
import { ANNOTATION_REF_NAME, OCI_BLOBS_DIR, OCI_INDEX_FILE, OCI_LAYOUT_FILE } from "./mediaTypes.js";
import { createTarStream, type TarEntry } from "./tar.js";
import type { Descriptor } from "./types.js";

/**
 * `oci-archive`: a plain (uncompressed) tar of an OCI image layout, as skopeo's `oci-archive:` transport reads
 * and writes it. Written with the deterministic tar rules of tar.ts, so the same layout content gives the same
 * archive bytes.
 */

export interface WriteArchiveOptions {
  /** mtime of every entry (default 0). */
  epoch?: number;
  /** Only these tags and the blobs they reach (default: every index entry). */
  refs?: readonly string[];
}

/**
 * Writes an oci-archive of `layout` to `destination` (temp file in the same directory, then rename).
 * Blobs are streamed and verified against their digests while being written.
 */
export async function writeOciArchive(
  layout: OciLayout,
  destination: string,
  options: WriteArchiveOptions = {},
): Promise<{ size: number; manifests: number; blobs: number }> {
  const index = await layout.readIndex();
  let manifests: Descriptor[];
  if (options.refs === undefined) {
    manifests = index.manifests;
  } else {
    manifests = [];
    for (const ref of options.refs) {
      const hit = index.manifests.find((d) => d.annotations?.[ANNOTATION_REF_NAME] === ref);
      if (hit === undefined) await layout.resolve(ref); // throws OCI_REF_NOT_FOUND with a hint
      if (hit !== undefined) manifests.push(hit);
    }
  }
  const blobs = new Set<string>();
  for (const d of manifests) for (const b of await layout.reachableBlobs(d)) blobs.add(b);

  const outIndex = { ...emptyIndex(), ...index, manifests };
  const entries: TarEntry[] = [
    { path: OCI_LAYOUT_FILE, kind: "file", content: Buffer.from(OCI_LAYOUT_CONTENT) },
    { path: OCI_INDEX_FILE, kind: "file", content: Buffer.from(canonicalJson(outIndex)) },
  ];
  for (const digest of blobs) {
    const size = await layout.blobSize(digest);
    entries.push({
      path: `${OCI_BLOBS_DIR}/${digest.replace(":", "/")}`,
      kind: "file",
      size,
      content: () => layout.getBlob(digest, { verify: true }),
    });
  }

  const tmp = join(dirname(destination), `.${basename(destination)}.tmp-${randomUUID()}`);
  const fh = await open(tmp, "wx");
  try {
    await pipeline(createTarStream(entries, { epoch: options.epoch ?? 0 }), fh.createWriteStream());
    await rename(tmp, destination);
  } catch (err) {
    await rm(tmp, { force: true });
    throw withFilePath(err, tmp);
  }
  return { size: (await stat(destination)).size, manifests: manifests.length, blobs: blobs.size };
}

/**
 * Extracts an oci-archive (path or stream) into `target` (new or empty directory) and checks it: a valid
 * `oci-layout` and `index.json`, and every blob hashing to its name. On failure `target` is cleaned up.
 */
export async function readOciArchive(
  source: string | Readable,
  target: string,
  options: Pick<ExtractOptions, "maxEntries" | "maxTotalSize"> & {
    /** Hash every blob against its name before returning (default true); readers that verify each blob as they read it skip this pass. */
    verifyBlobs?: boolean;
  } = {},
): Promise<OciLayout> {
  const input = typeof source === "string" ? createReadStream(source) : source;
  const existed = await stat(target).then(
    () => true,
    () => false,
  );
  const { verifyBlobs: verify = true, ...limits } = options;
  await extractTar(input, target, { ...limits, links: "refuse", compression: "auto" });
  try {
    const layout = await OciLayout.open(target);
    if (verify) await verifyBlobs(target);
    return layout;
  } catch (err) {
    if (!existed) await rm(target, { recursive: true, force: true });
    else {
      for (const name of await readdir(target).catch(() => [] as string[])) {
        await rm(join(target, name), { recursive: true, force: true });
      }
    }
    if (isAgentrcError(err) && err.code !== "OCI_LAYOUT_INVALID") throw err;
    throw new AgentrcError(
      "OCI_ARCHIVE_INVALID",
      `${typeof source === "string" ? source : "The archive"} is not a valid oci-archive: ${err instanceof Error ? err.message : String(err)}`,
      { cause: err },
    );
  }
}

async function verifyBlobs(root: string): Promise<void> {
  const blobsDir = join(root, OCI_BLOBS_DIR);
  const algorithms = await readdir(blobsDir).catch(() => [] as string[]);
  for (const alg of algorithms) {
    if (alg !== "sha256" && alg !== "sha512") continue;
    for (const name of await readdir(join(blobsDir, alg))) {
      const hash = createHash(alg);
      for await (const chunk of createReadStream(join(blobsDir, alg, name))) hash.update(chunk as Buffer);
      if (hash.digest("hex") !== name) {
        throw new AgentrcError(
          "OCI_DIGEST_MISMATCH",
          `Archive blob ${alg}:${name} does not match its content.`,
        );
      }
    }
  }
}
