import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { OciLayout } from "../../src/oci/layout.js";
import { MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_OCI_MANIFEST } from "../../src/oci/mediaTypes.js";
import {
  ArchiveReader,
  ArchiveWriter,
  type BlobProgress,
  copy,
  FilesSource,
  LayoutTarget,
} from "../../src/transfer/index.js";
import { canonicalJson } from "../../src/util/canonicalJson.js";
import { expectCode, listTree, tempDir, writeTinyPackage } from "../oci/helpers.js";

test("layout → oci-archive → layout keeps the manifest bytes; a second copy finds every blob", async (t) => {
  const dir = await tempDir(t);
  const from = await OciLayout.create(join(dir, "from"));
  const { bytes, descriptor } = await writeTinyPackage(from, "tiny", "1.0");

  const archive = await ArchiveWriter.create(join(dir, "pkg.tar"));
  const events: BlobProgress[] = [];
  try {
    const written = await copy(new LayoutTarget(from), "1.0", archive, {
      tags: ["v1"],
      onProgress: (e) => events.push(e),
    });
    assert.equal(written.descriptor.digest, descriptor.digest);
    assert.deepEqual(
      written.blobs.map((b) => b.status),
      ["downloaded", "downloaded"],
    );
    await archive.commit();
  } finally {
    await archive.dispose();
  }
  assert.deepEqual((await readdir(dir)).sort(), ["from", "pkg.tar"], "the staging layout is gone");
  for (const digest of [...new Set(events.map((e) => e.digest))]) {
    const mine = events.filter((e) => e.digest === digest);
    assert.equal(mine[0]?.phase, "start");
    assert.equal(mine.at(-1)?.phase, "done");
    assert.equal(mine.at(-1)?.status, "downloaded");
  }
  assert.deepEqual(
    events.filter((e) => e.phase === "start").map((e) => e.title),
    ["config", "src"],
  );

  const reader = await ArchiveReader.open(join(dir, "pkg.tar"));
  try {
    const to = new LayoutTarget(await OciLayout.create(join(dir, "to")));
    const copied = await copy(reader, "v1", to, { tags: ["again"] });
    assert.deepEqual(copied.bytes, bytes);
    const again = await copy(reader, "v1", to, { tags: ["again"] });
    assert.deepEqual(
      again.blobs.map((b) => b.status),
      ["exists", "exists"],
    );
    assert.equal((await to.layout.resolve("again")).digest, descriptor.digest);
  } finally {
    await reader.dispose();
  }
});

test("a source blob that is not what its descriptor says is refused; nothing is stored or tagged", async (t) => {
  const dir = await tempDir(t);
  const from = await OciLayout.create(join(dir, "from"));
  const { bytes, descriptor } = await writeTinyPackage(from, "tiny", "1.0");
  const manifest = JSON.parse(bytes.toString("utf8"));
  const files = new Map<string, string>();
  for (const d of [manifest.config, ...manifest.layers]) {
    const copyOf = join(dir, d.digest.slice(7));
    await writeFile(copyOf, await readFile(from.blobPath(d.digest)));
    files.set(d.digest, copyOf);
  }
  // same length, other bytes
  const layerFile = files.get(manifest.layers[0].digest)!;
  const content = await readFile(layerFile);
  content[content.length - 1] = content[content.length - 1]! ^ 1;
  await writeFile(layerFile, content);

  const to = await OciLayout.create(join(dir, "to"));
  const source = new FilesSource({ descriptor, bytes }, files);
  await expectCode(
    () => copy(source, descriptor.digest, new LayoutTarget(to), { tags: ["x"] }),
    "OCI_DIGEST_MISMATCH",
    /content has digest sha256:[0-9a-f]{64}, expected sha256:/,
  );
  assert.deepEqual(await to.list(), [], "nothing tagged");
  const stored = await listTree(join(to.root, "blobs", "sha256"));
  assert.ok(!stored.includes(manifest.layers[0].digest.slice(7)), "the bad blob is not stored");
  assert.deepEqual(
    stored.filter((f) => f.startsWith(".tmp-")),
    [],
    "no temporary file left",
  );

  // a shorter file: the size is checked too
  await writeFile(layerFile, content.subarray(0, 10));
  await expectCode(
    () => copy(source, descriptor.digest, new LayoutTarget(to), { tags: ["x"] }),
    "OCI_SIZE_MISMATCH",
    /received 10 bytes, expected \d+/,
  );
});

test("every tag is checked before anything is written; indexes and malformed manifests are refused", async (t) => {
  const dir = await tempDir(t);
  const from = await OciLayout.create(join(dir, "from"));
  await writeTinyPackage(from, "tiny", "1.0");
  const to = await OciLayout.create(join(dir, "to"));
  await expectCode(
    () => copy(new LayoutTarget(from), "1.0", new LayoutTarget(to), { tags: ["good", "bad tag"] }),
    "OCI_REF_INVALID",
    /Invalid tag "bad tag"/,
  );
  assert.deepEqual(await to.list(), []);

  const index = Buffer.from(
    canonicalJson({ schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: [] }),
  );
  await from.putManifest(index, { tag: "index" });
  await expectCode(
    () => copy(new LayoutTarget(from), "index", new LayoutTarget(to)),
    "REGISTRY_MANIFEST_UNSUPPORTED",
    /is a application\/vnd\.oci\.image\.index\.v1\+json; agentrc copies single image manifests/,
  );

  const odd = Buffer.from(
    canonicalJson({
      schemaVersion: 2,
      mediaType: MEDIA_TYPE_OCI_MANIFEST,
      config: { mediaType: "not a media type", digest: `sha256:${"a".repeat(64)}`, size: 2 },
      layers: [],
    }),
  );
  const files = new FilesSource(
    { descriptor: { mediaType: MEDIA_TYPE_OCI_MANIFEST, digest: "sha256:x", size: odd.length }, bytes: odd },
    new Map(),
  );
  await expectCode(
    () => copy(files, "latest", new LayoutTarget(to)),
    "OCI_MANIFEST_INVALID",
    /config is an invalid descriptor: media type "not a media type"; expected type\/subtype/,
  );
});
