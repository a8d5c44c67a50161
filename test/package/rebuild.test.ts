import assert from "node:assert/strict";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { type VerifyResult, verify } from "../../src/api.js";
import { build } from "../../src/index.js";
import { FIXTURES } from "../helpers/build.js";
import { runCli } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
let base: string;
let n = 0;
before(async () => {
  base = await mkdtemp(join(tmpdir(), "agentrc-rebuild-"));
  delete process.env.SOURCE_DATE_EPOCH;
});
after(() => rm(base, { recursive: true, force: true }));

/** Copies a fixture agent, builds it into a layout (writing its lock in the copy), returns both. */
async function builtFixture(fixture: string): Promise<{ dir: string; layout: string; digest: string }> {
  const dir = join(base, `src-${n}`);
  const layout = join(base, `layout-${n++}`);
  await copyTree(join(FIXTURES, fixture), dir);
  if (fixture === "agents/reference") {
    // The reference agent is built with the organisation plugin (as the repository's agentrc.config.ts does); the
    // rebuild finds the same configuration in the tree.
    await writeFile(
      join(dir, "agentrc.config.ts"),
      `import { AcmePolicyPlugin } from ${JSON.stringify(join(REPO, "examples/org-plugin/index.ts"))};
export default { plugins: [new AcmePolicyPlugin({ requiredAudit: ["compliance"] })] };
`,
    );
  }
  const r = await build({ dir, cacheDir: join(base, "cache"), config: { build: { output: layout } } });
  assert.equal(r.errorCount, 0, JSON.stringify(r.diagnostics));
  return { dir, layout, digest: r.compilation.package!.descriptor.digest };
}

const fixtureAgents = async () => [
  ...(await readdir(join(FIXTURES, "agents"))).map((d) => `agents/${d}`),
  ...(await readdir(join(FIXTURES, "valid"))).map((d) => `valid/${d}`),
];

describe("verify --rebuild gives the same digest for every fixture agent", async () => {
  for (const fixture of await fixtureAgents()) {
    test(fixture, async () => {
      const { dir, layout, digest } = await builtFixture(fixture);
      const lockBefore = await readFile(join(dir, "agentrc.lock"), "utf8");
      const result = await verify(layout, { rebuild: dir, cacheDir: join(base, "cache") });
      assert.deepEqual(result.failures, []);
      assert.equal(result.rebuild?.identical, true);
      assert.equal(result.rebuild?.digest, digest);
      assert.deepEqual(result.rebuild?.differences, []);
      // Nothing in the source tree was touched.
      assert.equal(await readFile(join(dir, "agentrc.lock"), "utf8"), lockBefore);
    });
  }
});

describe("verify --rebuild locates a one-byte change in the source", () => {
  test("a data file: the data layer, the file, and the lock that pins the layer", async () => {
    const { dir, layout } = await builtFixture("agents/full");
    const file = join(dir, "docs/index.md");
    const bytes = await readFile(file);
    bytes.writeUInt8(bytes.readUInt8(0) ^ 0x20, 0);
    await writeFile(file, bytes);
    const result = await verify(layout, { rebuild: dir, cacheDir: join(base, "cache") });
    assert.equal(result.ok, false);
    assert.deepEqual(
      result.failures.map((f) => [f.code, f.part]),
      [["PACKAGE_REBUILD_DIFFERS", "layer agentrc.lock"]],
    );
    const parts = result.rebuild!.differences.map((d) => d.part);
    assert.ok(parts.includes("layer data"), parts.join(", "));
    assert.ok(parts.includes("file data/docs/index.md"), parts.join(", "));
    assert.deepEqual(
      parts.filter((p) => p.startsWith("file ")),
      ["file agentrc.lock", "file data/docs/index.md"],
    );
    assert.equal(result.rebuild!.lockfile, "stale");
    assert.match(
      result.failures[0]!.message,
      /has digest sha256:\w+, not sha256:\w+; differences in layers agentrc\.lock, data; files agentrc\.lock, data\/docs\/index\.md/,
    );

    const cli = await runCli(["verify", layout, "--rebuild", dir, "--json"], {
      env: { AGENTRC_CACHE: join(base, "cache"), HOME: base },
    });
    assert.equal(cli.code, 1, cli.stderr);
    const json = JSON.parse(cli.stdout) as VerifyResult;
    assert.equal(json.failures[0]!.code, "PACKAGE_REBUILD_DIFFERS");
    const human = await runCli(["verify", layout, "--rebuild", dir], {
      env: { AGENTRC_CACHE: join(base, "cache"), HOME: base },
    });
    assert.equal(human.code, 1);
    assert.match(human.stdout, /✘ rebuild .*differences in layers agentrc\.lock, data/);
    assert.match(human.stderr, /verification failed: 1 problem \(PACKAGE_REBUILD_DIFFERS\)/);
  });

  test("a tool script: the tools layer and the file", async () => {
    const { dir, layout } = await builtFixture("agents/full");
    const file = join(dir, "tools/lint.sh");
    await writeFile(file, `${await readFile(file, "utf8")} `);
    const mode = (await stat(file)).mode;
    assert.ok((mode & 0o111) !== 0);
    const result = await verify(layout, { rebuild: dir, cacheDir: join(base, "cache") });
    const parts = result.rebuild!.differences.map((d) => d.part);
    assert.ok(parts.includes("layer tools"), parts.join(", "));
    assert.ok(parts.includes("file tools/lint.sh"), parts.join(", "));
    const diff = result.rebuild!.differences.find((d) => d.part === "file tools/lint.sh")!;
    assert.match(diff.package!, /^sha256:\w+ \d+ bytes mode 755 in tools$/);
    assert.match(diff.rebuilt!, /^sha256:\w+ \d+ bytes mode 755 in tools$/);
    assert.notEqual(diff.package, diff.rebuilt);
  });

  test("--rebuild of a directory without an Agentfile is refused", async () => {
    const { layout } = await builtFixture("valid/minimal");
    const cli = await runCli(["verify", layout, "--rebuild", base, "--json"]);
    assert.equal(cli.code, 1);
    const json = JSON.parse(cli.stdout) as { error: { code: string; message: string } };
    assert.equal(json.error.code, "PACKAGE_SOURCE_NOT_FOUND");
    assert.match(json.error.message, /has no Agentfile: it is not an agent source tree/);
  });
});
