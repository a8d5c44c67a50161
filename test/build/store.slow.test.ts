import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { build } from "../../src/index.js";
import { FIXTURES } from "../helpers/build.js";
import { BIN } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { testdir } from "../helpers/testdir.js";

const skopeo = (...args: string[]) => spawnSync("skopeo", args, { encoding: "utf8" });

async function blobsAreComplete(layout: string): Promise<string[]> {
  const dir = join(layout, "blobs", "sha256");
  const names = await readdir(dir).catch(() => [] as string[]);
  for (const name of names) {
    assert.match(name, /^[a-f0-9]{64}$/, `unexpected file ${name} in blobs/sha256`);
    const sum = createHash("sha256")
      .update(await readFile(join(dir, name)))
      .digest("hex");
    assert.equal(sum, name, `blob ${name} is complete`);
  }
  return names;
}

describe("local store and layouts", () => {
  it("skopeo reads what we write, and copies it digest-for-digest", async () => {
    const base = await testdir();
    await copyTree(join(FIXTURES, "agents/full"), join(base, "agent"));
    const store = join(base, "store");
    const r = await build({
      dir: join(base, "agent"),
      cacheDir: join(base, "cache"),
      config: { build: { tags: ["localhost/full:1.0"], store } },
    });
    assert.equal(r.errorCount, 0);
    const pkg = r.compilation.package!;
    const raw = skopeo("inspect", "--raw", `oci:${store}:localhost/full:1.0`);
    assert.equal(raw.status, 0, raw.stderr);
    assert.equal(
      raw.stdout,
      pkg.manifestBytes.toString("utf8"),
      "skopeo returns our manifest bytes unchanged",
    );
    const copy = skopeo(
      "copy",
      "--quiet",
      `oci:${store}:localhost/full:1.0`,
      `oci:${join(base, "copy")}:1.0`,
    );
    assert.equal(copy.status, 0, copy.stderr);
    const copied = skopeo("inspect", "--raw", `oci:${join(base, "copy")}:1.0`);
    assert.equal(createHash("sha256").update(copied.stdout).digest("hex"), pkg.descriptor.digest.slice(7));
    await blobsAreComplete(join(base, "copy"));
    // umoci, the other OCI layout tool, also reads the layout's index.
    const umoci = spawnSync("umoci", ["ls", "--layout", store], { encoding: "utf8" });
    assert.equal(umoci.status, 0, umoci.stderr);
    assert.match(umoci.stdout, /localhost\/full:1\.0/);
  });

  it("writes an oci-archive that skopeo reads", async () => {
    const base = await testdir();
    await copyTree(join(FIXTURES, "agents/full"), join(base, "agent"));
    const archive = join(base, "full.tar");
    const r = spawnSync(
      process.execPath,
      [
        BIN,
        "build",
        join(base, "agent"),
        "-t",
        "localhost/full:2.0",
        "--output",
        archive,
        "--output-format",
        "oci-archive",
        "--json",
      ],
      {
        encoding: "utf8",
        env: { ...process.env, AGENTRC_CACHE: join(base, "cache") },
      },
    );
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout);
    assert.deepEqual(out.output, { target: archive, format: "oci-archive", tags: ["2.0"] });
    const raw = skopeo("inspect", "--raw", `oci-archive:${archive}:2.0`);
    assert.equal(raw.status, 0, raw.stderr);
    assert.equal(`sha256:${createHash("sha256").update(raw.stdout).digest("hex")}`, out.digest);
  });

  it("a build that fails during packing leaves the store untouched", async () => {
    const base = await testdir();
    await copyTree(join(FIXTURES, "agents/full"), join(base, "agent"));
    const store = join(base, "store");
    await build({
      dir: join(base, "agent"),
      cacheDir: join(base, "cache"),
      config: { build: { tags: ["localhost/ok:1"], store } },
    });
    const indexBefore = await readFile(join(store, "index.json"), "utf8");
    const blobsBefore = await blobsAreComplete(store);
    await writeFile(join(base, "agent", "docs", "new.md"), "new content changes the data layer\n");
    const failing = {
      name: "explodes",
      apply(compiler: import("../../src/index.js").Compiler) {
        compiler.hooks.compilation.tap("explodes", (c) => {
          c.hooks.annotations.tap("explodes", () => {
            throw new Error("annotation service down");
          });
        });
      },
    };
    await assert.rejects(
      build({
        dir: join(base, "agent"),
        cacheDir: join(base, "cache"),
        plugins: [failing],
        config: { build: { tags: ["localhost/bad:1"], store } },
      }),
      {
        code: "PLUGIN_FAILED",
        message: /plugin explodes failed in compilation\.hooks\.annotations: annotation service down/,
      },
    );
    assert.equal(await readFile(join(store, "index.json"), "utf8"), indexBefore);
    assert.deepEqual(await blobsAreComplete(store), blobsBefore);
  });

  it("a build killed mid-pack leaves no partial blob, index entry or tag", async () => {
    const base = await testdir();
    await copyTree(join(FIXTURES, "agents/full"), join(base, "agent"));
    // 96 MiB of incompressible data so that packing takes a while.
    await writeFile(join(base, "agent", "docs", "big.md"), randomBytes(96 * 1024 * 1024));
    const store = join(base, "store");
    const child = spawn(
      process.execPath,
      [BIN, "build", join(base, "agent"), "-t", "localhost/killed:1", "--store", store, "--quiet"],
      {
        env: { ...process.env, AGENTRC_CACHE: join(base, "cache") },
        stdio: "ignore",
      },
    );
    // Kill it once a layer is being written (a temp file exists in the cache's blob directory).
    const packing = join(base, "cache", "blobs", "blobs", "sha256");
    for (let i = 0; i < 1500; i++) {
      const names = await readdir(packing).catch(() => [] as string[]);
      if (names.some((n) => !/^[a-f0-9]{64}$/.test(n))) break;
      await new Promise((r) => setTimeout(r, 10));
    }
    child.kill("SIGKILL");
    await new Promise((r) => child.on("exit", r));
    const index = await readFile(join(store, "index.json"), "utf8").catch(() => '{"manifests":[]}');
    assert.deepEqual(JSON.parse(index).manifests, [], "no index entry");
    await blobsAreComplete(store);
    // The next build succeeds and the store is valid.
    const again = spawnSync(
      process.execPath,
      [BIN, "build", join(base, "agent"), "-t", "localhost/killed:1", "--store", store, "--quiet"],
      {
        env: { ...process.env, AGENTRC_CACHE: join(base, "cache") },
        encoding: "utf8",
      },
    );
    assert.equal(again.status, 0, again.stderr);
    assert.equal(skopeo("inspect", "--raw", `oci:${store}:localhost/killed:1`).status, 0);
  });

  it("two builds into the same store at once both succeed and the store stays valid", async () => {
    const base = await testdir();
    await copyTree(join(FIXTURES, "agents/full"), join(base, "a"));
    await copyTree(join(FIXTURES, "valid/github-triager"), join(base, "b"));
    const store = join(base, "store");
    const run = (dir: string, tag: string, cache: string) =>
      new Promise<number>((resolve) => {
        const child = spawn(
          process.execPath,
          [BIN, "build", join(base, dir), "-t", tag, "--store", store, "--quiet"],
          {
            env: { ...process.env, AGENTRC_CACHE: join(base, cache) },
            stdio: "ignore",
          },
        );
        child.on("exit", (code) => resolve(code ?? -1));
      });
    const codes = await Promise.all([
      run("a", "localhost/a:1", "c1"),
      run("b", "localhost/b:1", "c2"),
      run("a", "localhost/a:2", "c3"),
      run("b", "localhost/b:2", "c4"),
    ]);
    assert.deepEqual(codes, [0, 0, 0, 0]);
    const entries = JSON.parse(await readFile(join(store, "index.json"), "utf8")).manifests as Array<{
      annotations?: Record<string, string>;
      artifactType?: string;
    }>;
    // Beside the four tags: each package's provenance, an untagged referrer. Two builds of one agent make one
    // package (the tag is not in it) and one statement (it names the agent, not the tag): two referrers, not four.
    const refs = entries.flatMap((m) => m.annotations?.["org.opencontainers.image.ref.name"] ?? []);
    assert.deepEqual(
      entries
        .filter((m) => m.annotations?.["org.opencontainers.image.ref.name"] === undefined)
        .map((m) => m.artifactType),
      ["application/vnd.in-toto+json", "application/vnd.in-toto+json"],
    );
    assert.deepEqual(refs.sort(), ["localhost/a:1", "localhost/a:2", "localhost/b:1", "localhost/b:2"]);
    for (const ref of refs) assert.equal(skopeo("inspect", "--raw", `oci:${store}:${ref}`).status, 0, ref);
    await blobsAreComplete(store);
  });
});
