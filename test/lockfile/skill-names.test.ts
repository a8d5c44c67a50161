import assert from "node:assert/strict";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { build, lint, lock } from "../../src/index.js";
import { testdir } from "../helpers/testdir.js";

const SKILL_MD = "---\nname: foo\ndescription: says foo\n---\nSay foo.\n";

describe("a skill has one name in the package and in agentrc.lock", () => {
  for (const written of ["foo", "./skills/foo", "skills/foo/", "./skills/foo/SKILL.md"]) {
    it(`SKILL ${written} is locked and packed as foo`, async () => {
      const dir = await testdir({
        Agentfile: `AGENT named\nAUDIT basic\nSKILL ${written}\n`,
        "skills/foo/SKILL.md": SKILL_MD,
      });
      const locked = await lock({ dir });
      assert.deepEqual(locked.diagnostics, []);
      const data = JSON.parse(await readFile(join(dir, "agentrc.lock"), "utf8"));
      assert.deepEqual(
        data.skills?.map((s: { name: string; source: string }) => [s.name, s.source]),
        [["foo", written === "foo" ? "name:foo" : `path:${written}`]],
      );
      assert.equal(data.skills[0].digest, data.layers["skill:foo"]);
      const built = await build({ dir, config: { build: { output: join(await testdir(), "out") } } });
      assert.deepEqual(built.diagnostics, []);
      const titles = built.compilation.package!.manifest.layers.map(
        (l) => l.annotations?.["org.opencontainers.image.title"],
      );
      assert.ok(titles.includes("skills/foo"), `layers: ${titles.join(", ")}`);
    });
  }

  it("an oci:// skill cannot take the name of a local skill written as a path to its SKILL.md", async () => {
    const dir = await testdir({
      Agentfile:
        "AGENT named\nAUDIT basic\nSKILL ./skills/foo/SKILL.md\nSKILL oci://127.0.0.1:9/acme/foo:1\n",
      "skills/foo/SKILL.md": SKILL_MD,
    });
    const r = await lint({ dir });
    assert.deepEqual(
      r.diagnostics.map((d) => [d.code, d.message, d.location?.line]),
      [["INVALID_ARGUMENTS", 'SKILL oci://127.0.0.1:9/acme/foo:1: the skill name "foo" is already used', 4]],
    );
  });
});
