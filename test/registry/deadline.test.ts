import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { createServer, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { RegistryClient } from "../../src/registry/client.js";

/** A real HTTP server on 127.0.0.1 whose handler decides how (slowly) to answer. */
async function server(handler: (url: string, res: ServerResponse) => void): Promise<string> {
  const open = new Set<ServerResponse>();
  const s: Server = createServer((req, res) => {
    open.add(res);
    res.on("close", () => open.delete(res));
    handler(req.url ?? "/", res);
  });
  await new Promise<void>((resolve) => s.listen(0, "127.0.0.1", resolve));
  after(async () => {
    for (const res of open) res.destroy();
    await new Promise((resolve) => s.close(resolve));
  });
  return `127.0.0.1:${(s.address() as AddressInfo).port}`;
}

/** Sends one byte of `body` every `everyMs`, forever (or until the client goes away). */
function trickle(res: ServerResponse, body: string, everyMs: number): void {
  let i = 0;
  const timer = setInterval(() => {
    if (res.destroyed) return clearInterval(timer);
    res.write(body[i++ % body.length]!);
  }, everyMs);
  res.on("close", () => clearInterval(timer));
}

const noRetry = { retries: 0 };

async function refusedWithin(run: () => Promise<unknown>, ms: number, message: RegExp): Promise<void> {
  const started = Date.now();
  await assert.rejects(run, (err: Error & { code?: string }) => {
    assert.equal(err.code, "REGISTRY_TIMEOUT", `${err.code}: ${err.message}`);
    assert.match(err.message, message);
    return true;
  });
  // Generous: the point is that it ends, not how fast (the trickle would go on for ever).
  assert.ok(Date.now() - started < ms, `took ${Date.now() - started} ms`);
}

describe("a registry that trickles is cut off by the per-request deadline", () => {
  it("a reply body sent one byte every 200 ms: REGISTRY_TIMEOUT after requestTimeoutMs", async () => {
    const host = await server((_url, res) => {
      res.writeHead(200, { "content-type": "application/json" });
      trickle(res, '{"tags":["a","b"]}', 200);
    });
    const client = new RegistryClient(host, { requestTimeoutMs: 1500, retry: noRetry });
    after(() => client.close());
    await refusedWithin(
      () => client.listTags("team/agent"),
      20_000,
      new RegExp(`GET http://${host}/v2/team/agent/tags/list: no complete reply within 1500 ms`),
    );
  });

  it("response headers trickled one byte at a time never arrive: REGISTRY_TIMEOUT", async () => {
    const host = await server((_url, res) => {
      const socket = res.socket!;
      const head = "HTTP/1.1 200 OK\r\ncontent-type: application/json\r\ncontent-length: 2\r\n\r\n{}";
      let i = 0;
      const timer = setInterval(() => {
        if (socket.destroyed) return clearInterval(timer);
        socket.write(head[i++ % head.length]!);
      }, 200);
      socket.on("close", () => clearInterval(timer));
    });
    const client = new RegistryClient(host, { requestTimeoutMs: 1000, retry: noRetry });
    after(() => client.close());
    await refusedWithin(
      () => client.ping(),
      20_000,
      /GET http:\/\/127\.0\.0\.1:\d+\/v2\/: no complete reply within 1000 ms/,
    );
  });

  it("a blob that streams steadily may take longer than the deadline; its size extends it", async () => {
    const blob = Buffer.alloc(256 * 1024, 7);
    const digest = `sha256:${createHash("sha256").update(blob).digest("hex")}`;
    const host = await server((_url, res) => {
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": String(blob.length),
      });
      // 16 KiB every 100 ms: 1.6 s in all, more than the 1 s deadline, at 160 KiB/s (over the 64 KiB/s minimum).
      let at = 0;
      const timer = setInterval(() => {
        if (res.destroyed) return clearInterval(timer);
        res.write(blob.subarray(at, at + 16 * 1024));
        at += 16 * 1024;
        if (at >= blob.length) {
          clearInterval(timer);
          res.end();
        }
      }, 100);
    });
    const client = new RegistryClient(host, {
      requestTimeoutMs: 1000,
      minBytesPerSecond: 64 * 1024,
      retry: noRetry,
    });
    after(() => client.close());
    const stream = await client.getBlob("team/agent", digest, blob.length);
    let got = 0;
    for await (const chunk of stream) got += (chunk as Buffer).length;
    assert.equal(got, blob.length);
  });

  it("the same blob trickled far below the minimum rate is cut off", async () => {
    const blob = Buffer.alloc(64 * 1024, 7);
    const digest = `sha256:${createHash("sha256").update(blob).digest("hex")}`;
    const host = await server((_url, res) => {
      res.writeHead(200, {
        "content-type": "application/octet-stream",
        "content-length": String(blob.length),
      });
      trickle(res, "x", 100);
    });
    const client = new RegistryClient(host, {
      requestTimeoutMs: 1000,
      minBytesPerSecond: 64 * 1024,
      retry: noRetry,
    });
    after(() => client.close());
    await refusedWithin(
      async () => {
        const stream = await client.getBlob("team/agent", digest, blob.length);
        for await (const _ of stream) {
          // read until it fails
        }
      },
      20_000,
      /no complete reply within 2000 ms/,
    );
  });
});
