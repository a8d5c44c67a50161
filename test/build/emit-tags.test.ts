import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { build } from "../../src/index.js";
import { testdir } from "../helpers/testdir.js";

describe("emit with an invalid tag", () => {
  for (const target of ["store", "output"] as const) {
    it(`fails before tagging anything (${target})`, async () => {
      const dir = await testdir({ Agentfile: "AGENT tags\nAUDIT basic\n" });
      const base = await testdir();
      const where = join(base, target);
      const err = await build({
        dir,
        cacheDir: join(base, "cache"),
        config: {
          build: { tags: ["localhost/tags:1", "localhost/tags:bad tag"], [target]: where },
        },
      }).then(
        () => undefined,
        (e: { code?: string; message?: string }) => e,
      );
      assert.equal(err?.code, "OCI_REF_INVALID");
      assert.match(err?.message ?? "", /Invalid tag "(localhost\/tags:)?bad tag"/);
      // Refused before packing (test/cli/build-tags.test.ts): the target is not even created.
      const index = await readFile(join(where, "index.json"), "utf8").then(
        (t) => JSON.parse(t) as { manifests: unknown[] },
        () => ({ manifests: [] }),
      );
      assert.deepEqual(index.manifests, [], "a failed build left a tag behind");
    });
  }
});
