import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { test } from "node:test";
import { sha256Digest } from "../../src/oci/digest.js";
import { OciLayout } from "../../src/oci/layout.js";
import {
  ANNOTATION_REF_NAME,
  ARTIFACT_TYPE_AGENT,
  MEDIA_TYPE_OCI_MANIFEST,
} from "../../src/oci/mediaTypes.js";
import { createLayerStream } from "../../src/oci/pack.js";
import type { Descriptor } from "../../src/oci/types.js";
import { canonicalJson } from "../../src/util/canonicalJson.js";
import { collect, expectCode, listTree, tempDir, writeTinyPackage } from "./helpers.js";

test("create writes oci-layout, a canonical empty index.json and blobs/sha256; it is idempotent", async (t) => {
  const dir = join(await tempDir(t), "layout");
  const layout = await OciLayout.create(dir);
  assert.equal(await readFile(join(dir, "oci-layout"), "utf8"), '{"imageLayoutVersion":"1.0.0"}');
  assert.equal(
    await readFile(join(dir, "index.json"), "utf8"),
    '{"manifests":[],"mediaType":"application/vnd.oci.image.index.v1+json","schemaVersion":2}',
  );
  assert.deepEqual(await listTree(dir), ["blobs", "blobs/sha256", "index.json", "oci-layout"]);
  const { descriptor } = await writeTinyPackage(layout, "tiny", "v1");
  // Creating again (e.g. a second process) keeps existing tags.
  const again = await OciLayout.create(dir);
  assert.equal((await again.resolve("v1")).digest, descriptor.digest);
});

test("create and open refuse directories that are not layouts", async (t) => {
  const base = await tempDir(t);
  await mkdir(join(base, "full"));
  await writeFile(join(base, "full", "notes.txt"), "x");
  await expectCode(
    () => OciLayout.create(join(base, "full")),
    "OCI_LAYOUT_INVALID",
    /is not empty and is not/,
  );
  await expectCode(() => OciLayout.open(join(base, "missing")), "OCI_LAYOUT_INVALID", /no oci-layout/);
  await mkdir(join(base, "v2"));
  await writeFile(join(base, "v2", "oci-layout"), '{"imageLayoutVersion":"2.0.0"}');
  await writeFile(join(base, "v2", "index.json"), '{"schemaVersion":2,"manifests":[]}');
  await expectCode(
    () => OciLayout.open(join(base, "v2")),
    "OCI_LAYOUT_INVALID",
    /imageLayoutVersion "2.0.0"/,
  );
  const bad = join(base, "bad");
  await OciLayout.create(bad);
  await writeFile(join(bad, "index.json"), "{not json");
  await expectCode(() => OciLayout.open(bad), "OCI_LAYOUT_INVALID", /index.json is not valid JSON/);
  await writeFile(join(bad, "index.json"), '{"schemaVersion":2,"manifests":[{"digest":"nope"}]}');
  await expectCode(() => OciLayout.open(bad), "OCI_LAYOUT_INVALID", /invalid descriptor/);
});

test("putBlob from buffers, strings and streams; hasBlob, getBlob, readBlob", async (t) => {
  const layout = await OciLayout.create(join(await tempDir(t), "l"));
  const a = await layout.putBlob(Buffer.from("hello"));
  assert.deepEqual(a, { digest: sha256Digest("hello"), size: 5 });
  assert.deepEqual(await layout.putBlob("hello"), a);
  const s = await layout.putBlob(Readable.from([Buffer.from("hel"), Buffer.from("lo")]), {
    digest: a.digest,
  });
  assert.deepEqual(s, a);
  assert.ok(await layout.hasBlob(a.digest));
  assert.equal(await readFile(layout.blobPath(a.digest), "utf8"), "hello");
  assert.equal((await collect(await layout.getBlob(a.digest))).toString(), "hello");
  assert.equal((await layout.readBlob(a.digest)).toString(), "hello");
  const missing = sha256Digest("absent");
  assert.equal(await layout.hasBlob(missing), false);
  await expectCode(() => layout.getBlob(missing), "OCI_BLOB_NOT_FOUND", /is not in/);
  await expectCode(() => layout.readBlob(missing), "OCI_BLOB_NOT_FOUND", /is not in/);
  await expectCode(() => layout.hasBlob("sha256:short"), "OCI_DIGEST_INVALID", /Invalid digest/);
});

test("putBlob verifies the expected digest and size and never leaves partial blobs", async (t) => {
  const layout = await OciLayout.create(join(await tempDir(t), "l"));
  const blobs = () => readdir(join(layout.root, "blobs", "sha256"));
  const wrong = sha256Digest("something else");
  await expectCode(
    () => layout.putBlob(Buffer.from("payload"), { digest: wrong }),
    "OCI_DIGEST_MISMATCH",
    new RegExp(`expected ${wrong}`),
  );
  await expectCode(
    () => layout.putBlob(Buffer.from("payload"), { size: 3 }),
    "OCI_SIZE_MISMATCH",
    /exceeds its expected size of 3/,
  );
  await expectCode(
    () => layout.putBlob(Buffer.from("payload"), { size: 30 }),
    "OCI_SIZE_MISMATCH",
    /has 7 bytes; expected 30/,
  );
  await expectCode(
    () => layout.putBlob(Buffer.from("x"), { digest: "sha256:BAD" }),
    "OCI_DIGEST_INVALID",
    /Invalid sha256 digest/,
  );
  const failing = new Readable({
    read() {
      this.push(Buffer.from("partial"));
      this.destroy(new Error("connection reset"));
    },
  });
  await assert.rejects(layout.putBlob(failing), /connection reset/);
  assert.deepEqual(await blobs(), [], "no blob and no temp file remain");

  // A present blob is not re-read: the stream is destroyed unread.
  const present = await layout.putBlob("data");
  let reads = 0;
  const untouched = new Readable({
    read() {
      reads++;
      this.push(null);
    },
  });
  assert.deepEqual(await layout.putBlob(untouched, { digest: present.digest, size: 4 }), present);
  assert.equal(reads, 0);
  assert.ok(untouched.destroyed);
});

test("corrupted blobs are detected on read", async (t) => {
  const layout = await OciLayout.create(join(await tempDir(t), "l"));
  const b = await layout.putBlob("original");
  await writeFile(layout.blobPath(b.digest), "tampered");
  await expectCode(() => layout.readBlob(b.digest), "OCI_DIGEST_MISMATCH", /is corrupt/);
  await expectCode(
    async () => collect(await layout.getBlob(b.digest, { verify: true })),
    "OCI_DIGEST_MISMATCH",
    new RegExp(`expected ${b.digest}`),
  );
  // Unverified streaming returns the bytes as they are.
  assert.equal((await collect(await layout.getBlob(b.digest))).toString(), "tampered");
});

test("putManifest stores bytes unchanged, checks references and media types", async (t) => {
  const layout = await OciLayout.create(join(await tempDir(t), "l"));
  const { bytes, descriptor } = await writeTinyPackage(layout);
  assert.deepEqual(descriptor, {
    mediaType: MEDIA_TYPE_OCI_MANIFEST,
    digest: sha256Digest(bytes),
    size: bytes.length,
    artifactType: ARTIFACT_TYPE_AGENT,
  });
  assert.deepEqual(await readFile(layout.blobPath(descriptor.digest)), bytes);
  assert.equal((await layout.list()).length, 0, "untagged manifests are not added to index.json");

  const dangling = JSON.parse(bytes.toString());
  dangling.layers[0].digest = sha256Digest("not written");
  await expectCode(
    () => layout.putManifest(JSON.stringify(dangling)),
    "OCI_BLOB_NOT_FOUND",
    /references sha256:[0-9a-f]{64} \(application\/vnd.agentrc.agent.source.layer.v1.tar\+gzip\)/,
  );
  await expectCode(() => layout.putManifest("[1,2"), "OCI_MANIFEST_INVALID", /not valid JSON/);
  await expectCode(
    () => layout.putManifest('{"schemaVersion":1}'),
    "OCI_MANIFEST_INVALID",
    /schemaVersion 1; expected 2/,
  );
  await expectCode(
    () => layout.putManifest(bytes, { mediaType: "application/vnd.oci.image.index.v1+json" }),
    "OCI_MANIFEST_INVALID",
    /declares mediaType .* but is stored as application\/vnd.oci.image.index.v1\+json/,
  );
  await expectCode(
    () => layout.putManifest('{"schemaVersion":2,"config":{},"layers":[]}'),
    "OCI_MANIFEST_INVALID",
    /media type undefined is not a manifest/,
  );
});

test("tag, retag, resolve, list and untag through index.json", async (t) => {
  const layout = await OciLayout.create(join(await tempDir(t), "l"));
  const one = await writeTinyPackage(layout, "one", "localhost/example:1.0");
  const two = await writeTinyPackage(layout, "two");
  await layout.tag("ghcr.io/acme/reviewer:2.0", two.descriptor);
  await layout.tag("latest", one.descriptor);

  const resolved = await layout.resolve("localhost/example:1.0");
  assert.deepEqual(
    resolved,
    one.descriptor,
    "the ref.name annotation is not part of the resolved descriptor",
  );
  assert.deepEqual(await layout.resolve(two.descriptor.digest), two.descriptor);

  const raw = await readFile(join(layout.root, "index.json"), "utf8");
  const index = JSON.parse(raw);
  assert.equal(raw, canonicalJson(index), "index.json is canonical JSON");
  assert.deepEqual(
    index.manifests.map((d: Descriptor) => d.annotations?.[ANNOTATION_REF_NAME]),
    ["ghcr.io/acme/reviewer:2.0", "latest", "localhost/example:1.0"],
  );
  assert.deepEqual(
    (await layout.list()).map((e) => [e.ref, e.descriptor.digest]),
    [
      ["ghcr.io/acme/reviewer:2.0", two.descriptor.digest],
      ["latest", one.descriptor.digest],
      ["localhost/example:1.0", one.descriptor.digest],
    ],
  );

  // Retagging moves the tag; there is still one entry per tag.
  await layout.tag("latest", two.descriptor);
  assert.equal((await layout.resolve("latest")).digest, two.descriptor.digest);
  assert.equal((await layout.list()).length, 3);

  assert.equal(await layout.untag("latest"), true);
  assert.equal(await layout.untag("latest"), false);
  await expectCode(() => layout.resolve("latest"), "OCI_REF_NOT_FOUND", /No tag "latest"/);
  await expectCode(() => layout.resolve("localhost/example:1.1"), "OCI_REF_NOT_FOUND", /No tag/);
  try {
    await layout.resolve("localhost/example:1.1");
  } catch (err) {
    assert.equal((err as { hint?: string }).hint, 'Did you mean "localhost/example:1.0"?');
  }
  await expectCode(() => layout.resolve(sha256Digest("nothing")), "OCI_REF_NOT_FOUND", /No manifest sha256:/);
  await expectCode(
    () => layout.tag("has space", one.descriptor),
    "OCI_REF_INVALID",
    /Invalid tag "has space"/,
  );
  await expectCode(() => layout.tag("", one.descriptor), "OCI_REF_INVALID", /Invalid tag ""/);
  await expectCode(
    () => layout.tag("x", { ...one.descriptor, digest: sha256Digest("missing") }),
    "OCI_BLOB_NOT_FOUND",
    /is not in/,
  );
  const got = await layout.getManifest("localhost/example:1.0");
  assert.deepEqual(got.bytes, one.bytes);
  assert.equal((await layout.reachableBlobs(one.descriptor)).size, 3);
});

test("a stale lock left by a dead process is broken; a live one times out with OCI_LAYOUT_LOCKED", async (t) => {
  const layout = await OciLayout.create(join(await tempDir(t), "l"), { lock: { timeoutMs: 300 } });
  const { descriptor } = await writeTinyPackage(layout);
  const lock = join(layout.root, "index.json.lock");
  const dead = spawnSync(process.execPath, ["-e", "process.exit(0)"]).pid;
  assert.ok(dead !== undefined);
  await writeFile(
    lock,
    JSON.stringify({ pid: dead, host: (await import("node:os")).hostname(), token: "t", time: 0 }),
  );
  await layout.tag("after-stale", descriptor);
  assert.equal((await layout.resolve("after-stale")).digest, descriptor.digest);

  await writeFile(
    lock,
    JSON.stringify({ pid: process.pid, host: (await import("node:os")).hostname(), token: "x" }),
  );
  await expectCode(
    () => layout.tag("blocked", descriptor),
    "OCI_LAYOUT_LOCKED",
    new RegExp(`held by pid ${process.pid}`),
  );
  assert.equal(
    await readFile(lock, "utf8").then((s) => JSON.parse(s).token),
    "x",
    "a live lock is not removed",
  );
});

test("layer streams can be written straight into the layout", async (t) => {
  const layout = await OciLayout.create(join(await tempDir(t), "l"));
  const { stream, result } = createLayerStream([{ path: "f", kind: "file", content: Buffer.from("x") }], {
    epoch: 0,
  });
  const info = await layout.putBlob(stream);
  const packed = await result;
  assert.equal(info.digest, packed.digest);
  assert.equal(info.size, packed.size);
  await expectCode(
    async () => {
      const tmp = await layout.tempBlobPath();
      await writeFile(tmp, "abc");
      await layout.commitBlob(tmp, { digest: sha256Digest("abc"), size: 4 });
    },
    "OCI_SIZE_MISMATCH",
    /has 3 bytes; expected 4/,
  );
  assert.deepEqual((await readdir(join(layout.root, "blobs", "sha256"))).length, 1);
});

test("skopeo reads the layout: inspect --raw returns the manifest bytes unchanged", async (t) => {
  const dir = join(await tempDir(t), "layout");
  const layout = await OciLayout.create(dir);
  const { bytes } = await writeTinyPackage(layout, "skopeo", "v1");
  const raw = execFileSync("skopeo", ["inspect", "--raw", `oci:${dir}:v1`]);
  assert.deepEqual(raw, bytes);
  // skopeo can copy it (reads config and layer blobs and verifies their digests).
  const copy = join(dir, "..", "copy");
  execFileSync("skopeo", ["copy", "--quiet", `oci:${dir}:v1`, `oci:${copy}:v1`], { stdio: "pipe" });
  assert.deepEqual(execFileSync("skopeo", ["inspect", "--raw", `oci:${copy}:v1`]), bytes);
  // And our code opens what skopeo wrote.
  const theirs = await OciLayout.open(copy);
  assert.deepEqual((await theirs.getManifest("v1")).bytes, bytes);
});

test("with fsync on, blobs and index.json are written the same way", async (t) => {
  const layout = await OciLayout.create(join(await tempDir(t), "l"), { fsync: true });
  const { descriptor } = await writeTinyPackage(layout, "synced", "v1");
  assert.equal((await layout.resolve("v1")).digest, descriptor.digest);
  assert.deepEqual(await layout.putBlob("synced blob"), { digest: sha256Digest("synced blob"), size: 11 });
});
