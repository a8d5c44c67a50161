import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { buildCopy, FIXTURES } from "../helpers/build.js";

/**
 * The reproducibility contract (docs/package.md): the same inputs give the same manifest digest whatever the files'
 * mtimes, creation order, umask or directory. Golden digests pin the bytes across machines and Node versions;
 * regenerate them with AGENTRC_UPDATE_GOLDEN=1 only for a deliberate format change (and bump the format version).
 */
const GOLDEN_FILE = join(FIXTURES, "golden-digests.json");
const golden = JSON.parse(await readFile(GOLDEN_FILE, "utf8")) as {
  formatVersion: string;
  digests: Record<string, string>;
};
const update = process.env.AGENTRC_UPDATE_GOLDEN === "1";

describe("reproducible builds", () => {
  it("same digest from different directories, creation orders, mtimes and umasks", async () => {
    const a = await buildCopy("agents/full", { copy: { umask: 0o022, mtime: () => 1_000_000_000 } });
    const b = await buildCopy("agents/full", {
      copy: { reverse: true, umask: 0o077, mtime: (p) => 1_600_000_000 + p.length * 7919 },
    });
    assert.deepEqual(a.result.diagnostics, []);
    assert.deepEqual(b.result.diagnostics, []);
    assert.notEqual(a.dir, b.dir);
    assert.match(a.digest, /^sha256:[a-f0-9]{64}$/);
    assert.equal(a.digest, b.digest);
    assert.deepEqual(
      a.result.compilation.package!.layers.map((l) => l.descriptor.digest),
      b.result.compilation.package!.layers.map((l) => l.descriptor.digest),
    );
  });

  it("honours SOURCE_DATE_EPOCH: created annotation and tar mtimes, still reproducible", async () => {
    const one = await buildCopy("agents/full", { epoch: "1700000000" });
    const two = await buildCopy("agents/full", { epoch: "1700000000", copy: { reverse: true } });
    const unset = await buildCopy("agents/full");
    assert.equal(one.digest, two.digest);
    assert.notEqual(one.digest, unset.digest);
    const annotations = one.result.compilation.package!.manifest.annotations!;
    assert.equal(annotations["org.opencontainers.image.created"], "2023-11-14T22:13:20Z");
    assert.equal(
      unset.result.compilation.package!.manifest.annotations!["org.opencontainers.image.created"],
      undefined,
    );
    const garbage = await buildCopy("agents/full", { epoch: "yesterday" }).catch((e: { code: string }) => e);
    assert.equal((garbage as { code: string }).code, "OCI_EPOCH_INVALID");
  });

  it("keeps runner placement hints out of the digest", async () => {
    const hinted = await buildCopy("valid/run-hints");
    const plain = await buildCopy("valid/run-hints", { copy: {} });
    await writeFile(
      join(plain.dir, "Agentfile"),
      (await readFile(join(plain.dir, "Agentfile"), "utf8"))
        .split("\n")
        .filter((l) => !/^(IMAGE|ISOLATION|BROKER|BACKEND|PLUGIN) /.test(l))
        .join("\n"),
    );
    const { build } = await import("../../src/index.js");
    const rebuilt = await build({
      dir: plain.dir,
      cacheDir: join(plain.dir, "..", "cache2"),
      config: { build: { tags: ["x:1"], output: join(plain.dir, "..", "out2") } },
    });
    assert.equal(rebuilt.compilation.package!.descriptor.digest, hinted.digest);
    assert.deepEqual(
      hinted.result.compilation.package!.runHints.map((h) => h.directive),
      ["IMAGE", "ISOLATION", "BROKER", "BACKEND", "PLUGIN"],
    );
  });
});

describe("image mode (build --image)", () => {
  const withImage = { run: { config: { build: { tags: ["localhost/test:1"], image: true } } } };
  const imageDigest = (r: Awaited<ReturnType<typeof buildCopy>>) =>
    r.result.compilation.package?.image?.descriptor.digest ?? "";

  it("one image digest whatever the mtimes, umask and creation order; the package's digest is unchanged", async () => {
    const a = await buildCopy("agents/full", {
      ...withImage,
      copy: { umask: 0o022, mtime: () => 1_000_000_000 },
    });
    const b = await buildCopy("agents/full", {
      ...withImage,
      copy: { reverse: true, umask: 0o077, mtime: (p) => 1_600_000_000 + p.length * 7919 },
    });
    assert.deepEqual(a.result.diagnostics, []);
    assert.match(imageDigest(a), /^sha256:[a-f0-9]{64}$/);
    assert.equal(imageDigest(a), imageDigest(b));
    assert.equal(a.digest, golden.digests["agents/full"], "--image leaves the package's bytes alone");
    assert.equal(a.digest, b.digest);
  });

  for (const [fixture, epoch] of [
    ["agents/full", undefined],
    ["agents/full", "1700000000"],
  ] as const) {
    const key = `image:${epoch ? `${fixture}@SOURCE_DATE_EPOCH=${epoch}` : fixture}`;
    it(`golden image digest ${key}`, async () => {
      const built = await buildCopy(fixture, { ...withImage, ...(epoch === undefined ? {} : { epoch }) });
      assert.equal(built.result.errorCount, 0, JSON.stringify(built.result.diagnostics));
      if (update) {
        golden.digests[key] = imageDigest(built);
        await writeFile(GOLDEN_FILE, `${JSON.stringify(golden, null, 2)}\n`);
      }
      assert.equal(imageDigest(built), golden.digests[key], `golden digest of ${key}`);
      assert.equal(built.digest, golden.digests[key.slice("image:".length)]);
    });
  }
});

describe("golden manifest digests", () => {
  const cases: Array<[string, string | undefined]> = [
    ["agents/full", undefined],
    ["agents/full", "1700000000"],
    ["valid/minimal", undefined],
    ["valid/code-reviewer", undefined],
    ["valid/github-triager", undefined],
    ["valid/crlf-bom-continuations", undefined],
    ["valid/run-hints", undefined],
    ["valid/spec-code-reviewer", undefined],
    ["valid/tool-spec-formats", undefined],
  ];
  for (const [fixture, epoch] of cases) {
    const key = epoch ? `${fixture}@SOURCE_DATE_EPOCH=${epoch}` : fixture;
    it(key, async () => {
      const { digest, result } = await buildCopy(fixture, epoch === undefined ? {} : { epoch });
      assert.equal(result.errorCount, 0, JSON.stringify(result.diagnostics));
      if (update) {
        golden.digests[key] = digest;
        await writeFile(GOLDEN_FILE, `${JSON.stringify(golden, null, 2)}\n`);
      }
      assert.equal(digest, golden.digests[key], `golden digest of ${key}`);
    });
  }
});
