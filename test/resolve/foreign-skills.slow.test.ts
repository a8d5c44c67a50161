import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { gzipSync } from "node:zlib";
import { build, type LintResult } from "../../src/index.js";
import { createTarStream, type TarEntry } from "../../src/oci/tar.js";
import { bytesBlob } from "../../src/registry/blobs.js";
import { RegistryClient } from "../../src/registry/client.js";
import { MEDIA_TYPES } from "../../src/registry/manifests.js";
import { imageOfLayers, readAll, tinyTar, writeLayout } from "../helpers/artifacts.js";
import { oras } from "../helpers/orasClient.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { testdir } from "../helpers/testdir.js";

const run = promisify(execFile);

/** Skills that other tools made: a directory pushed by oras, and a plain image whose root is the skill. */

async function put(dir: string, files: Record<string, string>): Promise<void> {
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(join(dir, rel, ".."), { recursive: true });
    await writeFile(join(dir, rel), text);
  }
}

/** Builds an agent whose only skill is `SKILL oci://<ref>` (own cache, own layout). */
async function buildWithSkill(ref: string): Promise<LintResult> {
  const root = await testdir();
  const dir = join(root, "agent");
  await put(dir, { Agentfile: `AGENT app\nSKILL oci://${ref}\nAUDIT basic\n` });
  return build({
    dir,
    cacheDir: join(root, "cache"),
    config: { build: { tags: ["localhost/app:1"], output: join(root, "layout") } },
  });
}

/** The files the build selected for skill `name` (package path → text). */
async function skillFiles(result: LintResult, name: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const f of result.compilation.files.get(`skill:${name}`)?.values() ?? []) {
    out[f.path] = await readFile(f.source, "utf8");
  }
  return out;
}

const errors = (r: LintResult) => r.diagnostics.filter((d) => d.severity === "error");
const ok = (r: LintResult) => assert.deepEqual(errors(r), [], JSON.stringify(r.diagnostics, null, 2));

async function tarOf(files: Record<string, string>): Promise<Buffer> {
  const entries: TarEntry[] = Object.entries(files).map(([path, text]) => ({
    path,
    kind: "file",
    content: Buffer.from(text),
  }));
  return readAll(createTarStream(entries, { epoch: 0 }));
}

/** Writes a plain image of `layers` as an OCI layout and copies it to `ref` with skopeo. */
async function pushPlainImage(ref: string, layers: Array<Record<string, string>>): Promise<string> {
  const image = imageOfLayers(await Promise.all(layers.map(tarOf)));
  const layout = join(await testdir(), "layout");
  const digest = await writeLayout(layout, [image.config, ...image.layers], image.manifest, "1");
  const env = { ...process.env, REGISTRY_AUTH_FILE: join(tmpdir(), "agentrc-nonexistent-auth.json") };
  await run("skopeo", ["copy", "--dest-tls-verify=false", `oci:${layout}:1`, `docker://${ref}`], {
    env,
  }).catch((err) => {
    throw new Error(`skopeo copy failed: ${err.stderr ?? err.message}`);
  });
  return digest;
}

const SKILL = {
  "SKILL.md": "---\nname: translate\ndescription: Translate text.\n---\n# Translate\n",
  "prompts/short.txt": "Be brief.\n",
};
const PACKAGED = {
  "skills/translate/SKILL.md": SKILL["SKILL.md"],
  "skills/translate/prompts/short.txt": SKILL["prompts/short.txt"],
};

describe("SKILL oci:// accepts skills that other tools made", () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry({ mode: "open" });
  });
  after(() => registry?.stop());

  for (const title of ["translate", "translate-skill"]) {
    test(`a directory pushed by oras (oras-go v1 file store), titled ${title}`, async () => {
      const src = join(await testdir(), title);
      await put(src, SKILL);
      const ref = `${registry.host}/oras-${title}/translate:1`;
      const digest = await oras(["push-dir", ref, src, title]);
      const r = await buildWithSkill(ref);
      ok(r);
      assert.deepEqual(await skillFiles(r, "translate"), PACKAGED);
      assert.equal(r.compilation.resolvedLock?.skills?.[0]?.digest, digest);
    });
  }

  test("a plain OCI image whose root holds SKILL.md (FROM scratch style), pushed with skopeo", async () => {
    const ref = `${registry.host}/images/translate:1`;
    const digest = await pushPlainImage(ref, [SKILL]);
    const r = await buildWithSkill(ref);
    ok(r);
    assert.deepEqual(await skillFiles(r, "translate"), PACKAGED);
    assert.equal(r.compilation.resolvedLock?.skills?.[0]?.digest, digest);
  });

  test("a plain image of several layers provides their union", async () => {
    const ref = `${registry.host}/layered/translate:1`;
    await pushPlainImage(ref, [
      { "SKILL.md": SKILL["SKILL.md"] },
      { "prompts/short.txt": SKILL["prompts/short.txt"] },
    ]);
    const r = await buildWithSkill(ref);
    ok(r);
    assert.deepEqual(await skillFiles(r, "translate"), PACKAGED);
  });

  test("a plain image whose layers provide one file twice, or delete one (whiteout), is refused", async () => {
    const twice = `${registry.host}/twice/translate:1`;
    await pushPlainImage(twice, [SKILL, { "SKILL.md": "# other\n" }]);
    const a = await buildWithSkill(twice);
    assert.deepEqual(
      errors(a).map((d) => d.code),
      ["SKILL_RESOLVE_FAILED"],
    );
    assert.match(errors(a)[0]!.message, /"SKILL\.md" is provided by more than one layer/);

    const whiteout = `${registry.host}/whiteout/translate:1`;
    await pushPlainImage(whiteout, [SKILL, { "prompts/.wh.short.txt": "" }]);
    const b = await buildWithSkill(whiteout);
    assert.deepEqual(
      errors(b).map((d) => d.code),
      ["SKILL_RESOLVE_FAILED"],
    );
    assert.match(errors(b)[0]!.message, /whiteout "prompts\/\.wh\.short\.txt"/);
  });

  test("an oras-style layer whose title climbs out is SKILL_RESOLVE_FAILED", async () => {
    const layer = gzipSync(tinyTar("../evil/SKILL.md", "# Evil\n"));
    const config = Buffer.from("{}");
    const client = new RegistryClient(registry.host, registry.clientOptions());
    try {
      const [c, l] = [bytesBlob(config), bytesBlob(layer)];
      await client.pushBlob("climb/translate", c);
      await client.pushBlob("climb/translate", l);
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: MEDIA_TYPES.ociManifest,
          config: { mediaType: "application/vnd.unknown.config.v1+json", digest: c.digest, size: c.size },
          layers: [
            {
              mediaType: "application/vnd.oci.image.layer.v1.tar+gzip",
              digest: l.digest,
              size: l.size,
              annotations: {
                "org.opencontainers.image.title": "../evil",
                "io.deis.oras.content.unpack": "true",
              },
            },
          ],
        }),
      );
      await client.putManifest("climb/translate", "1", manifest, MEDIA_TYPES.ociManifest);
    } finally {
      await client.close();
    }
    const r = await buildWithSkill(`${registry.host}/climb/translate:1`);
    assert.deepEqual(
      errors(r).map((d) => d.code),
      ["SKILL_RESOLVE_FAILED"],
    );
    assert.match(
      errors(r)[0]!.message,
      /the directory layer's title is unusable: Layer path "\.\.\/evil" contains "\.\."/,
    );
  });

  test("a plain image without SKILL.md at its root is SKILL_MD_MISSING", async () => {
    const ref = `${registry.host}/nested/translate:1`;
    await pushPlainImage(ref, [{ "translate/SKILL.md": "# nested\n" }]);
    const r = await buildWithSkill(ref);
    assert.deepEqual(
      errors(r).map((d) => [d.code, d.location?.line, d.location?.column]),
      [["SKILL_MD_MISSING", 2, 7]],
    );
    assert.match(errors(r)[0]!.message, /the skill layer has no SKILL\.md/);
  });
});
