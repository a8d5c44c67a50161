import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RegistryClient } from "../../src/registry/client.js";
import { MEDIA_TYPES } from "../../src/registry/manifests.js";
import { referrersTag } from "../../src/registry/referrers.js";
import { makeArtifact, pushArtifact } from "../helpers/artifacts.js";
import { type FaultProxy, startFaultProxy } from "../helpers/faultProxy.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

describe("tags and referrers (token registry)", () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  let dir: string;
  let client: RegistryClient;
  before(async () => {
    registry = await startRegistry({ mode: "token" });
    proxy = await startFaultProxy(registry.port);
    dir = await mkdtemp(join(tmpdir(), "agentrc-listing-"));
    client = new RegistryClient(proxy.host, registry.clientOptions());
  });
  after(async () => {
    await client?.close();
    await proxy?.stop();
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("tag listing follows Link pagination (relative and absolute links)", async () => {
    const artifact = await makeArtifact(dir, [10]);
    const tags = ["a", "b", "c", "d", "e"];
    for (const tag of tags) await pushArtifact(client, "list/app", artifact, tag);
    // distribution 2.8 ignores `n`: the proxy pages the registry's real list the way the spec describes
    proxy.rules([
      {
        match: (r) =>
          r.method === "GET" && /\/tags\/list/.test(r.url) && r.headers.authorization !== undefined,
        times: Number.POSITIVE_INFINITY,
        action: {
          kind: "rewrite",
          transform: (reply, req) => {
            const url = new URL(req.url, `http://${proxy.host}`);
            const all = (JSON.parse(reply.body.toString()).tags as string[]).sort();
            const n = Number(url.searchParams.get("n") ?? all.length);
            const last = url.searchParams.get("last");
            const rest = last ? all.filter((t) => t > last) : all;
            const page = rest.slice(0, n);
            const headers = { ...reply.headers };
            if (rest.length > n) {
              const next = `/v2/list/app/tags/list?last=${page.at(-1)}&n=${n}`;
              headers.link = `<${last ? `http://${proxy.host}${next}` : next}>; rel="next"`;
            }
            return { ...reply, headers, body: Buffer.from(JSON.stringify({ name: "list/app", tags: page })) };
          },
        },
      },
    ]);
    assert.deepEqual(await client.listTags("list/app", { pageSize: 2 }), tags);
    const pages = proxy.seen.filter(
      (r) => r.method === "GET" && /\/tags\/list/.test(r.url) && r.headers.authorization,
    );
    assert.deepEqual(
      pages.map((r) => r.url),
      [
        "/v2/list/app/tags/list?n=2",
        "/v2/list/app/tags/list?last=b&n=2",
        "/v2/list/app/tags/list?last=d&n=2",
      ],
    );
    assert.deepEqual((await client.listTags("list/app")).sort(), tags);
  });

  test("referrers: the sha256-<hex> fallback index is written, read, filtered and pruned", async () => {
    const subject = await makeArtifact(dir, [100]);
    await pushArtifact(client, "refs/app", subject, "v1");
    const subjectDescriptor = {
      mediaType: MEDIA_TYPES.ociManifest,
      digest: subject.manifestDigest,
      size: subject.manifest.length,
    };
    const sbom = await makeArtifact(dir, [50], {
      artifactType: "application/spdx+json",
      subject: subjectDescriptor,
      annotations: { "org.opencontainers.image.created": "2026-01-01T00:00:00Z" },
    });
    const sig = await makeArtifact(dir, [60], {
      artifactType: "application/vnd.dev.sig",
      subject: subjectDescriptor,
    });

    assert.deepEqual(await client.listReferrers("refs/app", subject.manifestDigest), {
      manifests: [],
      source: "tag",
    });
    for (const a of [sbom, sig, sbom]) {
      for (const b of [a.config, ...a.layers]) await client.pushBlob("refs/app", b);
      await client.putManifest("refs/app", a.manifestDigest, a.manifest, MEDIA_TYPES.ociManifest);
    }
    const listed = await client.listReferrers("refs/app", subject.manifestDigest);
    assert.equal(listed.source, "tag");
    assert.deepEqual(listed.manifests, [
      {
        mediaType: MEDIA_TYPES.ociManifest,
        digest: sbom.manifestDigest,
        size: sbom.manifest.length,
        artifactType: "application/spdx+json",
        annotations: { "org.opencontainers.image.created": "2026-01-01T00:00:00Z" },
      },
      {
        mediaType: MEDIA_TYPES.ociManifest,
        digest: sig.manifestDigest,
        size: sig.manifest.length,
        artifactType: "application/vnd.dev.sig",
      },
    ]);
    const filtered = await client.listReferrers("refs/app", subject.manifestDigest, {
      artifactType: "application/vnd.dev.sig",
    });
    assert.deepEqual(
      filtered.manifests.map((d) => d.digest),
      [sig.manifestDigest],
    );
    const tag = referrersTag(subject.manifestDigest);
    assert.equal(tag, subject.manifestDigest.replace(":", "-"));
    const index = await client.getManifest("refs/app", tag);
    assert.equal(index.mediaType, MEDIA_TYPES.ociIndex);

    await client.deleteManifest("refs/app", sbom.manifestDigest, { subject: subject.manifestDigest });
    const after = await client.listReferrers("refs/app", subject.manifestDigest);
    assert.deepEqual(
      after.manifests.map((d) => d.digest),
      [sig.manifestDigest],
    );
  });

  test("a referrers tag that is not an index is reported", async () => {
    const subject = await makeArtifact(dir, [10]);
    await pushArtifact(client, "refs/bad", subject, "v1");
    const squatter = await makeArtifact(dir, [11]);
    await pushArtifact(client, "refs/bad", squatter, referrersTag(subject.manifestDigest));
    await assert.rejects(
      client.listReferrers("refs/bad", subject.manifestDigest),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, "REGISTRY_REFERRERS_INVALID");
        assert.match(
          err.message,
          /referrers tag refs\/bad:sha256-[0-9a-f]{64}: expected an image index, got application\/vnd\.oci\.image\.manifest\.v1\+json/,
        );
        return true;
      },
    );
  });
});
