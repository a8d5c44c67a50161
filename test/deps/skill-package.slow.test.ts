import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { build, lint } from "../../src/index.js";
import {
  ANNOTATION_ORAS_UNPACK,
  ANNOTATION_TITLE,
  ARTIFACT_TYPE_SKILL,
  MEDIA_TYPE_SKILL_CONFIG,
  MEDIA_TYPE_SKILL_LAYER,
} from "../../src/oci/mediaTypes.js";
import { RegistryClient } from "../../src/registry/client.js";
import { oras } from "../helpers/orasClient.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { testdir } from "../helpers/testdir.js";

const SKILL_MD =
  "---\nname: pr-review\ndescription: Reviews a pull request and reports findings per file.\n---\n\n# PR review\n";
const CARD =
  "apiVersion: skillimage.io/v1alpha1\nkind: SkillCard\nmetadata:\n  name: pr-review\n  version: 1.4.0\n  description: Reviews pull requests.\n";

describe("skill packages: agentrc build of a skill directory", () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry({ mode: "open" });
  });
  after(() => registry?.stop());

  test("builds one layer titled with the skill's name, consumed by SKILL oci:// and unpacked by oras-go", async () => {
    const root = await testdir({
      "skill/SKILL.md": SKILL_MD,
      "skill/skill.yaml": CARD,
      "skill/references/checklist.md": "- tests\n- docs\n",
    });
    const ref = `${registry.host}/skills/pr-review:1`;
    const built = await build({
      dir: join(root, "skill"),
      cacheDir: join(root, "cache"),
      config: { build: { tags: [ref], output: join(root, "layout") } },
      push: { references: [ref] },
      registry: registry.clientOptions(),
    });
    assert.deepEqual(built.diagnostics, []);
    const pkg = built.compilation.package!;
    assert.equal(built.compilation.kind, "skill");
    assert.equal(pkg.manifest.artifactType, ARTIFACT_TYPE_SKILL);
    assert.equal(pkg.manifest.config.mediaType, MEDIA_TYPE_SKILL_CONFIG);
    assert.equal(pkg.manifest.layers.length, 1);
    const layer = pkg.manifest.layers[0]!;
    assert.equal(layer.mediaType, MEDIA_TYPE_SKILL_LAYER);
    assert.equal(layer.annotations?.[ANNOTATION_TITLE], "pr-review");
    assert.equal(layer.annotations?.[ANNOTATION_ORAS_UNPACK], "true");
    assert.equal(pkg.manifest.annotations?.["org.opencontainers.image.version"], "1.4.0");
    const config = JSON.parse(await readFile(pkg.config.path, "utf8"));
    assert.equal(config.name, "pr-review");
    assert.equal(config.version, "1.4.0");
    assert.deepEqual(
      config.files.map((f: { path: string }) => f.path),
      ["pr-review/SKILL.md", "pr-review/references/checklist.md", "pr-review/skill.yaml"],
    );
    const digest = built.pushed![0]!.digest;
    assert.equal(digest, pkg.descriptor.digest);

    // the real oras-go client unpacks it to <out>/<name>/SKILL.md
    const out = join(root, "oras-out");
    await oras(["pull", ref, out]);
    assert.equal(await readFile(join(out, "pr-review", "SKILL.md"), "utf8"), SKILL_MD);
    assert.equal(
      await readFile(join(out, "pr-review", "references", "checklist.md"), "utf8"),
      "- tests\n- docs\n",
    );

    // an agent consumes it with SKILL oci://, pinned in its lock, packed as its skills/pr-review layer
    const agent = await testdir({ Agentfile: `AGENT app\nSKILL oci://${ref}\nAUDIT basic\n` });
    const consumer = await build({
      dir: agent,
      cacheDir: join(agent, ".cache"),
      config: { build: { tags: ["localhost/app:1"], output: join(agent, ".layout") } },
      registry: registry.clientOptions(),
    });
    assert.deepEqual(consumer.diagnostics, []);
    const lock = JSON.parse(await readFile(join(agent, "agentrc.lock"), "utf8"));
    assert.deepEqual(lock.skills, [{ name: "pr-review", source: `oci://${ref}`, digest }]);
    const agentConfig = JSON.parse(await readFile(consumer.compilation.package!.config.path, "utf8"));
    assert.deepEqual(
      agentConfig.files
        .filter((f: { layer: string }) => f.layer === "skills/pr-review")
        .map((f: { path: string }) => f.path),
      [
        "skills/pr-review/SKILL.md",
        "skills/pr-review/references/checklist.md",
        "skills/pr-review/skill.yaml",
      ],
    );

    // a modified skill in the cache is noticed on use and fetched again: the package does not change
    const cachedSkill = join(
      agent,
      ".cache",
      "oci-skills",
      digest.slice("sha256:".length),
      "tree",
      "pr-review",
      "SKILL.md",
    );
    assert.equal(await readFile(cachedSkill, "utf8"), SKILL_MD);
    await writeFile(cachedSkill, "---\nname: pr-review\ndescription: tampered\n---\n");
    const again = await build({
      dir: agent,
      cacheDir: join(agent, ".cache"),
      config: { build: { tags: ["localhost/app:1"], output: join(agent, ".layout2") } },
      registry: registry.clientOptions(),
    });
    assert.deepEqual(again.diagnostics, []);
    assert.equal(
      again.compilation.package!.descriptor.digest,
      consumer.compilation.package!.descriptor.digest,
    );
    assert.equal(await readFile(cachedSkill, "utf8"), SKILL_MD);

    // the registry holds exactly what was built
    const client = new RegistryClient(registry.host, registry.clientOptions());
    try {
      const m = await client.getManifest("skills/pr-review", "1");
      assert.equal(m.digest, digest);
    } finally {
      await client.close();
    }
  });

  test("lint checks SKILL.md's frontmatter and the SkillCard beside it", async () => {
    const noFrontmatter = await testdir({ "SKILL.md": "# A skill\n" });
    const r1 = await lint({ dir: noFrontmatter });
    assert.deepEqual(
      r1.diagnostics.map((d) => [d.code, d.message, d.location?.file, d.location?.line]),
      [
        [
          "SKILL_FRONTMATTER_INVALID",
          "SKILL.md has no YAML frontmatter (a first line `---`, then name and description)",
          "SKILL.md",
          1,
        ],
      ],
    );
    const badName = await testdir({ "SKILL.md": "---\nname: PR Review\n---\n" });
    const r2 = await lint({ dir: badName });
    assert.deepEqual(
      r2.diagnostics.map((d) => [d.code, d.message, d.location?.line]),
      [
        ["SKILL_FRONTMATTER_INVALID", "SKILL.md the frontmatter has no `description`", 1],
        [
          "SKILL_FRONTMATTER_INVALID",
          'SKILL.md name "PR Review" must be lowercase letters, digits and single hyphens, at most 64 characters',
          2,
        ],
      ],
    );
    const mismatch = await testdir({
      "SKILL.md": SKILL_MD,
      "skill.yaml": CARD.replace("name: pr-review", "name: other"),
    });
    const r3 = await lint({ dir: mismatch });
    assert.deepEqual(
      r3.diagnostics.map((d) => [d.code, d.message, d.location?.file, d.location?.line]),
      [
        [
          "SKILL_FRONTMATTER_INVALID",
          'skill.yaml metadata.name "other" differs from SKILL.md\'s name "pr-review"',
          "skill.yaml",
          4,
        ],
      ],
    );
    const fine = await testdir({ "SKILL.md": SKILL_MD });
    assert.deepEqual((await lint({ dir: fine })).diagnostics, []);
  });
});
