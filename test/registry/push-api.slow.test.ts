import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type BlobProgress, build, pull, push } from "../../src/index.js";
import { FIXTURES } from "../helpers/build.js";
import { copyTree } from "../helpers/copyTree.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

describe("push() and pull() library functions (token registry)", () => {
  let registry: TestRegistry;
  let base: string;
  before(async () => {
    registry = await startRegistry({ mode: "token" });
    base = await mkdtemp(join(tmpdir(), "agentrc-push-api-"));
    await copyTree(join(FIXTURES, "agents/full"), join(base, "agent"));
  });
  after(async () => {
    await registry?.stop();
    await rm(base, { recursive: true, force: true });
  });

  test("push reports per-blob progress, keeps at most `concurrency` uploads in flight, then pull gets the digest", async () => {
    const ref = `${registry.host}/api/full:1`;
    const store = join(base, "store");
    const built = await build({
      dir: join(base, "agent"),
      cacheDir: join(base, "cache"),
      config: { build: { tags: [ref], store } },
    });
    assert.equal(built.errorCount, 0);
    const digest = built.compilation.package!.descriptor.digest;

    const events: BlobProgress[] = [];
    let inFlight = 0;
    let maxInFlight = 0;
    const result = await push(ref, {
      ...registry.clientOptions(),
      store,
      concurrency: 2,
      onProgress: (e) => {
        events.push(e);
        if (e.phase === "start") maxInFlight = Math.max(maxInFlight, ++inFlight);
        if (e.phase === "done") inFlight--;
      },
    });
    assert.equal(result.digest, digest);
    assert.equal(result.reference, `${registry.host}/api/full@${digest}`);
    assert.equal(maxInFlight, 2, "two uploads ran at once, never more");
    for (const blob of result.blobs) {
      const mine = events.filter((e) => e.digest === blob.digest);
      assert.equal(mine[0]?.phase, "start");
      assert.deepEqual(mine.at(-1), {
        ...mine.at(-1),
        phase: "done",
        status: "uploaded",
        transferred: blob.size,
      });
      const progress = mine.filter((e) => e.phase === "progress").map((e) => e.transferred);
      assert.equal(progress.at(-1), blob.size, `bytes of ${blob.digest} were reported`);
      assert.deepEqual(
        progress,
        [...progress].sort((a, b) => a - b),
      );
    }
    assert.ok(events.some((e) => e.title === "config") && events.some((e) => e.title === "Agentfile"));

    const again = await push(ref, { ...registry.clientOptions(), store });
    assert.ok(again.blobs.every((b) => b.status === "exists"));

    const pulled = await pull(ref, { ...registry.clientOptions(), store: join(base, "store2") });
    assert.equal(pulled.digest, digest);
    assert.equal(pulled.tag, ref);
    assert.ok(pulled.blobs.every((b) => b.status === "downloaded"));

    // By digest: verified against the requested digest, stored under the digest reference.
    const byDigest = await pull(result.reference, {
      ...registry.clientOptions(),
      store: join(base, "store2"),
    });
    assert.equal(byDigest.digest, digest);
    assert.equal(byDigest.tag, result.reference);
    assert.ok(byDigest.blobs.every((b) => b.status === "exists"));
  });

  test("build with `push` publishes through the publish hook; a reader without push rights is denied", async () => {
    const ref = `${registry.host}/api/published:1`;
    const r = await build({
      dir: join(base, "agent"),
      cacheDir: join(base, "cache"),
      config: { build: { tags: [ref], store: join(base, "store3") } },
      registry: registry.clientOptions(),
      push: {},
    });
    assert.equal(r.errorCount, 0);
    assert.equal(r.pushed?.length, 1);
    assert.equal(r.pushed?.[0]?.digest, r.compilation.package!.descriptor.digest);

    const reader = registry.users.find((u) => u.push === false)!;
    await assert.rejects(
      push(ref, {
        ...registry.clientOptions({ credentials: { username: reader.name, password: reader.password } }),
        store: join(base, "store3"),
      }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, "REGISTRY_DENIED");
        assert.match(err.message, /api\/published/);
        return true;
      },
    );
  });
});
