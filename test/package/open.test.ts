import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { openPackage } from "../../src/api.js";
import { isAgentrcError } from "../../src/diagnostics/AgentrcError.js";
import { build } from "../../src/index.js";
import { writeOciArchive } from "../../src/oci/archive.js";
import { OciLayout } from "../../src/oci/layout.js";
import { MEDIA_TYPE_POLICY_CEDAR } from "../../src/oci/mediaTypes.js";
import { buildCopy, FIXTURES } from "../helpers/build.js";
import { copyTree } from "../helpers/copyTree.js";
import { testdir } from "../helpers/testdir.js";

const rejectsWith = (code: string, message: RegExp) => (err: unknown) => {
  assert.ok(isAgentrcError(err), `expected an AgentrcError, got ${String(err)}`);
  assert.equal(err.code, code, err.message);
  assert.match(err.message, message);
  return true;
};

let built: Awaited<ReturnType<typeof buildCopy>>;
let base: string;
let store: string;
let archive: string;

before(async () => {
  // testdir() in a before hook would be removed when the hook ends.
  base = await mkdtemp(join(tmpdir(), "agentrc-open-"));
  // Every build here (the source-directory opener too) must see the same epoch: none.
  delete process.env.SOURCE_DATE_EPOCH;
  built = await buildCopy("agents/full", { base });
  assert.equal(built.result.errorCount, 0);
  store = join(base, "store");
  const r = await build({
    dir: built.dir,
    cacheDir: join(base, "cache"),
    config: { build: { tags: ["localhost/open/full:1"], store } },
  });
  assert.equal(r.errorCount, 0);
  archive = join(base, "full.tar");
  await writeOciArchive(await OciLayout.open(built.layout), archive);
});

after(() => rm(base, { recursive: true, force: true }));

describe("openPackage reads one package from every kind of source", () => {
  const cases: Array<[string, () => string, string]> = [
    ["a layout directory", () => built.layout, "layout"],
    ["oci:<dir>:<tag>", () => `oci:${built.layout}:1`, "layout"],
    ["an oci-archive file", () => archive, "archive"],
    ["oci-archive:<file>:<tag>", () => `oci-archive:${archive}:1`, "archive"],
    ["a store reference", () => "localhost/open/full:1", "store"],
    ["an agent source directory", () => built.dir, "source"],
  ];
  for (const [name, target, kind] of cases) {
    test(name, async () => {
      const pkg = await openPackage(target(), { store, cwd: base, cacheDir: join(base, "cache") });
      try {
        assert.equal(pkg.kind, kind);
        assert.equal(pkg.descriptor.digest, built.digest);
        assert.equal(pkg.config.agent.name, "full-agent");
        const policy = pkg.manifest.layers.find((l) => l.mediaType === MEDIA_TYPE_POLICY_CEDAR);
        assert.ok(policy);
        assert.match((await pkg.readBlob(policy)).toString("utf8"), /permit/);
      } finally {
        await pkg.close();
      }
      if (kind === "archive" || kind === "source") {
        // The temporary layout is gone after close.
        await assert.rejects(stat(pkg.layout!.root), /ENOENT/);
      }
    });
  }
});

test("a source directory is built in memory: its lock is resolved, never written", async () => {
  const dir = await testdir();
  await copyTree(join(FIXTURES, "agents/full"), dir);
  await rm(join(dir, "agentrc.lock"));
  const pkg = await openPackage(dir, { store, cacheDir: join(base, "cache") });
  await pkg.close();
  assert.equal(pkg.kind, "source");
  assert.equal(pkg.lockfile, "stale");
  // The package holds the lock the build resolved, so it is the same package as the one built with a lock.
  assert.equal(pkg.descriptor.digest, built.digest);
  await assert.rejects(stat(join(dir, "agentrc.lock")), /ENOENT/);
});

test("a source directory that does not build is refused with the build's diagnostics", async () => {
  const dir = await testdir({ Agentfile: "AGENT broken\nFROBNICATE now\n" });
  await assert.rejects(openPackage(dir, { store, cacheDir: join(base, "cache") }), (err: unknown) => {
    rejectsWith("PACKAGE_SOURCE_BUILD_FAILED", /does not build: UNKNOWN_DIRECTIVE/)(err);
    assert.ok(
      (err as { diagnostics: Array<{ code: string }> }).diagnostics.some(
        (d) => d.code === "UNKNOWN_DIRECTIVE",
      ),
    );
    return true;
  });
});

test("openBlob verifies a blob against its digest", async () => {
  const copy = join(await testdir(), "layout");
  await copyTree(built.layout, copy);
  const pkg = await openPackage(copy);
  try {
    const layer = pkg.manifest.layers.at(-1)!;
    const path = pkg.layout!.blobPath(layer.digest);
    const bytes = await readFile(path);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 1) ^ 1, bytes.length - 1);
    await writeFile(path, bytes);
    const stream = await pkg.openBlob(layer);
    await assert.rejects(
      (async () => {
        for await (const _ of stream);
      })(),
      rejectsWith("OCI_DIGEST_MISMATCH", new RegExp(`expected ${layer.digest}`)),
    );
  } finally {
    await pkg.close();
  }
});

test("paths that hold no package are refused with their own codes", async () => {
  const empty = await testdir({ "notes.txt": "x" });
  await assert.rejects(
    openPackage(empty, { store }),
    rejectsWith("PACKAGE_SOURCE_UNSUPPORTED", /neither an OCI layout nor an agent source tree/),
  );
  await assert.rejects(
    openPackage("./no-such-dir", { store, cwd: empty }),
    rejectsWith("PACKAGE_SOURCE_NOT_FOUND", /no-such-dir does not exist/),
  );
  await assert.rejects(
    openPackage(`oci-archive:${join(empty, "missing.tar")}`, { store }),
    rejectsWith("PACKAGE_SOURCE_NOT_FOUND", /missing\.tar does not exist/),
  );
  await assert.rejects(
    openPackage(join(empty, "notes.txt"), { store }),
    rejectsWith("OCI_EXTRACT_CORRUPT", /The tarball is corrupt/),
  );
  // Without a source builder (the library function of src/package/open.ts), a source tree is not a package.
  const { openPackage: openOnly } = await import("../../src/package/open.js");
  await assert.rejects(
    openOnly(built.dir, { store }),
    rejectsWith("PACKAGE_SOURCE_UNSUPPORTED", /is an agent source tree; this command needs a package/),
  );
});

test("a bare reference the store lacks stays local", async () => {
  await assert.rejects(
    openPackage("team/agent:1", { store }),
    rejectsWith("OCI_REF_NOT_FOUND", /No tag "team\/agent:1"/),
  );
});
