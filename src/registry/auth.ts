import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { type Challenge, mergeScopes, parseChallenges } from "./challenge.js";
import { drain, readCapped, statusError } from "./errors.js";
import { isRetryableStatus, type RetryPolicy, waitBeforeRetry } from "./retry.js";
import type { HttpResponse, Transport } from "./transport.js";
import { TransportError } from "./transport.js";
import type { Credentials } from "./types.js";

const TOKEN_RESPONSE_LIMIT = 1024 * 1024;
const DEFAULT_EXPIRES_IN = 60;
const CLIENT_ID = "agentrc";

interface CachedToken {
  token: string;
  expiresAt: number;
}

export interface AuthenticatorOptions {
  /** The registry's origin (`https://host:port`): the only origin that receives its credentials. */
  origin: string;
  transport: Transport;
  retry: RetryPolicy;
  /** Loaded once, on the first challenge that needs them. */
  credentials: () => Promise<Credentials | undefined>;
  now?: () => number;
}

/** What to do after a 401: retry with these (possibly widened) scopes, or give up. */
export interface ChallengeOutcome {
  retry: boolean;
  scopes: string[];
}

/**
 * Authentication state for one registry: the scheme learnt from its challenges, credentials, and a per-scope
 * bearer token cache honouring `expires_in`.
 *
 * Credential rules (the same as docker's): credentials are sent only to the registry's own origin and to the
 * token realm named by a challenge that the registry's own origin returned. Challenges from any other origin
 * (e.g. blob storage after a redirect) are never answered. An https registry's realm must be https.
 */
export class Authenticator {
  readonly #opts: AuthenticatorOptions;
  #scheme: "basic" | "bearer" | undefined;
  #bearer: { realm: URL; service: string | undefined } | undefined;
  #credentials: Promise<Credentials | undefined> | undefined;
  /** A refresh token learnt from a token response (or the stored identity token). */
  #refreshToken: string | undefined;
  readonly #tokens = new Map<string, CachedToken>();
  readonly #pending = new Map<string, Promise<string>>();
  /** Token requests made, by kind: for tests and `--debug`. */
  readonly stats = { tokenRequests: 0, refreshRequests: 0 };

  constructor(opts: AuthenticatorOptions) {
    this.#opts = opts;
  }

  get scheme(): "basic" | "bearer" | undefined {
    return this.#scheme;
  }

  #now(): number {
    return (this.#opts.now ?? Date.now)();
  }

  #creds(): Promise<Credentials | undefined> {
    this.#credentials ??= this.#opts.credentials();
    return this.#credentials;
  }

  /** The Authorization value for a request needing `scopes`, or undefined (anonymous, or scheme not known yet). */
  async authorization(scopes: readonly string[]): Promise<string | undefined> {
    if (this.#scheme === undefined) return undefined;
    const creds = await this.#creds();
    if (this.#scheme === "basic") {
      if (creds?.username === undefined || creds.password === undefined) return undefined;
      return `Basic ${Buffer.from(`${creds.username}:${creds.password}`).toString("base64")}`;
    }
    if (creds?.registryToken) return `Bearer ${creds.registryToken}`;
    return `Bearer ${await this.#token(mergeScopes(scopes))}`;
  }

  /**
   * Learns from a 401 that the registry's origin returned. Returns whether retrying may succeed: the first
   * challenge of a scheme, or a bearer token that was rejected (dropped from the cache so a new one is fetched).
   */
  async onChallenge(
    header: string | undefined,
    scopes: readonly string[],
    sent: string | undefined,
  ): Promise<ChallengeOutcome> {
    const challenges = parseChallenges(header);
    const bearer = challenges.find((c) => c.scheme === "bearer");
    const basic = challenges.find((c) => c.scheme === "basic");
    if (bearer) return this.#onBearer(bearer, scopes, sent);
    if (basic) {
      this.#scheme = "basic";
      const creds = await this.#creds();
      const canTry = sent === undefined && creds?.username !== undefined && creds.password !== undefined;
      return { retry: canTry, scopes: [...scopes] };
    }
    return { retry: false, scopes: [...scopes] };
  }

  async #onBearer(
    c: Challenge,
    scopes: readonly string[],
    sent: string | undefined,
  ): Promise<ChallengeOutcome> {
    const realm = this.#checkRealm(c.params.realm);
    this.#scheme = "bearer";
    this.#bearer = { realm, service: c.params.service };
    const merged = mergeScopes(scopes, c.params.scope ? [c.params.scope] : []);
    if (sent === undefined) return { retry: true, scopes: merged };
    const creds = await this.#creds();
    if (creds?.registryToken) return { retry: false, scopes: merged };
    this.#tokens.delete(mergeScopes(scopes).join(" "));
    this.#tokens.delete(merged.join(" "));
    return { retry: true, scopes: merged };
  }

  #checkRealm(realm: string | undefined): URL {
    let url: URL;
    try {
      url = new URL(realm ?? "");
    } catch {
      throw new AgentrcError(
        "REGISTRY_AUTH_CHALLENGE_INVALID",
        `bearer challenge has no valid realm: "${realm}"`,
      );
    }
    if (url.protocol !== "https:" && url.protocol !== "http:") {
      throw new AgentrcError("REGISTRY_AUTH_CHALLENGE_INVALID", `token realm ${realm} is not an http(s) URL`);
    }
    if (this.#opts.origin.startsWith("https:") && url.protocol !== "https:") {
      throw new AgentrcError(
        "REGISTRY_AUTH_CHALLENGE_INVALID",
        `token realm ${realm} is plain http for an https registry; refusing to send credentials`,
      );
    }
    if (url.username || url.password) {
      throw new AgentrcError("REGISTRY_AUTH_CHALLENGE_INVALID", "token realm carries userinfo; refusing it");
    }
    return url;
  }

  /** A cached token for the scope set, or a new one (concurrent requests for one scope set share a fetch). */
  #token(scopes: string[]): Promise<string> {
    const key = scopes.join(" ");
    const cached = this.#tokens.get(key);
    if (cached && cached.expiresAt > this.#now()) return Promise.resolve(cached.token);
    let pending = this.#pending.get(key);
    if (!pending) {
      pending = this.#fetchToken(scopes).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    return pending;
  }

  async #fetchToken(scopes: string[]): Promise<string> {
    const creds = await this.#creds();
    const refresh = this.#refreshToken ?? creds?.identityToken;
    let res: HttpResponse | undefined;
    if (refresh) {
      res = await this.#postRefresh(refresh, scopes);
      if (res.status === 404 || res.status === 405) {
        await drain(res);
        res = undefined;
      }
    }
    res ??= await this.#getToken(scopes, creds);
    if (res.status === 401 || res.status === 403) {
      const err = await statusError(res, "token request");
      throw new AgentrcError("REGISTRY_TOKEN_FAILED", `${err.message}`, { hint: tokenHint(creds) });
    }
    if (res.status !== 200) {
      const err = await statusError(res, "token request");
      throw new AgentrcError("REGISTRY_TOKEN_FAILED", err.message);
    }
    const body = await readCapped(
      res.body,
      TOKEN_RESPONSE_LIMIT,
      () => new AgentrcError("REGISTRY_TOKEN_FAILED", "token response is larger than 1 MiB"),
    );
    return this.#remember(scopes, body);
  }

  #remember(scopes: string[], body: Buffer): string {
    let parsed: { token?: unknown; access_token?: unknown; expires_in?: unknown; refresh_token?: unknown };
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      throw new AgentrcError("REGISTRY_TOKEN_FAILED", "token response is not JSON");
    }
    if (parsed === null || typeof parsed !== "object") {
      throw new AgentrcError("REGISTRY_TOKEN_FAILED", "token response is not a JSON object");
    }
    const token = [parsed.token, parsed.access_token].find((t) => typeof t === "string" && t !== "");
    if (typeof token !== "string") {
      throw new AgentrcError(
        "REGISTRY_TOKEN_FAILED",
        "token response has neither `token` nor `access_token`",
      );
    }
    const expiresIn =
      typeof parsed.expires_in === "number" && parsed.expires_in > 0 ? parsed.expires_in : DEFAULT_EXPIRES_IN;
    // renew a little early so a token does not expire in flight
    const margin = Math.min(30, expiresIn * 0.1);
    this.#tokens.set(scopes.join(" "), { token, expiresAt: this.#now() + (expiresIn - margin) * 1000 });
    if (typeof parsed.refresh_token === "string" && parsed.refresh_token !== "") {
      this.#refreshToken = parsed.refresh_token;
    }
    return token;
  }

  #getToken(scopes: string[], creds: Credentials | undefined): Promise<HttpResponse> {
    this.stats.tokenRequests++;
    const url = new URL(this.#bearer!.realm);
    if (this.#bearer!.service !== undefined) url.searchParams.set("service", this.#bearer!.service);
    for (const s of scopes) url.searchParams.append("scope", s);
    const request: Parameters<Transport["send"]>[0] = { method: "GET", url };
    if (creds?.username !== undefined && creds.password !== undefined) {
      url.searchParams.set("client_id", CLIENT_ID);
      const basic = Buffer.from(`${creds.username}:${creds.password}`).toString("base64");
      request.auth = { origin: url.origin, value: `Basic ${basic}` };
    }
    return this.#send(() => request);
  }

  #postRefresh(refreshToken: string, scopes: string[]): Promise<HttpResponse> {
    this.stats.refreshRequests++;
    const form = new URLSearchParams({
      grant_type: "refresh_token",
      refresh_token: refreshToken,
      client_id: CLIENT_ID,
    });
    if (this.#bearer!.service !== undefined) form.set("service", this.#bearer!.service);
    if (scopes.length > 0) form.set("scope", scopes.join(" "));
    const url = new URL(this.#bearer!.realm);
    return this.#send(() => ({
      method: "POST",
      url,
      headers: { "content-type": "application/x-www-form-urlencoded" },
      body: form.toString(),
    }));
  }

  /** Token requests retry like any idempotent registry request. */
  async #send(make: () => Parameters<Transport["send"]>[0]): Promise<HttpResponse> {
    const policy = this.#opts.retry;
    for (let attempt = 0; ; attempt++) {
      let res: HttpResponse;
      try {
        res = await this.#opts.transport.send(make());
      } catch (err) {
        if (err instanceof TransportError && err.retryable && attempt < policy.retries) {
          await waitBeforeRetry(attempt, policy);
          continue;
        }
        throw err;
      }
      if (!isRetryableStatus(res.status) || attempt >= policy.retries) return res;
      await drain(res);
      await waitBeforeRetry(attempt, policy);
    }
  }
}

function tokenHint(creds: Credentials | undefined): string {
  return creds
    ? "The token service refused the stored credentials; run `agentrc login <host>` again."
    : "The token service wants credentials; run `agentrc login <host>` or set AGENTRC_REGISTRY_* for this host.";
}
