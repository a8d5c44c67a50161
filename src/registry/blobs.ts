import { createReadStream } from "node:fs";
import { type Readable, Readable as ReadableStream } from "node:stream";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { repositoryScope } from "./challenge.js";
import { hasherFor, sha256Digest, splitDigest } from "./digest.js";
import { drain, statusError } from "./errors.js";
import type { RegistryHttp } from "./http.js";
import { VerifyStream } from "./verify.js";

/** Content to upload. `open` is called once per attempt (uploads restart after failures) and per chunk. */
export interface BlobSource {
  digest: string;
  size: number;
  /** A stream of bytes `start..end` (inclusive), or of the whole blob when no range is given. */
  open(start?: number, end?: number): Readable;
}

/** A blob backed by a file: streamed from disk on every attempt, never held in memory. */
export function fileBlob(path: string, digest: string, size: number): BlobSource {
  return {
    digest,
    size,
    open: (start, end) => createReadStream(path, start === undefined ? {} : { start, end: end ?? size - 1 }),
  };
}

/** A small in-memory blob (configs, test data); its sha256 digest is computed here. */
export function bytesBlob(data: Uint8Array): BlobSource {
  const buf = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return {
    digest: sha256Digest(buf),
    size: buf.length,
    open: (start, end) =>
      ReadableStream.from([start === undefined ? buf : buf.subarray(start, (end ?? buf.length - 1) + 1)]),
  };
}

export function blobPath(repository: string, digest: string): string {
  return `/v2/${repository}/blobs/${digest}`;
}

/** HEAD a blob: its size when the registry has it, undefined on 404. */
export async function headBlob(
  http: RegistryHttp,
  repository: string,
  digest: string,
): Promise<number | undefined> {
  const res = await http.request({
    method: "HEAD",
    url: blobPath(repository, digest),
    scopes: [repositoryScope(repository, "pull")],
  });
  await drain(res);
  if (res.status === 404) return undefined;
  if (res.status !== 200) throw await statusError(res, `HEAD blob ${digest}`);
  const length = Number(res.headers["content-length"]);
  return Number.isFinite(length) ? length : -1;
}

/**
 * GET a blob as a stream that verifies digest (and size, when known) while streaming: it fails with
 * REGISTRY_DIGEST_MISMATCH / REGISTRY_SIZE_MISMATCH instead of ending when the content is wrong.
 * Redirects (to blob storage) are followed without credentials.
 */
export async function getBlob(
  http: RegistryHttp,
  repository: string,
  digest: string,
  size?: number,
): Promise<Readable> {
  const what = `GET blob ${repository}@${digest}`;
  if (!hasherFor(digest)) {
    throw new AgentrcError(
      "REGISTRY_DIGEST_MISMATCH",
      `${what}: cannot verify digest algorithm ${splitDigest(digest)[0]}`,
    );
  }
  const res = await http.request({
    method: "GET",
    url: blobPath(repository, digest),
    scopes: [repositoryScope(repository, "pull")],
    ...(size === undefined ? {} : { expectedBytes: size }),
  });
  if (res.status !== 200) throw await statusError(res, what);
  const length = res.headers["content-length"];
  if (size !== undefined && length !== undefined && Number(length) !== size) {
    await drain(res);
    throw new AgentrcError(
      "REGISTRY_SIZE_MISMATCH",
      `${what}: Content-Length is ${length}, expected ${size}`,
    );
  }
  const announced = res.headers["docker-content-digest"];
  if (announced && splitDigest(announced)[0] === splitDigest(digest)[0] && announced !== digest) {
    await drain(res);
    throw new AgentrcError("REGISTRY_DIGEST_MISMATCH", `${what}: registry says the blob is ${announced}`);
  }
  const verify = new VerifyStream(digest, size, what);
  res.body.on("error", (err) => {
    const message = `${what}: connection lost while reading the blob: ${err.message}`;
    verify.destroy(
      err instanceof AgentrcError ? err : new AgentrcError("REGISTRY_UNREACHABLE", message, { cause: err }),
    );
  });
  verify.on("close", () => {
    if (!res.body.destroyed && !verify.writableFinished) res.body.destroy();
  });
  return res.body.pipe(verify);
}
