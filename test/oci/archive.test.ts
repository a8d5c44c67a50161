import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import tarStream from "tar-stream";
import { readOciArchive, writeOciArchive } from "../../src/oci/archive.js";
import { OciLayout } from "../../src/oci/layout.js";
import { collect, expectCode, listTree, tempDir, writeTinyPackage } from "./helpers.js";

async function tarNames(file: string): Promise<Array<[string, number, number]>> {
  const ex = tarStream.extract();
  ex.end(await readFile(file));
  const out: Array<[string, number, number]> = [];
  for await (const e of ex) {
    out.push([e.header.name, e.header.mode, e.header.mtime.getTime() / 1000]);
    await collect(e as AsyncIterable<Buffer>);
  }
  return out;
}

test("writes a deterministic oci-archive that skopeo reads", async (t) => {
  const base = await tempDir(t);
  const layout = await OciLayout.create(join(base, "layout"));
  const { bytes } = await writeTinyPackage(layout, "arch", "v1");
  const other = await writeTinyPackage(layout, "other", "v2");
  await layout.putBlob("an orphan blob, not reachable from index.json");

  const file = join(base, "agent.tar");
  const r = await writeOciArchive(layout, file, { epoch: 1_700_000_000 });
  assert.deepEqual({ manifests: r.manifests, blobs: r.blobs }, { manifests: 2, blobs: 6 });
  const names = await tarNames(file);
  assert.deepEqual(
    names.map((n) => n[0]),
    [
      "blobs/",
      "blobs/sha256/",
      ...names.filter((n) => n[0].startsWith("blobs/sha256/") && n[0].length > 13).map((n) => n[0]),
      "index.json",
      "oci-layout",
    ],
  );
  const blobNames = names.map((n) => n[0]).filter((n) => /^blobs\/sha256\/[0-9a-f]{64}$/.test(n));
  assert.deepEqual(blobNames, [...blobNames].sort());
  assert.equal(blobNames.length, 6, "the orphan blob is left out");
  assert.ok(names.every(([, mode, mtime]) => (mode === 0o644 || mode === 0o755) && mtime === 1_700_000_000));
  assert.ok(!(await readdir(base)).some((n) => n.includes(".tmp-")), "no temp file remains");

  // skopeo reads the archive.
  assert.deepEqual(execFileSync("skopeo", ["inspect", "--raw", `oci-archive:${file}:v1`]), bytes);

  // Same layout content → same archive bytes, even from another directory.
  const layout2 = await OciLayout.create(join(base, "elsewhere", "layout"));
  await writeTinyPackage(layout2, "other", "v2");
  await writeTinyPackage(layout2, "arch", "v1");
  const file2 = join(base, "agent2.tar");
  await writeOciArchive(layout2, file2, { epoch: 1_700_000_000 });
  assert.deepEqual(await readFile(file2), await readFile(file));

  // Only some refs.
  const one = join(base, "one.tar");
  const r1 = await writeOciArchive(layout, one, { refs: ["v2"] });
  assert.deepEqual({ manifests: r1.manifests, blobs: r1.blobs }, { manifests: 1, blobs: 3 });
  const back = await readOciArchive(one, join(base, "one-layout"));
  assert.deepEqual(
    (await back.list()).map((e) => [e.ref, e.descriptor.digest]),
    [["v2", other.descriptor.digest]],
  );
  await expectCode(
    () => writeOciArchive(layout, join(base, "x.tar"), { refs: ["v3"] }),
    "OCI_REF_NOT_FOUND",
    /No tag "v3"/,
  );
});

test("reads back its own archives and skopeo's", async (t) => {
  const base = await tempDir(t);
  const layout = await OciLayout.create(join(base, "layout"));
  const { bytes } = await writeTinyPackage(layout, "rt", "v1");
  const file = join(base, "mine.tar");
  await writeOciArchive(layout, file);
  const mine = await readOciArchive(file, join(base, "mine"));
  assert.deepEqual((await mine.getManifest("v1")).bytes, bytes);

  const theirs = join(base, "skopeo.tar");
  execFileSync("skopeo", ["copy", "--quiet", `oci:${layout.root}:v1`, `oci-archive:${theirs}:v1`], {
    stdio: "pipe",
  });
  const fromSkopeo = await readOciArchive(theirs, join(base, "theirs"));
  assert.deepEqual((await fromSkopeo.getManifest("v1")).bytes, bytes);
});

test("rejects archives that are not layouts or whose blobs are corrupt, and cleans up", async (t) => {
  const base = await tempDir(t);
  const notLayout = join(base, "plain.tar");
  execFileSync("tar", ["-cf", notLayout, "-C", base, "."], { stdio: "pipe" });
  const target = join(base, "out");
  await expectCode(
    () => readOciArchive(notLayout, target),
    "OCI_ARCHIVE_INVALID",
    /not a valid oci-archive: .*no oci-layout/,
  );
  assert.ok(!(await readdir(base)).includes("out"), "the target is removed");

  const layout = await OciLayout.create(join(base, "layout"));
  const { descriptor } = await writeTinyPackage(layout, "c", "v1");
  await writeFile(layout.blobPath(descriptor.digest), "tampered");
  const bad = join(base, "bad.tar");
  // Writing verifies blobs as they are streamed.
  await expectCode(() => writeOciArchive(layout, bad), "OCI_DIGEST_MISMATCH", /is corrupt|expected sha256/);
  assert.ok(!(await readdir(base)).some((n) => n.startsWith(".bad.tar")), "no partial archive");
  // A hand-made archive with a corrupt blob is refused on read.
  execFileSync("tar", ["-cf", bad, "-C", layout.root, "."], { stdio: "pipe" });
  await expectCode(() => readOciArchive(bad, target), "OCI_DIGEST_MISMATCH", /does not match its content/);
  assert.deepEqual(await listTree(base).then((l) => l.filter((p) => p.startsWith("out"))), []);
});
