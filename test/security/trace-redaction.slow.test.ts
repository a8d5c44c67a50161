import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RegistryClient } from "../../src/registry/client.js";
import type { TraceEvent } from "../../src/registry/trace.js";
import { makeArtifact, pushArtifact, readAll, sha256, type TestArtifact } from "../helpers/artifacts.js";
import { type FaultProxy, OtherHost, startFaultProxy } from "../helpers/faultProxy.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

/**
 * The trace hook's contract (src/registry/trace.ts, docs/registry.md): every event has its secrets redacted. The
 * signature of a pre-signed blob URL is hidden in the URL of the hop that follows a redirect, so it must be hidden
 * in the `Location` header that announced it too.
 */
describe("trace events carry no secret", () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  let other: OtherHost;
  let dir: string;
  let layer: TestArtifact["layers"][number];
  before(async () => {
    registry = await startRegistry({ mode: "htpasswd" });
    proxy = await startFaultProxy(registry.port);
    other = await new OtherHost().start();
    dir = await mkdtemp(join(tmpdir(), "agentrc-sec-trace-"));
    const artifact = await makeArtifact(dir, [5_000]);
    layer = artifact.layers[0]!;
    const client = new RegistryClient(registry.host, registry.clientOptions());
    await pushArtifact(client, "trace/app", artifact, "v1");
    await client.close();
  });
  after(async () => {
    await proxy?.stop();
    await other?.stop();
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("a redirect to a pre-signed URL: the signature is redacted in the Location header as in the URL", async () => {
    proxy.rules([
      {
        match: (r) =>
          r.method === "GET" && /\/blobs\/sha256:/.test(r.url) && r.headers.authorization !== undefined,
        action: {
          kind: "status",
          status: 307,
          headers: { location: `${other.origin}/storage/blob?X-Amz-Signature=s3cr3t&X-Amz-Expires=60` },
        },
      },
    ]);
    const data = await readFile((layer.open() as unknown as { path: string }).path);
    other.handler = (_req, res) => {
      res.writeHead(200, { "content-length": String(data.length) });
      res.end(data);
    };
    const trace: TraceEvent[] = [];
    const client = new RegistryClient(proxy.host, registry.clientOptions({ trace: (e) => trace.push(e) }));
    try {
      const got = await readAll(await client.getBlob("trace/app", layer.digest, layer.size));
      assert.equal(sha256(got), layer.digest);
    } finally {
      await client.close();
    }
    const redirect = trace.find((e) => e.status === 307);
    assert.ok(redirect, "the redirect was traced");
    assert.equal(
      redirect.responseHeaders?.location,
      `${other.origin}/storage/blob?X-Amz-Signature=redacted&X-Amz-Expires=60`,
    );
    assert.ok(!JSON.stringify(trace).includes("s3cr3t"), JSON.stringify(trace, null, 2));
    assert.ok(!JSON.stringify(trace).includes("alice-secret"));
  });

  test("a relative Location keeps its form, with secret-looking query values hidden", async () => {
    proxy.rules([
      {
        match: (r) =>
          r.method === "GET" && /\/blobs\/sha256:/.test(r.url) && r.headers.authorization !== undefined,
        action: {
          kind: "rewrite",
          transform: (reply) => ({
            ...reply,
            status: 302,
            headers: { location: `/v2/trace/app/blobs/${layer.digest}?token=t0k3n&n=1` },
            body: Buffer.alloc(0),
          }),
        },
      },
    ]);
    const trace: TraceEvent[] = [];
    const client = new RegistryClient(proxy.host, registry.clientOptions({ trace: (e) => trace.push(e) }));
    try {
      const got = await readAll(await client.getBlob("trace/app", layer.digest, layer.size));
      assert.equal(sha256(got), layer.digest);
    } finally {
      await client.close();
    }
    const redirect = trace.find((e) => e.status === 302);
    assert.equal(
      redirect?.responseHeaders?.location,
      `/v2/trace/app/blobs/${layer.digest}?token=redacted&n=1`,
    );
    assert.ok(!JSON.stringify(trace).includes("t0k3n"), JSON.stringify(trace, null, 2));
  });
});
