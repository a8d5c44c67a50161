import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { type BlobSource, blobPath } from "./blobs.js";
import { repositoryScope } from "./challenge.js";
import { badResponse, drain, statusError } from "./errors.js";
import type { RegistryHttp } from "./http.js";
import { isRetryableStatus, parseRetryAfter, waitBeforeRetry } from "./retry.js";
import type { HttpResponse } from "./transport.js";
import { TransportError } from "./transport.js";

export interface PushBlobOptions {
  /** Try a cross-repository mount from this repository (same registry) before uploading. */
  mountFrom?: string;
  /** `auto` (default): monolithic PUT, chunked when the registry refuses a monolithic body (413/405/501). */
  mode?: "auto" | "monolithic" | "chunked";
  /** Chunk size for chunked uploads (default 16 MiB), raised to the registry's `OCI-Chunk-Min-Length`. */
  chunkSize?: number;
  /** HEAD first and skip the upload when the registry has the blob (default true). */
  skipExisting?: boolean;
}

export interface PushBlobResult {
  digest: string;
  size: number;
  status: "exists" | "mounted" | "uploaded";
}

const DEFAULT_CHUNK = 16 * 1024 * 1024;
const FALLBACK_TO_CHUNKED = new Set([405, 413, 501]);

/** A failure of one upload attempt that a fresh upload session may get past. */
class RestartUpload extends Error {
  constructor(
    readonly retryAfterMs: number | undefined,
    readonly reason: AgentrcError,
  ) {
    super(reason.message);
  }
}

interface Session {
  location: URL;
  minChunk: number;
}

/**
 * Uploads a blob: HEAD (skip), optional mount, then POST + PUT (monolithic) or POST + PATCH… + PUT (chunked).
 * Any failure of a step that carries the body restarts the whole upload from a fresh POST, with backoff, up to
 * the retry policy's limit: an upload session is never resumed after a mid-stream failure.
 */
export async function pushBlob(
  http: RegistryHttp,
  repository: string,
  source: BlobSource,
  options: PushBlobOptions = {},
): Promise<PushBlobResult> {
  const scopes = [repositoryScope(repository, "pull", "push")];
  const done = (status: PushBlobResult["status"]): PushBlobResult => ({
    digest: source.digest,
    size: source.size,
    status,
  });
  if (options.skipExisting !== false) {
    const head = await http.request({ method: "HEAD", url: blobPath(repository, source.digest), scopes });
    await drain(head);
    if (head.status === 200) return done("exists");
  }
  let session: Session | undefined;
  if (options.mountFrom !== undefined && options.mountFrom !== repository) {
    const mount = await tryMount(http, repository, source.digest, options.mountFrom);
    if (mount === "mounted") return done("mounted");
    session = mount;
  }
  let mode = options.mode ?? "auto";
  const policy = http.retryPolicy;
  for (let attempt = 0; ; attempt++) {
    try {
      session ??= await openSession(http, repository, scopes);
      if (mode === "chunked")
        await uploadChunked(http, session, source, scopes, options.chunkSize ?? DEFAULT_CHUNK);
      else await uploadMonolithic(http, session, source, scopes);
      return done("uploaded");
    } catch (err) {
      if (session) await abortSession(http, session, repository);
      session = undefined;
      if (err instanceof FallbackToChunked && mode === "auto") {
        mode = "chunked";
        continue;
      }
      if (err instanceof FallbackToChunked) throw err.reason;
      if (!(err instanceof RestartUpload)) throw err;
      if (attempt >= policy.retries) throw err.reason;
      if (err.retryAfterMs !== undefined && err.retryAfterMs > policy.maxRetryAfterMs) throw err.reason;
      await waitBeforeRetry(attempt, policy, err.retryAfterMs);
    }
  }
}

class FallbackToChunked extends Error {
  constructor(readonly reason: AgentrcError) {
    super(reason.message);
  }
}

async function tryMount(
  http: RegistryHttp,
  repository: string,
  digest: string,
  from: string,
): Promise<"mounted" | Session | undefined> {
  const url = `/v2/${repository}/blobs/uploads/?mount=${encodeURIComponent(digest)}&from=${encodeURIComponent(from)}`;
  const res = await http.request({
    method: "POST",
    url,
    scopes: [repositoryScope(repository, "pull", "push"), repositoryScope(from, "pull")],
    headers: { "content-length": "0" },
  });
  await drain(res);
  if (res.status === 201) return "mounted";
  // 202: the mount was refused but an upload session was opened: use it
  if (res.status === 202 && res.headers.location) return sessionFrom(res);
  return undefined;
}

async function openSession(http: RegistryHttp, repository: string, scopes: string[]): Promise<Session> {
  const res = await http.request({
    method: "POST",
    url: `/v2/${repository}/blobs/uploads/`,
    scopes,
    headers: { "content-length": "0" },
  });
  if (res.status !== 202) throw await statusError(res, `start upload to ${repository}`);
  await drain(res);
  return sessionFrom(res);
}

function sessionFrom(res: HttpResponse): Session {
  const location = nextLocation(res, "start upload");
  const min = Number(res.headers["oci-chunk-min-length"]);
  return { location, minChunk: Number.isFinite(min) && min > 0 ? min : 0 };
}

/** `Location` resolved against the URL that produced it (relative and absolute both work; the query is kept). */
function nextLocation(res: HttpResponse, what: string): URL {
  const location = res.headers.location;
  if (!location) throw badResponse(what, `registry answered ${res.status} without a Location header`);
  let url: URL;
  try {
    url = new URL(location, res.url);
  } catch {
    throw badResponse(what, `upload Location ${JSON.stringify(location.slice(0, 200))} is not a URL`);
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw badResponse(what, `upload Location has unsupported scheme ${url.protocol}`);
  }
  return url;
}

/** Appends `digest=` to an upload URL without re-encoding the query the registry gave (e.g. `_state`). */
function withDigest(location: URL, digest: string): URL {
  const url = new URL(location);
  const param = `digest=${encodeURIComponent(digest)}`;
  url.search = url.search.length > 1 ? `${url.search}&${param}` : `?${param}`;
  return url;
}

async function uploadMonolithic(http: RegistryHttp, session: Session, source: BlobSource, scopes: string[]) {
  const res = await bodyStep(http, {
    method: "PUT",
    url: withDigest(session.location, source.digest),
    scopes,
    headers: { "content-type": "application/octet-stream", "content-length": String(source.size) },
    body: () => source.open(),
    expectedBytes: source.size,
  });
  if (FALLBACK_TO_CHUNKED.has(res.status))
    throw new FallbackToChunked(await statusError(res, "monolithic upload"));
  await finish(res, source.digest);
}

async function uploadChunked(
  http: RegistryHttp,
  session: Session,
  source: BlobSource,
  scopes: string[],
  chunkSize: number,
) {
  const size = Math.max(1, chunkSize, session.minChunk);
  let location = session.location;
  for (let start = 0; start < source.size; start += size) {
    const end = Math.min(source.size, start + size) - 1;
    const res = await bodyStep(http, {
      method: "PATCH",
      url: location,
      scopes,
      headers: {
        "content-type": "application/octet-stream",
        "content-length": String(end - start + 1),
        "content-range": `${start}-${end}`,
      },
      body: () => source.open(start, end),
      expectedBytes: end - start + 1,
    });
    if (res.status !== 202 && res.status !== 201 && res.status !== 204) {
      throw await statusError(res, `upload chunk ${start}-${end}`);
    }
    await drain(res);
    location = nextLocation(res, `upload chunk ${start}-${end}`);
  }
  const res = await bodyStep(http, {
    method: "PUT",
    url: withDigest(location, source.digest),
    scopes,
    headers: { "content-length": "0" },
  });
  await finish(res, source.digest);
}

async function finish(res: HttpResponse, digest: string): Promise<void> {
  if (res.status !== 201 && res.status !== 204) throw await statusError(res, `complete upload of ${digest}`);
  await drain(res);
  const announced = res.headers["docker-content-digest"];
  if (announced !== undefined && announced !== digest) {
    throw new AgentrcError(
      "REGISTRY_DIGEST_MISMATCH",
      `upload of ${digest}: registry stored it as ${announced}`,
    );
  }
}

/** A body-carrying step: not retried in place; network errors and retryable statuses restart the upload. */
async function bodyStep(
  http: RegistryHttp,
  req: Parameters<RegistryHttp["request"]>[0],
): Promise<HttpResponse> {
  let res: HttpResponse;
  try {
    res = await http.request({ ...req, retry: false });
  } catch (err) {
    if (err instanceof TransportError && err.retryable) throw new RestartUpload(undefined, err);
    throw err;
  }
  if (isRetryableStatus(res.status)) {
    const retryAfter = parseRetryAfter(res.headers["retry-after"]);
    throw new RestartUpload(retryAfter, await statusError(res, `${req.method} upload`));
  }
  return res;
}

/** Cancels an upload session (distribution asks for the `delete` action for that). Failures are ignored. */
async function abortSession(http: RegistryHttp, session: Session, repository: string): Promise<void> {
  try {
    const scopes = [repositoryScope(repository, "delete", "pull", "push")];
    const res = await http.request({ method: "DELETE", url: session.location, scopes, retry: false });
    await drain(res);
  } catch {
    // best effort: an abandoned session expires on the registry
  }
}
