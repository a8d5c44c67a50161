import {
  createServer,
  request as httpRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type Server,
  type ServerResponse,
} from "node:http";
import { connect, type Socket } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

export interface SeenRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
}

export interface UpstreamReply {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
  /** Send the rewritten body chunked, without a Content-Length. */
  chunked?: boolean;
}

/** What to do with a matching request. */
export type FaultAction =
  /** Answer without forwarding. */
  | { kind: "status"; status: number; headers?: Record<string, string>; body?: string }
  /** Read this many request-body bytes, then destroy the connection (a reset in the middle of an upload). */
  | { kind: "reset"; afterBytes: number }
  /** Forward, send the reply's headers and this many body bytes, then destroy the connection (a reset mid-download). */
  | { kind: "cut"; afterBytes: number }
  /** Wait, then forward. */
  | { kind: "delay"; ms: number }
  /** Forward, then change the reply (status, headers, body) before sending it back. */
  | { kind: "rewrite"; transform: (reply: UpstreamReply, req: SeenRequest) => UpstreamReply };

export interface FaultRule {
  /** Which requests the rule applies to (default: every request). */
  match?: (req: SeenRequest) => boolean;
  /** How many times it fires (default 1; Infinity for always). */
  times?: number;
  action: FaultAction;
}

/**
 * An HTTP proxy in front of a real registry. It forwards everything (keeping the Host header, so the
 * registry's Location headers point back at the proxy) unless a rule fires. It also works as a forward
 * proxy (absolute-form requests and CONNECT), counting what went through it.
 */
export class FaultProxy {
  readonly seen: SeenRequest[] = [];
  readonly fired: { rule: number; method: string; url: string }[] = [];
  readonly forwarded: string[] = [];
  #rules: (FaultRule & { left: number })[] = [];
  #server: Server | undefined;
  readonly #targetPort: number;
  port = 0;

  constructor(targetPort: number) {
    this.#targetPort = targetPort;
  }

  get host(): string {
    return `127.0.0.1:${this.port}`;
  }

  /** Replaces the rules and forgets what was seen. */
  rules(rules: FaultRule[]): void {
    this.#rules = rules.map((r) => ({ ...r, left: r.times ?? 1 }));
    this.fired.length = 0;
    this.seen.length = 0;
    this.forwarded.length = 0;
  }

  async start(): Promise<this> {
    this.#server = createServer((req, res) => {
      this.#handle(req, res).catch(() => res.destroy());
    });
    this.#server.on("connect", (req: IncomingMessage, socket: Socket, head: Buffer) => {
      this.forwarded.push(`CONNECT ${req.url}`);
      const [host, port] = (req.url ?? "").split(":");
      const upstream = connect(Number(port), host ?? "127.0.0.1", () => {
        socket.write("HTTP/1.1 200 Connection Established\r\n\r\n");
        upstream.write(head);
        upstream.pipe(socket);
        socket.pipe(upstream);
      });
      upstream.on("error", () => socket.destroy());
      socket.on("error", () => upstream.destroy());
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.#server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }

  async #handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const seen: SeenRequest = { method: req.method ?? "", url: req.url ?? "", headers: req.headers };
    this.seen.push(seen);
    let target = { host: "127.0.0.1", port: this.#targetPort, path: seen.url };
    if (/^https?:\/\//.test(seen.url)) {
      // forward-proxy request (absolute form)
      const u = new URL(seen.url);
      this.forwarded.push(`${seen.method} ${seen.url}`);
      target = { host: u.hostname, port: Number(u.port || 80), path: `${u.pathname}${u.search}` };
    }
    const index = this.#rules.findIndex((r) => r.left > 0 && (r.match?.(seen) ?? true));
    const rule = this.#rules[index];
    if (rule) {
      rule.left--;
      this.fired.push({ rule: index, method: seen.method, url: seen.url });
    }
    const action = rule?.action;
    if (action?.kind === "status") {
      for await (const _ of req) {
        // read the request body before answering
      }
      res.writeHead(action.status, action.headers ?? {});
      res.end(action.body ?? "");
      return;
    }
    if (action?.kind === "reset") {
      let received = 0;
      req.on("data", (c: Buffer) => {
        received += c.length;
        if (received >= action.afterBytes) req.socket.destroy();
      });
      req.on("end", () => req.socket.destroy());
      return;
    }
    if (action?.kind === "delay") await sleep(action.ms);
    const upstream = httpRequest({
      host: target.host,
      port: target.port,
      method: seen.method,
      path: target.path,
      headers: req.headers,
    });
    req.pipe(upstream);
    const reply = await new Promise<IncomingMessage>((resolve, reject) => {
      upstream.on("response", resolve);
      upstream.on("error", reject);
    });
    if (action?.kind === "rewrite") {
      const chunks: Buffer[] = [];
      for await (const c of reply) chunks.push(c as Buffer);
      const out = action.transform(
        { status: reply.statusCode ?? 502, headers: { ...reply.headers }, body: Buffer.concat(chunks) },
        seen,
      );
      const headers = { ...out.headers };
      delete headers["transfer-encoding"];
      if (out.chunked) delete headers["content-length"];
      else if (seen.method !== "HEAD") headers["content-length"] = String(out.body.length);
      res.writeHead(out.status, headers);
      res.end(seen.method === "HEAD" ? undefined : out.body);
      return;
    }
    res.writeHead(reply.statusCode ?? 502, reply.headers);
    if (action?.kind === "cut") {
      let sent = 0;
      res.flushHeaders();
      for await (const c of reply) {
        const chunk = (c as Buffer).subarray(0, Math.max(0, action.afterBytes - sent));
        if (chunk.length > 0) res.write(chunk);
        sent += chunk.length;
        if (sent >= action.afterBytes) break;
      }
      // let the bytes reach the client before the reset
      await sleep(50);
      res.socket?.destroy();
      reply.destroy();
      return;
    }
    reply.pipe(res);
  }
}

export async function startFaultProxy(targetPort: number): Promise<FaultProxy> {
  return new FaultProxy(targetPort).start();
}

/**
 * "Another host": a plain HTTP server on another port that records every request (to check that no
 * Authorization header reaches it) and answers with `handler`.
 */
export class OtherHost {
  readonly seen: SeenRequest[] = [];
  #server: Server | undefined;
  port = 0;
  handler: (req: SeenRequest, res: ServerResponse) => void = (_req, res) => {
    res.writeHead(404);
    res.end();
  };

  get origin(): string {
    return `http://127.0.0.1:${this.port}`;
  }

  async start(): Promise<this> {
    this.#server = createServer((req, res) => {
      const seen = { method: req.method ?? "", url: req.url ?? "", headers: req.headers };
      this.seen.push(seen);
      req.resume();
      req.on("end", () => this.handler(seen, res));
    });
    await new Promise<void>((resolve) => this.#server!.listen(0, "127.0.0.1", resolve));
    this.port = (this.#server.address() as { port: number }).port;
    return this;
  }

  async stop(): Promise<void> {
    this.#server?.closeAllConnections();
    await new Promise<void>((resolve) => (this.#server ? this.#server.close(() => resolve()) : resolve()));
  }
}
