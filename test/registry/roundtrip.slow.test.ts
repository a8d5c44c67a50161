import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { bytesBlob } from "../../src/registry/blobs.js";
import { RegistryClient } from "../../src/registry/client.js";
import { MEDIA_TYPES } from "../../src/registry/manifests.js";
import { assertConsistent, makeArtifact, pushArtifact, readAll, sha256 } from "../helpers/artifacts.js";
import { type RegistryMode, startRegistry, type TestRegistry } from "../helpers/registry.js";

for (const mode of ["open", "htpasswd", "token", "tls"] as RegistryMode[]) {
  describe(`round trip against docker-registry (${mode})`, () => {
    let registry: TestRegistry;
    let dir: string;
    before(async () => {
      registry = await startRegistry({ mode });
      dir = await mkdtemp(join(tmpdir(), "agentrc-rt-"));
    });
    after(async () => {
      await registry?.stop();
      await rm(dir, { recursive: true, force: true });
    });

    test("blobs and manifest: push, HEAD, GET verified, tags, delete", async () => {
      const client = new RegistryClient(registry.host, registry.clientOptions());
      try {
        await client.ping();
        const artifact = await makeArtifact(dir, [300_000, 1]);
        const pushed = await pushArtifact(client, "acme/agent", artifact, "v1");
        assert.deepEqual(
          pushed.blobs.map((b) => b.status),
          ["uploaded", "uploaded", "uploaded"],
        );
        assert.equal(pushed.manifest.digest, artifact.manifestDigest);
        await assertConsistent(client, "acme/agent", artifact, "v1");
        await assertConsistent(client, "acme/agent", artifact, artifact.manifestDigest);

        const again = await pushArtifact(client, "acme/agent", artifact, "v1");
        assert.deepEqual(
          again.blobs.map((b) => b.status),
          ["exists", "exists", "exists"],
        );

        const head = await client.headManifest("acme/agent", "v1");
        assert.deepEqual(head, {
          mediaType: MEDIA_TYPES.ociManifest,
          digest: artifact.manifestDigest,
          size: artifact.manifest.length,
        });
        assert.deepEqual(await client.listTags("acme/agent"), ["v1"]);

        await client.deleteManifest("acme/agent", artifact.manifestDigest);
        assert.equal(await client.headManifest("acme/agent", artifact.manifestDigest), undefined);
        await assert.rejects(client.getManifest("acme/agent", "v1"), (err: Error & { code?: string }) => {
          assert.equal(err.code, "REGISTRY_NOT_FOUND");
          assert.match(err.message, /GET manifest acme\/agent:v1: registry answered 404.*MANIFEST_UNKNOWN/);
          return true;
        });
      } finally {
        await client.close();
      }
    });

    test("chunked upload and cross-repository mount", async () => {
      const client = new RegistryClient(
        registry.host,
        registry.clientOptions({ upload: { mode: "chunked", chunkSize: 64 * 1024 } }),
      );
      try {
        const artifact = await makeArtifact(dir, [200_000]);
        const layer = artifact.layers[0]!;
        assert.equal((await client.pushBlob("acme/src", layer)).status, "uploaded");
        const got = await readAll(await client.getBlob("acme/src", layer.digest, layer.size));
        assert.equal(sha256(got), layer.digest);

        const mounted = await client.pushBlob("acme/dst", layer, { mountFrom: "acme/src" });
        assert.equal(mounted.status, "mounted");
        assert.equal(await client.headBlob("acme/dst", layer.digest), layer.size);

        // a refused mount (the source lacks the blob) answers 202: the upload continues in that session
        const other = (await makeArtifact(dir, [1000])).layers[0]!;
        const fallback = await client.pushBlob("acme/dst", other, { mountFrom: "acme/nowhere" });
        assert.equal(fallback.status, "uploaded");
        assert.equal(sha256(await readAll(await client.getBlob("acme/dst", other.digest))), other.digest);

        const empty = bytesBlob(Buffer.alloc(0));
        assert.equal((await client.pushBlob("acme/src", empty)).status, "uploaded");
        assert.equal(await client.headBlob("acme/src", empty.digest), 0);
      } finally {
        await client.close();
      }
    });
  });
}
