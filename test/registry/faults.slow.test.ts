import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, beforeEach, describe, test } from "node:test";
import { RegistryClient, type RegistryClientOptions } from "../../src/registry/client.js";
import { assertConsistent, makeArtifact, pushArtifact } from "../helpers/artifacts.js";
import { type FaultProxy, type SeenRequest, startFaultProxy } from "../helpers/faultProxy.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

const FAST_RETRY = { retries: 4, baseDelayMs: 20, maxDelayMs: 200 };
const isCode = (code: string, message: RegExp) => (err: Error & { code?: string }) => {
  assert.equal(err.code, code);
  assert.match(err.message, message);
  return true;
};
const is = (method: string, path: RegExp) => (r: SeenRequest) => r.method === method && path.test(r.url);

for (const mode of ["htpasswd", "token"] as const) {
  describe(`faults between client and registry (${mode})`, () => {
    let registry: TestRegistry;
    let proxy: FaultProxy;
    let dir: string;
    before(async () => {
      registry = await startRegistry({ mode });
      proxy = await startFaultProxy(registry.port);
      dir = await mkdtemp(join(tmpdir(), "agentrc-faults-"));
    });
    after(async () => {
      await proxy?.stop();
      await registry?.stop();
      await rm(dir, { recursive: true, force: true });
    });
    beforeEach(() => proxy.rules([]));

    const viaProxy = (extra: RegistryClientOptions = {}) =>
      new RegistryClient(proxy.host, registry.clientOptions({ retry: FAST_RETRY, ...extra }));
    const direct = () => new RegistryClient(registry.host, registry.clientOptions());

    test("a push survives 429 + Retry-After, 500/503 and connection resets mid-upload", async () => {
      const artifact = await makeArtifact(dir, [400_000, 300_000]);
      proxy.rules([
        {
          match: is("HEAD", /\/blobs\//),
          action: { kind: "status", status: 429, headers: { "retry-after": "1" } },
        },
        { match: is("POST", /\/blobs\/uploads\/$/), action: { kind: "status", status: 503 } },
        { match: is("PUT", /\/blobs\/uploads\//), times: 2, action: { kind: "reset", afterBytes: 100_000 } },
        { match: is("PUT", /\/blobs\/uploads\//), action: { kind: "status", status: 500 } },
        { match: is("PUT", /\/manifests\//), action: { kind: "status", status: 502 } },
      ]);
      const client = viaProxy();
      const started = Date.now();
      try {
        const pushed = await pushArtifact(client, "faults/app", artifact, "v1");
        assert.equal(pushed.manifest.digest, artifact.manifestDigest);
      } finally {
        await client.close();
      }
      assert.ok(Date.now() - started >= 1000, "Retry-After: 1 was honoured");
      assert.equal(proxy.fired.length, 6);
      // every reset or failed PUT was followed by a fresh POST (a new upload session)
      const steps = proxy.seen.filter((r) => /\/blobs\/uploads\//.test(r.url)).map((r) => r.method);
      assert.deepEqual(steps.slice(0, 12), [
        "POST", // 503, retried in place
        "POST",
        "PUT", // reset after 100 kB
        "DELETE", // the broken session is abandoned
        "POST",
        "PUT", // reset again
        "DELETE",
        "POST",
        "PUT", // 500
        "DELETE",
        "POST",
        "PUT", // done
      ]);
      const check = direct();
      try {
        await assertConsistent(check, "faults/app", artifact, "v1");
      } finally {
        await check.close();
      }
    });

    test("a reset in the middle of a chunk restarts the chunked upload from a fresh POST", async () => {
      const artifact = await makeArtifact(dir, [250_000]);
      proxy.rules([
        {
          match: (r) => r.method === "PATCH" && Number(r.headers["content-length"]) > 1000,
          action: { kind: "reset", afterBytes: 50_000 },
        },
      ]);
      const client = viaProxy({ upload: { mode: "chunked", chunkSize: 100_000 } });
      try {
        await pushArtifact(client, "faults/chunked", artifact, "v1");
      } finally {
        await client.close();
      }
      const patches = proxy.seen
        .filter((r) => r.method === "PATCH" && Number(r.headers["content-length"]) > 1000)
        .map((r) => r.headers["content-range"]);
      assert.deepEqual(patches, ["0-99999", "0-99999", "100000-199999", "200000-249999"]);
      const check = direct();
      try {
        await assertConsistent(check, "faults/chunked", artifact, "v1");
      } finally {
        await check.close();
      }
    });

    test("413 on a monolithic PUT falls back to chunks of at least OCI-Chunk-Min-Length", async () => {
      const artifact = await makeArtifact(dir, [300_000]);
      proxy.rules([
        {
          match: is("POST", /\/blobs\/uploads\/$/),
          times: Number.POSITIVE_INFINITY,
          action: {
            kind: "rewrite",
            transform: (reply) => ({
              ...reply,
              headers: { ...reply.headers, "oci-chunk-min-length": "120000" },
            }),
          },
        },
        {
          match: (r) => r.method === "PUT" && Number(r.headers["content-length"]) > 150_000,
          times: Number.POSITIVE_INFINITY,
          action: { kind: "status", status: 413 },
        },
      ]);
      const client = viaProxy({ upload: { chunkSize: 1000 } });
      try {
        await pushArtifact(client, "faults/fallback", artifact, "v1");
      } finally {
        await client.close();
      }
      const patches = proxy.seen
        .filter((r) => r.method === "PATCH" && Number(r.headers["content-length"]) > 1000)
        .map((r) => r.headers["content-range"]);
      assert.deepEqual(patches, ["0-119999", "120000-239999", "240000-299999"]);
      const check = direct();
      try {
        await assertConsistent(check, "faults/fallback", artifact, "v1");
      } finally {
        await check.close();
      }
    });

    test("relative upload Locations and slow replies are handled", async () => {
      const artifact = await makeArtifact(dir, [10_000]);
      proxy.rules([
        {
          match: (r) => r.method === "POST" || r.method === "PATCH",
          times: Number.POSITIVE_INFINITY,
          action: {
            kind: "rewrite",
            transform: (reply) => {
              const location = new URL(String(reply.headers.location));
              return {
                ...reply,
                headers: { ...reply.headers, location: `${location.pathname}${location.search}` },
              };
            },
          },
        },
        { match: is("GET", /\/manifests\//), times: 1, action: { kind: "delay", ms: 1500 } },
      ]);
      const client = viaProxy({ headersTimeoutMs: 500 });
      try {
        await pushArtifact(client, "faults/relative", artifact, "v1");
        const m = await client.getManifest("faults/relative", "v1");
        assert.equal(m.digest, artifact.manifestDigest);
      } finally {
        await client.close();
      }
      assert.equal(proxy.seen.filter((r) => r.method === "GET" && /manifests/.test(r.url)).length, 2);
    });

    test("retries are bounded: persistent 503 and 429 end with clear errors", async () => {
      proxy.rules([
        {
          match: is("GET", /\/tags\/list/),
          times: Number.POSITIVE_INFINITY,
          action: { kind: "status", status: 503, body: "overloaded" },
        },
        {
          match: is("GET", /\/manifests\//),
          times: Number.POSITIVE_INFINITY,
          action: {
            kind: "status",
            status: 429,
            headers: { "retry-after": new Date(Date.now() - 1000).toUTCString() },
            body: "You have reached your pull rate limit.",
          },
        },
      ]);
      const client = viaProxy({ retry: { retries: 2, baseDelayMs: 5, maxDelayMs: 10 } });
      try {
        await assert.rejects(
          client.listTags("faults/app"),
          isCode("REGISTRY_SERVER_ERROR", /list tags of faults\/app: registry answered 503.*overloaded/),
        );
        await assert.rejects(
          client.getManifest("faults/app", "v1"),
          isCode("REGISTRY_RATE_LIMITED", /registry answered 429.*pull rate limit/),
        );
      } finally {
        await client.close();
      }
      assert.equal(proxy.fired.length, 6);
    });
  });
}
