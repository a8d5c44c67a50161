import assert from "node:assert/strict";
import { access } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { build } from "../../src/index.js";
import { runCli } from "../helpers/cli.js";
import { testdir } from "../helpers/testdir.js";

const exists = (path: string) =>
  access(path).then(
    () => true,
    () => false,
  );

describe("a bad -t is refused before any work", () => {
  for (const [tag, message] of [
    ["Bad Tag", /reference "Bad Tag" contains whitespace/],
    ["localhost/UPPER:1", /invalid repository name "UPPER"/],
    ["localhost/ok:-bad", /invalid tag "-bad"/],
  ] as const) {
    it(`build -t ${JSON.stringify(tag)}: exit 2, REFERENCE_INVALID, nothing packed or stored`, async () => {
      const base = await testdir({ "agent/Agentfile": "AGENT tags\nAUDIT basic\n" });
      const env = { AGENTRC_CACHE: join(base, "cache") };
      const store = join(base, "store");
      for (const json of [false, true]) {
        const r = await runCli(
          [
            "build",
            join(base, "agent"),
            "-t",
            "localhost/good:1",
            "-t",
            tag,
            "--store",
            store,
            "--no-color",
            ...(json ? ["--json"] : []),
          ],
          { env },
        );
        assert.equal(r.code, 2, r.stdout + r.stderr);
        if (json) {
          const out = JSON.parse(r.stdout) as { ok: boolean; error: { code: string; message: string } };
          assert.equal(out.ok, false);
          assert.equal(out.error.code, "REFERENCE_INVALID");
          assert.match(out.error.message, message);
        } else {
          assert.match(r.stderr, /error REFERENCE_INVALID -t: /);
          assert.match(r.stderr, message);
          assert.doesNotMatch(r.stderr, /\n\s+at /);
        }
        assert.equal(await exists(env.AGENTRC_CACHE), false, "nothing was packed into the cache");
        assert.equal(await exists(store), false, "the store was not touched");
      }
    });
  }

  it("the library refuses a bad tag before packing (OCI_REF_INVALID), a bad push reference too", async () => {
    const base = await testdir({ "agent/Agentfile": "AGENT tags\nAUDIT basic\n" });
    const cacheDir = join(base, "cache");
    const tagged = await build({
      dir: join(base, "agent"),
      cacheDir,
      config: { build: { tags: ["localhost/tags:bad tag"], store: join(base, "store") } },
    }).then(
      () => undefined,
      (e: { code?: string; message?: string }) => e,
    );
    assert.equal(tagged?.code, "OCI_REF_INVALID");
    assert.match(tagged?.message ?? "", /Invalid tag "localhost\/tags:bad tag"/);
    const pushed = await build({
      dir: join(base, "agent"),
      cacheDir,
      config: { build: { store: join(base, "store") } },
      push: { references: ["localhost:5000/Tags:1"] },
    }).then(
      () => undefined,
      (e: { code?: string; message?: string }) => e,
    );
    assert.equal(pushed?.code, "REFERENCE_INVALID");
    assert.match(pushed?.message ?? "", /invalid repository name "Tags"/);
    assert.equal(await exists(join(cacheDir, "blobs")), false, "nothing was packed");
  });
});
