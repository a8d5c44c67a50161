import { createHash, createPrivateKey, createPublicKey, randomBytes, sign } from "node:crypto";
import { readFile } from "node:fs/promises";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";

export interface IssuerUser {
  password: string;
  /** Repositories may be pulled (default true) / pushed and deleted (default true). */
  pull?: boolean;
  push?: boolean;
}

export interface IssuedRequest {
  method: string;
  grantType: string;
  user: string | undefined;
  scopes: string[];
  hadAuthorization: boolean;
}

/**
 * A test token service (docker/distribution token auth): GET /token with Basic auth, POST /token with
 * grant_type=password|refresh_token. Signs RS256/ES256 JWTs with a key whose certificate the registry trusts;
 * the `kid` is the libtrust key ID of that certificate's public key.
 */
export class TokenIssuer {
  readonly users = new Map<string, IssuerUser>();
  readonly requests: IssuedRequest[] = [];
  /** `expires_in` reported to clients (the JWT itself lives 5 minutes). */
  expiresIn = 300;
  /** The next N tokens are signed already expired: the registry rejects them (tests re-auth on 401). */
  poisonNext = 0;
  readonly refreshTokens = new Map<string, string>();
  readonly issuer = "agentrc-test-issuer";
  readonly service = "agentrc-test-registry";
  #server: Server | undefined;
  #key!: ReturnType<typeof createPrivateKey>;
  #kid!: string;
  #alg!: "ES256" | "RS256";
  port = 0;

  get realm(): string {
    return `http://127.0.0.1:${this.port}/token`;
  }

  async start(keyFile: string, certFile: string, alg: "ES256" | "RS256"): Promise<void> {
    this.#alg = alg;
    this.#key = createPrivateKey(await readFile(keyFile));
    this.#kid = libtrustKeyId(
      createPublicKey(await readFile(certFile)).export({ type: "spki", format: "der" }),
    );
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch((err) => {
        res.statusCode = 500;
        res.end(String(err));
      });
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.#server.address() as AddressInfo).port;
  }

  /** A refresh token for `user`, as `docker login` would have stored (an identity token). */
  refreshTokenFor(user: string): string {
    const token = randomBytes(16).toString("hex");
    this.refreshTokens.set(token, user);
    return token;
  }

  /** A JWT granting `actions` on `repository` to `user`, valid for the registry (for AGENTRC_REGISTRY_TOKEN). */
  tokenFor(user: string, repository: string, actions: string[]): string {
    return this.#sign(user, [{ type: "repository", name: repository, actions }], false);
  }

  async stop(): Promise<void> {
    await new Promise<void>((resolve) => {
      this.#server?.closeAllConnections();
      this.#server ? this.#server.close(() => resolve()) : resolve();
    });
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    if (url.pathname !== "/token") return void this.#reply(res, 404, { error: "not found" });
    let params = url.searchParams;
    let scopes = params.getAll("scope");
    if (req.method === "POST") {
      const chunks: Buffer[] = [];
      for await (const c of req) chunks.push(c as Buffer);
      params = new URLSearchParams(Buffer.concat(chunks).toString("utf8"));
      scopes = (params.get("scope") ?? "").split(" ").filter((s) => s !== "");
    }
    const grantType = req.method === "POST" ? (params.get("grant_type") ?? "") : "basic";
    let user: string | undefined;
    if (grantType === "refresh_token") {
      user = this.refreshTokens.get(params.get("refresh_token") ?? "");
      if (!user) return void this.#record(req, grantType, undefined, scopes, res, 401);
    } else {
      const [name, password] =
        grantType === "password"
          ? [params.get("username") ?? undefined, params.get("password") ?? ""]
          : basicAuth(req.headers.authorization);
      if (name !== undefined) {
        if (this.users.get(name)?.password !== password) {
          return void this.#record(req, grantType, name, scopes, res, 401);
        }
        user = name;
      }
    }
    this.#record(req, grantType, user, scopes, undefined, 200);
    const access = scopes.flatMap((s) => this.#grant(user, s));
    const body: Record<string, unknown> = {
      token: this.#sign(user ?? "", access, this.poisonNext > 0),
      expires_in: this.expiresIn,
      issued_at: new Date().toISOString(),
    };
    if (this.poisonNext > 0) this.poisonNext--;
    if (user && (params.get("offline_token") === "true" || grantType === "password")) {
      body.refresh_token = this.refreshTokenFor(user);
    }
    this.#reply(res, 200, body);
  }

  #record(
    req: IncomingMessage,
    grantType: string,
    user: string | undefined,
    scopes: string[],
    res: ServerResponse | undefined,
    status: number,
  ): void {
    this.requests.push({
      method: req.method ?? "",
      grantType,
      user,
      scopes,
      hadAuthorization: req.headers.authorization !== undefined,
    });
    if (res) this.#reply(res, status, { errors: [{ code: "UNAUTHORIZED", message: "bad credentials" }] });
  }

  #grant(user: string | undefined, scope: string): { type: string; name: string; actions: string[] }[] {
    const first = scope.indexOf(":");
    const last = scope.lastIndexOf(":");
    if (first < 0 || last === first || !user) return [];
    const rights = this.users.get(user)!;
    const wanted = scope.slice(last + 1).split(",");
    const allowed = wanted.filter((a) =>
      a === "pull"
        ? rights.pull !== false
        : a === "push" || a === "delete" || a === "*"
          ? rights.push !== false
          : false,
    );
    return [{ type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: allowed }];
  }

  #sign(subject: string, access: unknown[], expired: boolean): string {
    const now = Math.floor(Date.now() / 1000);
    const header = { typ: "JWT", alg: this.#alg, kid: this.#kid };
    const claims = {
      iss: this.issuer,
      sub: subject,
      aud: this.service,
      iat: now - 5,
      nbf: now - 5,
      // the registry allows 60 s of clock skew: an "expired" token is expired by much more than that
      exp: expired ? now - 600 : now + 300,
      jti: randomBytes(8).toString("hex"),
      access,
    };
    const input = `${b64url(JSON.stringify(header))}.${b64url(JSON.stringify(claims))}`;
    const signature =
      this.#alg === "ES256"
        ? sign("sha256", Buffer.from(input), { key: this.#key, dsaEncoding: "ieee-p1363" })
        : sign("sha256", Buffer.from(input), this.#key);
    return `${input}.${b64url(signature)}`;
  }

  #reply(res: ServerResponse, status: number, body: unknown): void {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  }
}

function basicAuth(header: string | undefined): [string | undefined, string] {
  const m = /^Basic\s+(.+)$/i.exec(header ?? "");
  if (!m) return [undefined, ""];
  const decoded = Buffer.from(m[1]!, "base64").toString("utf8");
  const i = decoded.indexOf(":");
  return [decoded.slice(0, i), decoded.slice(i + 1)];
}

function b64url(data: string | Buffer): string {
  return Buffer.from(data).toString("base64url");
}

/** libtrust's key ID: base32 of the first 240 bits of sha256(SPKI DER), in groups of four joined by ':'. */
export function libtrustKeyId(spki: Buffer): string {
  const hash = createHash("sha256").update(spki).digest().subarray(0, 30);
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const byte of hash) bits += byte.toString(2).padStart(8, "0");
  let out = "";
  for (let i = 0; i + 5 <= bits.length; i += 5) out += alphabet[Number.parseInt(bits.slice(i, i + 5), 2)];
  return out.match(/.{4}/g)!.join(":");
}
