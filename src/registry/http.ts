import { Authenticator } from "./auth.js";
import { drain } from "./errors.js";
import { isRetryableStatus, parseRetryAfter, type RetryPolicy, waitBeforeRetry } from "./retry.js";
import { type HttpResponse, type RequestBody, type Transport, TransportError } from "./transport.js";
import type { Credentials } from "./types.js";

export interface RegistryRequest {
  method: "GET" | "HEAD" | "PUT" | "POST" | "PATCH" | "DELETE";
  /** A path under the registry (`/v2/...`) or an absolute URL (a `Location` already resolved). */
  url: string | URL;
  /** Token scopes the request needs, e.g. `repository:acme/app:pull`. */
  scopes: readonly string[];
  headers?: Record<string, string>;
  /** Opens the body; called again for every attempt, so it must give the same bytes each time. */
  body?: () => RequestBody;
  /** Retry network errors, 408, 429 and 5xx (default: true). False for steps that cannot be replayed. */
  retry?: boolean;
  followRedirects?: boolean;
  /** Size of the blob sent or fetched, when known: it extends the request's deadline (see TransportOptions). */
  expectedBytes?: number;
}

export interface RegistryHttpOptions {
  origin: string;
  transport: Transport;
  retry: RetryPolicy;
  credentials: () => Promise<Credentials | undefined>;
}

/** Requests to one registry: authentication (with one re-authentication on 401) and retries. */
export class RegistryHttp {
  readonly origin: string;
  readonly auth: Authenticator;
  readonly retryPolicy: RetryPolicy;
  readonly #transport: Transport;

  constructor(opts: RegistryHttpOptions) {
    this.origin = opts.origin;
    this.retryPolicy = opts.retry;
    this.#transport = opts.transport;
    this.auth = new Authenticator({
      origin: opts.origin,
      transport: opts.transport,
      retry: opts.retry,
      credentials: opts.credentials,
    });
  }

  url(pathOrUrl: string | URL): URL {
    return new URL(pathOrUrl, this.origin);
  }

  /** Sends with retries (unless `retry: false`); returns the final response whatever its status. */
  async request(req: RegistryRequest): Promise<HttpResponse> {
    const policy = this.retryPolicy;
    const retry = req.retry !== false;
    for (let attempt = 0; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await this.#authenticated(req);
      } catch (err) {
        if (retry && err instanceof TransportError && err.retryable && attempt < policy.retries) {
          await waitBeforeRetry(attempt, policy);
          continue;
        }
        throw err;
      }
      if (!retry || !isRetryableStatus(res.status) || attempt >= policy.retries) return res;
      const after = parseRetryAfter(res.headers["retry-after"]);
      if (after !== undefined && after > policy.maxRetryAfterMs) return res;
      await drain(res);
      await waitBeforeRetry(attempt, policy, after);
    }
  }

  async #authenticated(req: RegistryRequest): Promise<HttpResponse> {
    let scopes = req.scopes;
    let sent = await this.auth.authorization(scopes);
    let res = await this.#send(req, sent);
    if (res.status !== 401 || res.url.origin !== this.origin) return res;
    const outcome = await this.auth.onChallenge(res.headers["www-authenticate"], scopes, sent);
    if (!outcome.retry) return res;
    await drain(res);
    scopes = outcome.scopes;
    sent = await this.auth.authorization(scopes);
    res = await this.#send(req, sent);
    return res;
  }

  #send(req: RegistryRequest, authorization: string | undefined): Promise<HttpResponse> {
    const out: Parameters<Transport["send"]>[0] = { method: req.method, url: this.url(req.url) };
    if (req.headers) out.headers = req.headers;
    if (req.body) out.body = req.body();
    if (authorization !== undefined) out.auth = { origin: this.origin, value: authorization };
    if (req.followRedirects !== undefined) out.followRedirects = req.followRedirects;
    if (req.expectedBytes !== undefined) out.expectedBytes = req.expectedBytes;
    return this.#transport.send(out);
  }
}
