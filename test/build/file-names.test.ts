import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { build } from "../../src/index.js";
import { testdir } from "../helpers/testdir.js";

/** `<dir>/caf\xE9`: a Latin-1 name, not valid UTF-8 (Node can only show it as `caf\uFFFD`). */
const latin1 = (dir: string, ...rest: string[]) =>
  Buffer.concat([Buffer.from(`${dir}/`), Buffer.from([0x63, 0x61, 0x66, 0xe9]), Buffer.from(rest.join(""))]);

async function run(dir: string) {
  const base = await testdir();
  return build({
    dir,
    cacheDir: join(base, "cache"),
    config: { build: { tags: ["x:1"], output: join(base, "out") } },
  });
}

describe("file names that are not UTF-8", () => {
  it("a directory below a selected one is reported, not silently left out of the package", async () => {
    const dir = await testdir({
      Agentfile: "AGENT names\nAUDIT basic\nINCLUDE data\n",
      "data/ok.txt": "ok",
      "data/sub/ok.txt": "ok",
    });
    await mkdir(latin1(join(dir, "data/sub")));
    await writeFile(latin1(join(dir, "data/sub"), "/inner.txt"), "inner");
    const r = await run(dir);
    assert.deepEqual(
      r.diagnostics.map((d) => `${d.location?.line}:${d.location?.column} ${d.code}`),
      ["3:9 FILE_NAME_INVALID"],
    );
    assert.match(r.diagnostics[0]!.message, /data\/sub\/caf\uFFFD" is not valid UTF-8/);
    assert.equal(r.compilation.package, undefined);
  });

  it("a file is FILE_NAME_INVALID at the directive, not a plugin crash", async () => {
    const dir = await testdir({
      Agentfile: "AGENT names\nAUDIT basic\nINGEST data/*\n",
      "data/ok.txt": "ok",
    });
    await writeFile(latin1(join(dir, "data")), "latin1");
    const r = await run(dir);
    assert.deepEqual(
      r.diagnostics.map((d) => `${d.location?.line}:${d.location?.column} ${d.code}`),
      ["3:8 FILE_NAME_INVALID"],
    );
  });

  it("an ignored one is simply ignored", async () => {
    const dir = await testdir({
      Agentfile: "AGENT names\nAUDIT basic\nINCLUDE data\n",
      "data/ok.txt": "ok",
      ".agentrcignore": "data/caf?\n",
    });
    await writeFile(latin1(join(dir, "data")), "latin1");
    const r = await run(dir);
    assert.deepEqual(r.diagnostics, []);
    const data = r.compilation.layerPlan.find((l) => l.title === "data");
    assert.deepEqual(data?.kind === "tar" ? data.entries.map((e) => e.path) : [], ["data/ok.txt"]);
  });
});
