import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RegistryClient } from "../../src/registry/client.js";
import { assertConsistent, makeArtifact, pushArtifact } from "../helpers/artifacts.js";
import { type FaultProxy, startFaultProxy } from "../helpers/faultProxy.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

const isCode = (code: string, message: RegExp) => (err: Error & { code?: string }) => {
  assert.equal(err.code, code);
  assert.match(err.message, message);
  return true;
};

describe("TLS options and proxies", () => {
  let tls: TestRegistry;
  let open: TestRegistry;
  let forward: FaultProxy;
  let dir: string;
  before(async () => {
    [tls, open] = await Promise.all([startRegistry({ mode: "tls" }), startRegistry({ mode: "open" })]);
    // used only as a forward proxy: its reverse-proxy target is irrelevant
    forward = await startFaultProxy(1);
    dir = await mkdtemp(join(tmpdir(), "agentrc-transport-"));
  });
  after(async () => {
    await forward?.stop();
    await tls?.stop();
    await open?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("a private CA is refused without --ca-file, accepted with it, skipped with --insecure", async () => {
    const { caFile: _ca, ...noCa } = tls.clientOptions({ retry: { retries: 0 } });
    const untrusted = new RegistryClient(tls.host, noCa);
    const insecure = new RegistryClient(tls.host, { ...noCa, insecure: true });
    const trusted = new RegistryClient(tls.host, tls.clientOptions());
    try {
      await assert.rejects(
        untrusted.ping(),
        isCode("REGISTRY_TLS", /GET https:\/\/127\.0\.0\.1:\d+\/v2\/: TLS failure: .*(certificate|CERT)/i),
      );
      await insecure.ping();
      await trusted.ping();
      assert.equal(trusted.origin, `https://${tls.host}`);
    } finally {
      await Promise.all([untrusted.close(), insecure.close(), trusted.close()]);
    }
    assert.throws(
      () => new RegistryClient(tls.host, { caFile: join(dir, "missing.pem") }),
      isCode("REGISTRY_CA_FILE", /cannot read CA file .*missing\.pem/),
    );
  });

  test("HTTP_PROXY / HTTPS_PROXY from the environment are used, NO_PROXY is honoured", async () => {
    const artifact = await makeArtifact(dir, [2000]);
    forward.rules([]);
    const viaHttp = new RegistryClient(open.host, {
      plainHttp: true,
      env: { HTTP_PROXY: `http://${forward.host}` },
    });
    const viaHttps = new RegistryClient(tls.host, {
      plainHttp: false,
      caFile: tls.caFile!,
      env: { https_proxy: `http://${forward.host}` },
    });
    const bypass = new RegistryClient(open.host, {
      plainHttp: true,
      env: { HTTP_PROXY: `http://${forward.host}`, NO_PROXY: "127.0.0.1" },
    });
    try {
      await pushArtifact(viaHttp, "proxied/app", artifact, "v1");
      await assertConsistent(viaHttp, "proxied/app", artifact, "v1");
      const viaHttpCount = forward.forwarded.length;
      assert.ok(viaHttpCount > 0);
      assert.ok(forward.forwarded.every((f) => f.includes(open.host)));

      await viaHttps.ping();
      assert.ok(forward.forwarded.some((f) => f === `CONNECT ${tls.host}`));

      const before = forward.forwarded.length;
      await assertConsistent(bypass, "proxied/app", artifact, "v1");
      assert.equal(forward.forwarded.length, before);
    } finally {
      await Promise.all([viaHttp.close(), viaHttps.close(), bypass.close()]);
    }
  });

  test("plain HTTP is automatic for 127.0.0.1 and a closed port ends in REGISTRY_UNREACHABLE", async () => {
    const client = new RegistryClient("127.0.0.1:1", {
      env: {},
      retry: { retries: 1, baseDelayMs: 1 },
      credentials: {},
    });
    try {
      assert.equal(client.origin, "http://127.0.0.1:1");
      await assert.rejects(
        client.ping(),
        isCode("REGISTRY_UNREACHABLE", /GET http:\/\/127\.0\.0\.1:1\/v2\/: .*ECONNREFUSED/),
      );
    } finally {
      await client.close();
    }
  });
});
