import assert from "node:assert/strict";
import { mkdtemp, readdir, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { push } from "../../src/index.js";
import { buildCopy } from "../helpers/build.js";
import { runCli } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { PackageTamper, sha256 } from "../helpers/tamper.js";

describe("pull and pull -o refuse a package whose file index lies", () => {
  let registry: TestRegistry;
  let base: string;
  let layout: string;
  let n = 0;
  before(async () => {
    registry = await startRegistry({ mode: "open" });
    base = await mkdtemp(join(tmpdir(), "agentrc-pull-index-"));
    delete process.env.SOURCE_DATE_EPOCH;
    const built = await buildCopy("agents/full", { base });
    assert.equal(built.result.errorCount, 0);
    layout = built.layout;
  });
  after(async () => {
    await registry?.stop();
    await rm(base, { recursive: true, force: true });
  });

  /** Pushes a tampered copy of the built package to the real registry; returns its reference. */
  async function pushTampered(name: string, edit: (t: PackageTamper) => Promise<void>): Promise<string> {
    const dir = join(base, `tampered-${n++}`);
    await copyTree(layout, dir);
    await edit(await PackageTamper.open(dir));
    const ref = `${registry.host}/${name}:1`;
    await push(ref, { ...registry.clientOptions(), store: dir, source: "1" });
    return ref;
  }

  const env = (store: string) => ({ HOME: base, AGENTRC_STORE: join(base, store) });

  test("an index entry with another sha256: pull refuses it and tags nothing", async () => {
    const ref = await pushTampered("lie/sha", async (t) => {
      t.config.files.find((f: { path: string }) => f.path === "src/functions/triage.py").sha256 =
        sha256("print('hi')");
      await t.commit();
    });
    const r = await runCli(["pull", ref, "--json"], { env: env("store-sha") });
    assert.equal(r.code, 1, r.stdout);
    const error = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, "PACKAGE_FILE_MISMATCH");
    assert.match(
      error.message,
      /the package's file index does not match its layers \(1 problem\): src\/functions\/triage\.py in layer src: sha256 is sha256:\w+, index says sha256:/,
    );
    const listed = await runCli(["list", "--json"], { env: env("store-sha") });
    assert.deepEqual((JSON.parse(listed.stdout) as { packages: unknown[] }).packages, []);
  });

  test("a file the index hides: pull -o refuses it and writes nothing", async () => {
    const ref = await pushTampered("lie/hidden", async (t) => {
      t.config.files = t.config.files.filter((f: { path: string }) => f.path !== "tools/lint.sh");
      await t.commit();
    });
    const work = join(base, "work-hidden");
    const r = await runCli(["pull", ref, "-o", join(work, "out"), "--json"], { env: env("store-hidden") });
    assert.equal(r.code, 1, r.stdout);
    const error = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, "PACKAGE_FILE_UNLISTED");
    assert.match(
      error.message,
      /layer tools holds tools\/lint\.sh \(\d+ bytes, sha256:\w+\), which the file index does not list/,
    );
    await assert.rejects(stat(work), { code: "ENOENT" });
  });

  test("an index that lists a file no layer holds: refused", async () => {
    const ref = await pushTampered("lie/ghost", async (t) => {
      t.config.files.push({ path: "data/ghost.md", sha256: sha256(""), size: 0, mode: 0o644, layer: "data" });
      await t.commit();
    });
    const r = await runCli(["pull", ref, "--json"], { env: env("store-ghost") });
    assert.equal(r.code, 1, r.stdout);
    const error = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, "PACKAGE_FILE_MISSING");
    assert.match(error.message, /lists data\/ghost\.md \(layer data\), which no layer holds/);
  });

  test("the untouched package pulls and unpacks", async () => {
    const ref = await pushTampered("honest/full", async () => {});
    const out = join(base, "honest-out");
    const r = await runCli(["pull", ref, "-o", out, "--json"], { env: env("store-honest") });
    assert.equal(r.code, 0, r.stdout);
    assert.ok((await readdir(out)).includes("Agentfile"));
  });
});
