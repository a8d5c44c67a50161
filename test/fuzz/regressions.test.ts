import assert from "node:assert/strict";
import { createServer, type OutgoingHttpHeaders } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { bytesBlob } from "../../src/registry/blobs.js";
import { RegistryClient } from "../../src/registry/client.js";

/** A real HTTP server on 127.0.0.1 giving one fixed reply to every request. */
async function replying(status: number, headers: OutgoingHttpHeaders, body: string): Promise<RegistryClient> {
  const server = createServer((_req, res) => {
    res.writeHead(status, headers);
    res.end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  after(() => new Promise((resolve) => server.close(resolve)));
  const client = new RegistryClient(`127.0.0.1:${(server.address() as AddressInfo).port}`, {
    retry: { retries: 0 },
  });
  after(() => client.close());
  return client;
}

/** Replies the registry fuzz (test/fuzz/registry.test.ts) found crashing the client, kept as regressions. */
describe("fuzz regressions: hostile registry replies", () => {
  for (const body of ["null", "[]", "7", '"text"']) {
    it(`a manifest whose JSON is ${body} is REGISTRY_MANIFEST_INVALID (seed 36905180)`, async () => {
      const client = await replying(
        200,
        { "content-type": "application/vnd.oci.image.manifest.v1+json" },
        body,
      );
      await assert.rejects(
        () => client.getManifest("team/agent", "latest"),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, "REGISTRY_MANIFEST_INVALID");
          assert.equal(err.message, "GET manifest team/agent:latest: manifest is not a JSON object");
          return true;
        },
      );
    });
  }

  it("a token endpoint answering null is REGISTRY_TOKEN_FAILED", async () => {
    let port = 0;
    const server = createServer((req, res) => {
      if (req.url?.startsWith("/token")) {
        res.writeHead(200, { "content-type": "application/json" });
        res.end("null");
        return;
      }
      res.writeHead(401, {
        "www-authenticate": `Bearer realm="http://127.0.0.1:${port}/token",service="reg"`,
      });
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    after(() => new Promise((resolve) => server.close(resolve)));
    port = (server.address() as AddressInfo).port;
    const client = new RegistryClient(`127.0.0.1:${port}`, {
      retry: { retries: 0 },
      credentials: { username: "u", password: "p" },
    });
    after(() => client.close());
    await assert.rejects(
      () => client.listTags("team/agent"),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, "REGISTRY_TOKEN_FAILED");
        assert.match(err.message, /token response is not a JSON object/);
        return true;
      },
    );
  });

  it("a referrers reply of null is REGISTRY_REFERRERS_INVALID", async () => {
    const client = await replying(200, { "content-type": "application/vnd.oci.image.index.v1+json" }, "null");
    await assert.rejects(
      () => client.listReferrers("team/agent", `sha256:${"a".repeat(64)}`),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, "REGISTRY_REFERRERS_INVALID");
        assert.match(err.message, /: not a JSON object$/);
        return true;
      },
    );
  });

  it("a redirect to a Location that is not a URL is REGISTRY_REDIRECT_INVALID (seed 273375041)", async () => {
    const client = await replying(307, { location: "http://[::1" }, "");
    await assert.rejects(
      () => client.headManifest("team/agent", "latest"),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, "REGISTRY_REDIRECT_INVALID");
        assert.match(
          err.message,
          /^HEAD http:\/\/127\.0\.0\.1:\d+\/v2\/team\/agent\/manifests\/latest: redirect to "http:\/\/\[::1", which is not a URL$/,
        );
        return true;
      },
    );
  });

  it("an upload Location that is not a URL is REGISTRY_BAD_RESPONSE", async () => {
    const server = createServer((req, res) => {
      if (req.method === "POST") res.writeHead(202, { location: "http://[::1" });
      else res.writeHead(404);
      res.end();
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    after(() => new Promise((resolve) => server.close(resolve)));
    const client = new RegistryClient(`127.0.0.1:${(server.address() as AddressInfo).port}`, {
      retry: { retries: 0 },
    });
    after(() => client.close());
    await assert.rejects(
      () => client.pushBlob("team/agent", bytesBlob(Buffer.from("x"))),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, "REGISTRY_BAD_RESPONSE");
        assert.match(err.message, /Location "http:\/\/\[::1" is not a URL/);
        return true;
      },
    );
  });
});
