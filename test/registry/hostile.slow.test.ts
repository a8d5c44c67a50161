import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { bytesBlob } from "../../src/registry/blobs.js";
import { RegistryClient, type RegistryClientOptions } from "../../src/registry/client.js";
import { MEDIA_TYPES } from "../../src/registry/manifests.js";
import type { TraceEvent } from "../../src/registry/trace.js";
import { makeArtifact, pushArtifact, readAll, sha256, type TestArtifact } from "../helpers/artifacts.js";
import { type FaultProxy, OtherHost, type SeenRequest, startFaultProxy } from "../helpers/faultProxy.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

const isCode = (code: string, message: RegExp) => (err: Error & { code?: string }) => {
  assert.equal(err.code, code);
  assert.match(err.message, message);
  return true;
};
/** Authenticated requests only: the first, anonymous, attempt of each is answered 401 by the registry. */
const is = (method: string, path: RegExp) => (r: SeenRequest) =>
  r.method === method && path.test(r.url) && r.headers.authorization !== undefined;
const ALWAYS = Number.POSITIVE_INFINITY;

describe("hostile registry replies (htpasswd registry behind a rewriting proxy)", () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  let other: OtherHost;
  let dir: string;
  let artifact: TestArtifact;
  let layer: TestArtifact["layers"][number];
  before(async () => {
    registry = await startRegistry({ mode: "htpasswd" });
    proxy = await startFaultProxy(registry.port);
    other = await new OtherHost().start();
    dir = await mkdtemp(join(tmpdir(), "agentrc-hostile-"));
    artifact = await makeArtifact(dir, [20_000]);
    layer = artifact.layers[0]!;
    const client = new RegistryClient(registry.host, registry.clientOptions());
    await pushArtifact(client, "hostile/app", artifact, "v1");
    await client.close();
  });
  after(async () => {
    await proxy?.stop();
    await other?.stop();
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });
  beforeEach(() => {
    proxy.rules([]);
    other.seen.length = 0;
  });

  const withClient = async (fn: (c: RegistryClient) => Promise<void>, extra: RegistryClientOptions = {}) => {
    const client = new RegistryClient(
      proxy.host,
      registry.clientOptions({ retry: { retries: 1, baseDelayMs: 5 }, ...extra }),
    );
    try {
      await fn(client);
    } finally {
      await client.close();
    }
  };

  test("a blob whose bytes differ from its digest fails while streaming", async () => {
    proxy.rules([
      {
        match: is("GET", /\/blobs\/sha256:/),
        times: 2,
        action: {
          kind: "rewrite",
          transform: (reply) => ({ ...reply, body: Buffer.from(reply.body.map((b) => b ^ 1)) }),
        },
      },
    ]);
    await withClient(async (client) => {
      const stream = await client.getBlob("hostile/app", layer.digest, layer.size);
      await assert.rejects(
        readAll(stream),
        isCode(
          "REGISTRY_DIGEST_MISMATCH",
          /GET blob hostile\/app@sha256:[0-9a-f]{64}: content has digest sha256:/,
        ),
      );
      // without a known size the digest check still fires
      await assert.rejects(
        readAll(await client.getBlob("hostile/app", layer.digest)),
        isCode("REGISTRY_DIGEST_MISMATCH", /content has digest/),
      );
    });
  });

  test("a blob longer than its descriptor says fails with REGISTRY_SIZE_MISMATCH", async () => {
    proxy.rules([
      {
        match: is("GET", /\/blobs\/sha256:/),
        action: {
          kind: "rewrite",
          transform: (reply) => ({ ...reply, body: Buffer.concat([reply.body, Buffer.from("extra")]) }),
        },
      },
    ]);
    await withClient(async (client) => {
      await assert.rejects(
        client.getBlob("hostile/app", layer.digest, layer.size),
        isCode("REGISTRY_SIZE_MISMATCH", /Content-Length is 20005, expected 20000/),
      );
    });
  });

  test("a manifest with a wrong Docker-Content-Digest, or other bytes, is refused", async () => {
    const wrong = `sha256:${"ab".repeat(32)}`;
    proxy.rules([
      {
        match: is("GET", /\/manifests\/v1$/),
        action: {
          kind: "rewrite",
          transform: (r) => ({ ...r, headers: { ...r.headers, "docker-content-digest": wrong } }),
        },
      },
      {
        match: is("GET", /\/manifests\/sha256:/),
        action: { kind: "rewrite", transform: (r) => ({ ...r, body: Buffer.from(`${r.body.toString()} `) }) },
      },
    ]);
    await withClient(async (client) => {
      await assert.rejects(
        client.getManifest("hostile/app", "v1"),
        isCode(
          "REGISTRY_DIGEST_MISMATCH",
          /Docker-Content-Digest is sha256:abab.* but the content has digest/,
        ),
      );
      await assert.rejects(
        client.getManifest("hostile/app", artifact.manifestDigest),
        isCode("REGISTRY_DIGEST_MISMATCH", /GET manifest hostile\/app:sha256:[0-9a-f]+: content has digest/),
      );
    });
  });

  test("a manifest over 4 MiB is refused, with or without Content-Length", async () => {
    const huge = JSON.stringify({ mediaType: MEDIA_TYPES.ociManifest, pad: "x".repeat(4 * 1024 * 1024) });
    proxy.rules([
      {
        match: is("GET", /\/manifests\//),
        action: {
          kind: "status",
          status: 200,
          headers: { "content-type": MEDIA_TYPES.ociManifest },
          body: huge,
        },
      },
      {
        match: is("GET", /\/manifests\//),
        action: {
          kind: "status",
          status: 200,
          headers: { "content-type": MEDIA_TYPES.ociManifest, "transfer-encoding": "chunked" },
          body: huge,
        },
      },
    ]);
    await withClient(async (client) => {
      for (let i = 0; i < 2; i++) {
        await assert.rejects(
          client.getManifest("hostile/app", "v1"),
          isCode(
            "REGISTRY_MANIFEST_TOO_LARGE",
            /GET manifest hostile\/app:v1: manifest is larger than 4194304 bytes/,
          ),
        );
      }
      await assert.rejects(
        client.putManifest("hostile/app", "big", Buffer.from(huge), MEDIA_TYPES.ociManifest),
        isCode("REGISTRY_MANIFEST_TOO_LARGE", /PUT manifest hostile\/app:big/),
      );
    });
  });

  test("Content-Type disagreeing with the manifest's mediaType is refused", async () => {
    proxy.rules([
      {
        match: is("GET", /\/manifests\//),
        action: {
          kind: "rewrite",
          transform: (r) => ({ ...r, headers: { ...r.headers, "content-type": MEDIA_TYPES.dockerManifest } }),
        },
      },
    ]);
    await withClient(async (client) => {
      await assert.rejects(
        client.getManifest("hostile/app", "v1"),
        isCode("REGISTRY_MANIFEST_INVALID", /Content-Type application\/vnd\.docker.* disagrees/),
      );
    });
  });

  test("a PUT acknowledged with another digest is reported", async () => {
    proxy.rules([
      {
        match: is("PUT", /\/manifests\//),
        action: {
          kind: "rewrite",
          transform: (r) => ({
            ...r,
            headers: { ...r.headers, "docker-content-digest": `sha256:${"0".repeat(64)}` },
          }),
        },
      },
    ]);
    await withClient(async (client) => {
      await assert.rejects(
        client.putManifest("hostile/app", "v2", artifact.manifest, MEDIA_TYPES.ociManifest),
        isCode("REGISTRY_DIGEST_MISMATCH", /registry stored sha256:0{64}, we sent sha256:/),
      );
    });
  });

  test("a blob redirect to another host is followed without the Authorization header", async () => {
    proxy.rules([
      {
        match: is("GET", /\/blobs\/sha256:/),
        times: ALWAYS,
        action: {
          kind: "status",
          status: 307,
          headers: { location: `${other.origin}/storage/blob?X-Amz-Signature=s3cr3t&expires=1` },
        },
      },
    ]);
    const data = await import("node:fs/promises").then((fs) => fs.readFile(artifactPath(layer)));
    other.handler = (_req, res) => {
      res.writeHead(200, { "content-length": String(data.length) });
      res.end(data);
    };
    const trace: TraceEvent[] = [];
    await withClient(
      async (client) => {
        const got = await readAll(await client.getBlob("hostile/app", layer.digest, layer.size));
        assert.equal(sha256(got), layer.digest);
      },
      { trace: (e) => trace.push(e) },
    );
    const toRegistry = proxy.seen.filter((r) => /\/blobs\//.test(r.url));
    assert.ok(toRegistry.at(-1)?.headers.authorization?.startsWith("Basic "), "the registry got credentials");
    assert.equal(other.seen.length, 1);
    assert.equal(other.seen[0]!.headers.authorization, undefined);
    const hop = trace.find((e) => e.url.startsWith(other.origin))!;
    assert.match(hop.url, /X-Amz-Signature=redacted&expires=1/);
    assert.ok(trace.every((e) => !JSON.stringify(e).includes("alice-secret")));
    assert.ok(
      trace
        .filter((e) => e.requestHeaders.authorization)
        .every((e) => e.requestHeaders.authorization === "Basic <redacted>"),
    );
  });

  test("a challenge from the redirect target is not answered with credentials", async () => {
    proxy.rules([
      {
        match: is("GET", /\/blobs\/sha256:/),
        times: ALWAYS,
        action: { kind: "status", status: 302, headers: { location: `${other.origin}/storage/blob` } },
      },
    ]);
    other.handler = (_req, res) => {
      res.writeHead(401, { "www-authenticate": `Basic realm="evil", Bearer realm="${other.origin}/token"` });
      res.end();
    };
    await withClient(async (client) => {
      await assert.rejects(
        client.getBlob("hostile/app", layer.digest, layer.size),
        isCode("REGISTRY_UNAUTHORIZED", /registry answered 401 \(http:\/\/127\.0\.0\.1:\d+\/storage\/blob\)/),
      );
    });
    assert.ok(other.seen.length >= 1);
    assert.ok(other.seen.every((r) => r.headers.authorization === undefined && !r.url.startsWith("/token")));
  });

  test("an upload Location on another host gets the body but never the credentials", async () => {
    proxy.rules([
      {
        match: is("POST", /\/blobs\/uploads\/$/),
        action: {
          kind: "rewrite",
          transform: (r) => ({
            ...r,
            headers: { ...r.headers, location: `${other.origin}/upload/1?sig=abc` },
          }),
        },
      },
    ]);
    const blob = bytesBlob(Buffer.from("redirected upload"));
    other.handler = (_req, res) => {
      res.writeHead(201, { "docker-content-digest": blob.digest });
      res.end();
    };
    await withClient(async (client) => {
      const result = await client.pushBlob("hostile/app", blob);
      assert.equal(result.status, "uploaded");
    });
    assert.equal(other.seen.length, 1);
    assert.equal(other.seen[0]!.method, "PUT");
    assert.equal(other.seen[0]!.url, `/upload/1?sig=abc&digest=${encodeURIComponent(blob.digest)}`);
    assert.equal(other.seen[0]!.headers.authorization, undefined);
  });

  test("a token realm that is not http(s) is refused before any credential is sent", async () => {
    proxy.rules([
      {
        match: (r) => r.headers.authorization === undefined,
        times: ALWAYS,
        action: {
          kind: "status",
          status: 401,
          headers: { "www-authenticate": 'Bearer realm="file:///etc/passwd",service="x"' },
        },
      },
    ]);
    await withClient(async (client) => {
      await assert.rejects(
        client.listTags("hostile/app"),
        isCode(
          "REGISTRY_AUTH_CHALLENGE_INVALID",
          /token realm file:\/\/\/etc\/passwd is not an http\(s\) URL/,
        ),
      );
    });
  });

  test("a redirect loop and a pagination loop end with clear errors", async () => {
    proxy.rules([
      {
        match: is("GET", /\/blobs\//),
        times: ALWAYS,
        action: { kind: "status", status: 302, headers: { location: "/v2/hostile/app/blobs/again" } },
      },
      {
        match: is("GET", /\/tags\/list/),
        times: ALWAYS,
        action: {
          kind: "status",
          status: 200,
          headers: {
            "content-type": "application/json",
            link: '</v2/hostile/app/tags/list?n=1>; rel="next"',
          },
          body: JSON.stringify({ name: "hostile/app", tags: ["v1"] }),
        },
      },
    ]);
    await withClient(async (client) => {
      await assert.rejects(
        client.getBlob("hostile/app", layer.digest),
        isCode("REGISTRY_REDIRECT_INVALID", /too many redirects/),
      );
      await assert.rejects(
        client.listTags("hostile/app", { pageSize: 1 }),
        isCode("REGISTRY_BAD_RESPONSE", /list tags of hostile\/app: pagination loops/),
      );
    });
  });

  function artifactPath(blob: TestArtifact["layers"][number]): string {
    // fileBlob streams: read the path back from a fresh stream
    return (blob.open() as unknown as { path: string }).path;
  }
});
