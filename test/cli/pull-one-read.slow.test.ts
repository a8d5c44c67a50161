import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { build, push } from "../../src/index.js";
import { FIXTURES } from "../helpers/build.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { openedFiles, straceBin } from "../helpers/strace.js";

/**
 * Pull reads every blob once (issue 13, point 5): a downloaded layer streams from the registry into the store, and
 * the file-index check and `pull -o`'s unpacking read that same stream, so no blob file of the store is opened for
 * reading afterwards. A blob the store already had is read from it once. Counted with strace, as the build's
 * one-read test counts source files.
 */
let registry: TestRegistry;
let base: string;
let ref: string;
let blobs: string[];

before(async () => {
  registry = await startRegistry({ mode: "open" });
  base = await mkdtemp(join(tmpdir(), "agentrc-pull-one-read-"));
  ref = `${registry.host}/one-read/full:1`;
  const layout = join(base, "layout");
  const built = await build({
    dir: join(FIXTURES, "agents/full"),
    cacheDir: join(base, "cache"),
    config: { build: { output: layout, frozenLockfile: true } },
  });
  assert.equal(built.errorCount, 0);
  const pkg = built.compilation.package!;
  blobs = [pkg.manifest.config.digest, ...pkg.manifest.layers.map((l) => l.digest)];
  await push(ref, { ...registry.clientOptions(), store: layout, source: "latest" });
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

/** Runs `agentrc <args>` under strace; returns how often each blob of the store was opened for reading. */
async function blobReads(
  store: string,
  args: string[],
): Promise<{ reads: Map<string, number>; json: { ok: boolean; blobs: Array<{ status: string }> } }> {
  const { run: r, lines } = await straceBin([...args, "--json"], {
    syscalls: "openat,open",
    traceFile: join(base, `trace-${Math.random().toString(36).slice(2)}`),
    env: {
      PATH: process.env.PATH,
      HOME: join(base, "home"),
      AGENTRC_STORE: store,
      AGENTRC_CACHE: join(base, "c"),
    },
  });
  assert.equal(r.status, 0, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
  const reads = new Map<string, number>(blobs.map((d) => [d, 0]));
  const prefix = join(store, "blobs", "sha256");
  for (const { path, flags } of openedFiles(lines)) {
    if (!path.startsWith(`${prefix}/`) || /O_WRONLY|O_RDWR/.test(flags)) continue;
    const digest = `sha256:${path.slice(prefix.length + 1)}`;
    if (reads.has(digest)) reads.set(digest, reads.get(digest)! + 1);
  }
  return { reads, json: JSON.parse(r.stdout) };
}

describe("pull reads nothing twice", () => {
  test("pull -o: every blob streams once from the registry; the store's copies are never read back", async () => {
    const store = join(base, "store-o");
    const out = join(base, "out");
    const { reads, json } = await blobReads(store, ["pull", ref, "-o", out]);
    assert.equal(json.ok, true);
    assert.ok(json.blobs.every((b: { status: string }) => b.status === "downloaded"));
    assert.deepEqual(
      [...reads].filter(([, n]) => n !== 0),
      [],
      "no blob of the store was read back",
    );
    assert.equal(
      await readFile(join(out, "data/docs/index.md"), "utf8"),
      await readFile(join(FIXTURES, "agents/full/docs/index.md"), "utf8"),
    );
  });

  test("pull: the file-index check reads the download stream, not the store", async () => {
    const store = join(base, "store-plain");
    const { reads, json } = await blobReads(store, ["pull", ref]);
    assert.equal(json.ok, true);
    assert.deepEqual(
      [...reads].filter(([, n]) => n !== 0),
      [],
      "no blob of the store was read back",
    );
  });

  test("pull -o of a package the store already has: each blob read from the store once", async () => {
    const store = join(base, "store-o");
    const out = join(base, "out-again");
    const { reads, json } = await blobReads(store, ["pull", ref, "-o", out]);
    assert.equal(json.ok, true);
    assert.ok(json.blobs.every((b: { status: string }) => b.status === "exists"));
    assert.deepEqual(
      [...reads].filter(([, n]) => n !== 1),
      [],
      "each blob is read once",
    );
  });
});
