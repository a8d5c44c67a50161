import { readFileSync } from "node:fs";
import type { Readable } from "node:stream";
import { rootCertificates } from "node:tls";
import { Agent, type Dispatcher, EnvHttpProxyAgent, request } from "undici";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { redactHeaders, redactUrl, type TraceHook } from "./trace.js";

export interface ProxySettings {
  httpProxy?: string;
  httpsProxy?: string;
  noProxy?: string;
}

export interface TransportOptions {
  /** Skip TLS certificate verification (`--insecure`). */
  insecure?: boolean;
  /** PEM file with extra CA certificates to trust (`--ca-file`), added to Node's bundled roots. */
  caFile?: string;
  /** Proxies; by default read from HTTP_PROXY / HTTPS_PROXY / NO_PROXY (either case) in `env`. `false`: none. */
  proxy?: ProxySettings | false;
  /** Environment to read proxy variables from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
  /** Called after every HTTP exchange, with secrets redacted. */
  trace?: TraceHook;
  userAgent?: string;
  /** Time to wait for response headers (default 60 s) and between body chunks (default 120 s). */
  headersTimeoutMs?: number;
  bodyTimeoutMs?: number;
  /**
   * Overall deadline of one request, from sending it to the last byte of its reply, redirects included (default
   * 300 s; 0: none). A registry that trickles a byte every few seconds never trips the two timeouts above; this
   * ends the request with REGISTRY_TIMEOUT. A blob transfer of known size gets `size / minBytesPerSecond` more.
   */
  requestTimeoutMs?: number;
  /** The slowest transfer rate a blob of known size is given time for, on top of `requestTimeoutMs` (default 64 KiB/s). */
  minBytesPerSecond?: number;
}

export const DEFAULT_REQUEST_TIMEOUT_MS = 300_000;
export const DEFAULT_MIN_BYTES_PER_SECOND = 64 * 1024;

export type RequestBody = Uint8Array | string | Readable;

export interface HttpRequest {
  method: string;
  url: URL;
  headers?: Record<string, string>;
  body?: RequestBody;
  /** An Authorization value, sent only while the request URL has exactly this origin (never after a redirect elsewhere). */
  auth?: { origin: string; value: string };
  /** Follow 3xx for GET and HEAD (default true). Other methods never follow. */
  followRedirects?: boolean;
  /** Bytes of the blob being sent or fetched, when known: the request's deadline grows by their transfer time. */
  expectedBytes?: number;
}

export type ResponseBody = Dispatcher.ResponseData["body"];

export interface HttpResponse {
  status: number;
  /** Lower-case names; repeated headers joined with ", ". */
  headers: Record<string, string>;
  /** The URL that produced this response (after redirects): resolve relative Location headers against it. */
  url: URL;
  body: ResponseBody;
}

/** A network-level failure; `retryable` says whether trying again may help. */
export class TransportError extends AgentrcError {
  readonly retryable: boolean;
  constructor(
    code: "REGISTRY_UNREACHABLE" | "REGISTRY_TLS",
    message: string,
    retryable: boolean,
    cause: unknown,
  ) {
    super(code, message, { cause });
    this.retryable = retryable;
  }
}

const MAX_REDIRECTS = 10;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);
const TLS_ERROR = /CERT|SELF_SIGNED|UNABLE_TO_(?:VERIFY|GET)|ERR_TLS|ERR_SSL|EPROTO/;
const PERMANENT_NET_ERROR = new Set([
  "ENOTFOUND",
  "EAI_AGAIN",
  "UND_ERR_REQ_CONTENT_LENGTH_MISMATCH",
  "UND_ERR_ABORTED",
]);

/** undici with TLS, proxy, redirect and trace policy. One per client; `close()` it when done. */
export class Transport {
  readonly #dispatcher: Dispatcher;
  readonly #trace: TraceHook | undefined;
  readonly #userAgent: string;
  readonly #requestTimeoutMs: number;
  readonly #minBytesPerSecond: number;

  constructor(options: TransportOptions = {}) {
    const tls: { rejectUnauthorized: boolean; ca?: string[] } = { rejectUnauthorized: !options.insecure };
    if (options.caFile !== undefined) tls.ca = [...rootCertificates, readCaFile(options.caFile)];
    const common = {
      connect: tls,
      headersTimeout: options.headersTimeoutMs ?? 60_000,
      bodyTimeout: options.bodyTimeoutMs ?? 120_000,
    };
    const proxy =
      options.proxy === false ? undefined : (options.proxy ?? proxyFromEnv(options.env ?? process.env));
    this.#dispatcher =
      proxy && (proxy.httpProxy || proxy.httpsProxy)
        ? new EnvHttpProxyAgent({
            ...common,
            requestTls: tls,
            httpProxy: proxy.httpProxy ?? "",
            httpsProxy: proxy.httpsProxy ?? "",
            noProxy: proxy.noProxy ?? "",
          })
        : new Agent(common);
    this.#trace = options.trace;
    this.#userAgent = options.userAgent ?? "agentrc";
    this.#requestTimeoutMs = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS;
    this.#minBytesPerSecond = options.minBytesPerSecond ?? DEFAULT_MIN_BYTES_PER_SECOND;
  }

  /** The request's deadline in ms, or undefined for none. */
  #deadline(expectedBytes: number | undefined): number | undefined {
    if (!(this.#requestTimeoutMs > 0)) return undefined;
    const transfer =
      expectedBytes && expectedBytes > 0 ? (expectedBytes / this.#minBytesPerSecond) * 1000 : 0;
    return Math.ceil(this.#requestTimeoutMs + transfer);
  }

  /**
   * Sends a request under its deadline: past it, the request (or the reply body still being read) is aborted with
   * REGISTRY_TIMEOUT. The timer ends when the reply body closes.
   */
  async send(req: HttpRequest): Promise<HttpResponse> {
    const limit = this.#deadline(req.expectedBytes);
    if (limit === undefined) return this.#follow(req);
    const controller = new AbortController();
    const timer = setTimeout(() => {
      controller.abort(
        new AgentrcError(
          "REGISTRY_TIMEOUT",
          `${req.method} ${redactUrl(req.url)}: no complete reply within ${limit} ms`,
        ),
      );
    }, limit);
    timer.unref();
    try {
      const res = await this.#follow(req, controller.signal);
      // Aborting a body nobody reads must not become an unhandled 'error' event; readers still see the error.
      res.body.on("error", () => {});
      res.body.once("close", () => clearTimeout(timer));
      if (res.body.destroyed) clearTimeout(timer);
      return res;
    } catch (err) {
      clearTimeout(timer);
      throw controller.signal.aborted ? controller.signal.reason : err;
    }
  }

  async #follow(req: HttpRequest, signal?: AbortSignal): Promise<HttpResponse> {
    let url = req.url;
    let method = req.method;
    let body = req.body;
    const follow = req.followRedirects !== false && (method === "GET" || method === "HEAD");
    for (let hop = 0; ; hop++) {
      const res = await this.#once(method, url, req, body, signal);
      if (!follow || !REDIRECTS.has(res.status) || res.headers.location === undefined) return res;
      await res.body.dump().catch(() => {});
      if (hop >= MAX_REDIRECTS) {
        throw new AgentrcError(
          "REGISTRY_REDIRECT_INVALID",
          `${req.method} ${redactUrl(req.url)}: too many redirects`,
        );
      }
      let next: URL;
      try {
        next = new URL(res.headers.location, url);
      } catch {
        throw new AgentrcError(
          "REGISTRY_REDIRECT_INVALID",
          `${req.method} ${redactUrl(req.url)}: redirect to ${JSON.stringify(res.headers.location.slice(0, 200))}, which is not a URL`,
        );
      }
      if (next.protocol !== "http:" && next.protocol !== "https:") {
        throw new AgentrcError(
          "REGISTRY_REDIRECT_INVALID",
          `${req.method} ${redactUrl(req.url)}: redirect to unsupported URL scheme ${next.protocol}`,
        );
      }
      if (res.status === 303) method = "GET";
      body = undefined;
      url = next;
    }
  }

  async #once(
    method: string,
    url: URL,
    req: HttpRequest,
    body: RequestBody | undefined,
    signal: AbortSignal | undefined,
  ): Promise<HttpResponse> {
    const headers: Record<string, string> = { "user-agent": this.#userAgent, ...req.headers };
    if (req.auth && req.auth.origin === url.origin) headers.authorization = req.auth.value;
    const started = performance.now();
    const trace = this.#trace;
    const traced = trace && { method, url: redactUrl(url), requestHeaders: redactHeaders(headers) };
    try {
      const res = await request(url, {
        dispatcher: this.#dispatcher,
        method: method as Dispatcher.HttpMethod,
        headers,
        body: body ?? null,
        ...(signal ? { signal } : {}),
      });
      const out: HttpResponse = {
        status: res.statusCode,
        headers: flatten(res.headers),
        url,
        body: res.body,
      };
      if (traced && trace) {
        trace({
          ...traced,
          status: out.status,
          responseHeaders: redactHeaders(out.headers),
          durationMs: performance.now() - started,
        });
      }
      return out;
    } catch (err) {
      if (body && typeof body === "object" && "destroy" in body) body.destroy();
      if (traced && trace) {
        trace({ ...traced, durationMs: performance.now() - started, error: String(err) });
      }
      throw toTransportError(method, url, err);
    }
  }

  close(): Promise<void> {
    return this.#dispatcher.close();
  }
}

function readCaFile(path: string): string {
  try {
    return readFileSync(path, "utf8");
  } catch (err) {
    throw new AgentrcError("REGISTRY_CA_FILE", `cannot read CA file ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}

export function proxyFromEnv(env: NodeJS.ProcessEnv): ProxySettings | undefined {
  const pick = (name: string) => env[name.toLowerCase()] || env[name.toUpperCase()] || undefined;
  const settings: ProxySettings = {};
  const http = pick("http_proxy");
  const https = pick("https_proxy");
  const no = pick("no_proxy");
  if (http) settings.httpProxy = http;
  if (https) settings.httpsProxy = https;
  if (no) settings.noProxy = no;
  return http || https ? settings : undefined;
}

function flatten(headers: Record<string, string | string[] | undefined>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers)) {
    if (v !== undefined) out[k.toLowerCase()] = Array.isArray(v) ? v.join(", ") : v;
  }
  return out;
}

function errorCode(err: unknown): string {
  let e: unknown = err;
  for (let depth = 0; depth < 4 && e instanceof Error; depth++) {
    const code = (e as { code?: unknown }).code;
    if (typeof code === "string" && code !== "UND_ERR_SOCKET") return code;
    if (typeof code === "string" && !(e.cause instanceof Error)) return code;
    e = e.cause;
  }
  return "";
}

function toTransportError(method: string, url: URL, err: unknown): AgentrcError {
  if (err instanceof AgentrcError) return err;
  const code = errorCode(err);
  const what = `${method} ${redactUrl(url)}`;
  const detail = `${(err as Error)?.message ?? String(err)}${code ? ` (${code})` : ""}`;
  if (TLS_ERROR.test(code) || /certificate|TLS|SSL/i.test((err as Error)?.message ?? "")) {
    return new TransportError("REGISTRY_TLS", `${what}: TLS failure: ${detail}`, false, err);
  }
  return new TransportError(
    "REGISTRY_UNREACHABLE",
    `${what}: ${detail}`,
    !PERMANENT_NET_ERROR.has(code),
    err,
  );
}
