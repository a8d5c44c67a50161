import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { MEDIA_TYPE_DATA_LAYER } from "../../src/oci/mediaTypes.js";
import { bytesBlob } from "../../src/registry/blobs.js";
import { RegistryClient } from "../../src/registry/client.js";
import { canonicalJson } from "../../src/util/canonicalJson.js";
import { pushAgentPackage } from "../helpers/agentConfig.js";
import { runBinAsync } from "../helpers/cli.js";
import { type FaultProxy, startFaultProxy } from "../helpers/faultProxy.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

/** Every file below `dir` (relative paths), to prove that a failed pull leaves no temporary blob behind. */
async function filesUnder(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true }).catch(() => [])) {
    const path = rel === "" ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...(await filesUnder(dir, path)));
    else out.push(path);
  }
  return out.sort();
}

/**
 * A pull whose blob arrives wrong (other bytes, fewer bytes, a connection reset half-way) is refused with a stable
 * code, without a stack trace, and leaves no temporary file in the store. Runs the built binary, as a user would:
 * an unhandled stream error would kill it.
 */
describe("pull refuses a damaged or interrupted blob cleanly", () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  let base: string;
  let layerDigest: string;
  const layer = randomBytes(3 * 1024 * 1024);

  before(async () => {
    registry = await startRegistry({ mode: "open" });
    proxy = await startFaultProxy(registry.port);
    base = await mkdtemp(join(tmpdir(), "agentrc-pull-faults-"));
    const client = new RegistryClient(registry.host, registry.clientOptions());
    try {
      const config = Buffer.from(canonicalJson({ agent: { name: "x", directives: [] } }));
      layerDigest = bytesBlob(layer).digest;
      // A second, small blob so that two downloads run at once and one fails while the other is in flight.
      await pushAgentPackage(client, "faults/pkg", "1", config, [
        { mediaType: MEDIA_TYPE_DATA_LAYER, bytes: randomBytes(200 * 1024) },
        { mediaType: MEDIA_TYPE_DATA_LAYER, bytes: layer },
      ]);
    } finally {
      await client.close();
    }
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await rm(base, { recursive: true, force: true });
  });

  const pullThrough = async (name: string, host: string) => {
    const store = join(base, `store-${name}`);
    const r = await runBinAsync(["pull", `${host}/faults/pkg:1`, "--store", store], { env: { HOME: base } });
    return { ...r, store };
  };

  const assertRefusedCleanly = async (
    r: { code: number; stdout: string; stderr: string; store: string },
    code: string,
    message: RegExp,
  ) => {
    assert.equal(r.code, 1, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
    assert.match(r.stderr, new RegExp(`\\b${code}\\b`));
    assert.match(r.stderr, message);
    assert.doesNotMatch(r.stderr, /^\s+at /m, "no stack trace");
    assert.doesNotMatch(r.stderr, /INTERNAL/);
    const files = await filesUnder(r.store);
    assert.deepEqual(
      files.filter((f) => f.includes(".tmp-")),
      [],
      `no temporary file left: ${files.join(", ")}`,
    );
    assert.ok(!files.includes(`blobs/sha256/${layerDigest.slice(7)}`), "the damaged blob is not stored");
  };

  test("a reset in the middle of a blob download", async () => {
    proxy.rules([
      {
        match: (req) => req.method === "GET" && req.url.includes(`/blobs/${layerDigest}`),
        times: Number.POSITIVE_INFINITY,
        action: { kind: "cut", afterBytes: 1024 * 1024 },
      },
    ]);
    const r = await pullThrough("reset", proxy.host);
    assert.ok(proxy.fired.length >= 1, "the reset fired");
    await assertRefusedCleanly(r, "REGISTRY_UNREACHABLE", /connection lost while reading the blob/);
  });

  test("a blob with other bytes than its digest (corrupted in the registry's storage)", async () => {
    proxy.rules([]);
    const hex = layerDigest.slice("sha256:".length);
    const file = join(registry.storageDir, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
    const corrupt = Buffer.from(layer);
    corrupt[corrupt.length - 10] = corrupt[corrupt.length - 10]! ^ 0xff;
    await writeFile(file, corrupt);
    try {
      const r = await pullThrough("corrupt", registry.host);
      await assertRefusedCleanly(r, "REGISTRY_DIGEST_MISMATCH", /content has digest sha256:[0-9a-f]{64}/);
    } finally {
      await writeFile(file, layer);
    }
  });

  test("a blob shorter than its descriptor says (body cut, length header agreeing)", async () => {
    proxy.rules([
      {
        match: (req) => req.method === "GET" && req.url.includes(`/blobs/${layerDigest}`),
        times: Number.POSITIVE_INFINITY,
        action: {
          kind: "rewrite",
          transform: (reply) => ({ ...reply, body: reply.body.subarray(0, reply.body.length - 100) }),
        },
      },
    ]);
    const r = await pullThrough("short", proxy.host);
    await assertRefusedCleanly(r, "REGISTRY_SIZE_MISMATCH", /Content-Length is \d+, expected \d+/);
  });

  test("a blob longer than its descriptor says, sent without a length", async () => {
    proxy.rules([
      {
        match: (req) => req.method === "GET" && req.url.includes(`/blobs/${layerDigest}`),
        times: Number.POSITIVE_INFINITY,
        action: {
          kind: "rewrite",
          transform: (reply) => ({
            ...reply,
            body: Buffer.concat([reply.body, randomBytes(5000)]),
            chunked: true,
          }),
        },
      },
    ]);
    const r = await pullThrough("long", proxy.host);
    await assertRefusedCleanly(r, "REGISTRY_SIZE_MISMATCH", /received \d+\+ bytes, expected 3145728/);
  });

  test("a blob shorter than its descriptor says, sent without a length", async () => {
    proxy.rules([
      {
        match: (req) => req.method === "GET" && req.url.includes(`/blobs/${layerDigest}`),
        times: Number.POSITIVE_INFINITY,
        action: {
          kind: "rewrite",
          transform: (reply) => ({ ...reply, body: reply.body.subarray(0, 1000), chunked: true }),
        },
      },
    ]);
    const r = await pullThrough("short-chunked", proxy.host);
    await assertRefusedCleanly(r, "REGISTRY_SIZE_MISMATCH", /received 1000 bytes, expected 3145728/);
  });
});
