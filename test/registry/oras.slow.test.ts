import assert from "node:assert/strict";
import { readdirSync } from "node:fs";
import { lstat, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { AcmePolicyPlugin } from "../../examples/org-plugin/index.js";
import type { AgentrcPlugin, LintResult } from "../../src/index.js";
import {
  ANNOTATION_ORAS_UNPACK,
  ANNOTATION_TITLE,
  MEDIA_TYPE_AGENTFILE,
  MEDIA_TYPE_DATA_LAYER,
  MEDIA_TYPE_SKILL_LAYER,
} from "../../src/oci/mediaTypes.js";
import { createTarStream } from "../../src/oci/tar.js";
import { RegistryClient } from "../../src/registry/client.js";
import { agentConfigBytes, pushAgentPackage } from "../helpers/agentConfig.js";
import { readAll } from "../helpers/artifacts.js";
import { buildCopy, FIXTURES } from "../helpers/build.js";
import { runCli } from "../helpers/cli.js";
import { fileTree, sha256 } from "../helpers/fileTree.js";
import { oras } from "../helpers/orasClient.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { testdir } from "../helpers/testdir.js";

/** Every agent fixture that builds: fixtures/agents/* and fixtures/valid/*. */
const CASES = ["agents", "valid"].flatMap((group) =>
  readdirSync(join(FIXTURES, group), { withFileTypes: true })
    .filter((e) => e.isDirectory())
    .map((e) => `${group}/${e.name}`)
    .sort(),
);

/** fixtures/agents/reference is the repository's own agent: it needs the example organisation plugin (OWNER). */
const PLUGINS: Record<string, AgentrcPlugin[]> = {
  "agents/reference": [new AcmePolicyPlugin({ requiredAudit: ["compliance"] })],
};

/**
 * Where each packaged file must land after an unpack: single-file layers (Agentfile, agentrc.lock, the policy) at
 * their title, with the bytes packed; every directory-layer entry at its path in the layer, with its source file's
 * bytes (read from the built source tree, not from the package).
 */
async function expectedTree(result: LintResult): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const layer of result.compilation.layerPlan) {
    if (layer.kind === "blob") out[layer.title] = sha256(layer.bytes);
    else for (const e of layer.entries) out[e.path] = sha256(await readFile(e.sourcePath));
  }
  return out;
}

describe("oras pull (oras-go v1 file store) unpacks every layer of every fixture package", () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry({ mode: "open" });
  });
  after(() => registry?.stop());

  for (const fixture of CASES) {
    test(fixture, async () => {
      const ref = `${registry.host}/oras/${fixture.replace(/[^a-z0-9]+/g, "-")}:1`;
      const { result } = await buildCopy(fixture, {
        run: {
          push: { references: [ref] },
          registry: registry.clientOptions(),
          plugins: PLUGINS[fixture] ?? [],
        },
      });
      const errors = result.diagnostics.filter((d) => d.severity === "error");
      assert.deepEqual(errors, [], JSON.stringify(errors, null, 2));
      const digest = result.pushed?.[0]?.digest;
      assert.ok(digest, "the package was pushed");
      const expected = await expectedTree(result);
      assert.ok(Object.keys(expected).includes("Agentfile"));

      const work = await testdir();
      const orasOut = join(work, "oras");
      assert.equal(await oras(["pull", ref, orasOut]), digest);
      assert.deepEqual(await fileTree(orasOut), expected);

      // agentrc pull -o writes the same tree.
      const env = { PATH: process.env.PATH, HOME: work, AGENTRC_STORE: join(work, "store") };
      const pulledOut = join(work, "agentrc");
      const pulled = await runCli(["pull", ref, "-o", pulledOut, "--plain-http", "--json"], { env });
      assert.equal(pulled.code, 0, pulled.stderr);
      assert.deepEqual(await fileTree(pulledOut), expected);
      assert.ok((await lstat(join(pulledOut, "Agentfile"))).isFile());
    });
  }
});

/** Pushes an agent package whose layers are an Agentfile and one directory layer holding `files` (no tar root). */
async function pushHandMade(
  registry: TestRegistry,
  repo: string,
  layer: { mediaType: string; title?: string; files: string[] },
): Promise<string> {
  const client = new RegistryClient(registry.host, registry.clientOptions());
  try {
    const tar = await readAll(
      createTarStream(
        layer.files.map((path) => ({ path, kind: "file" as const, content: Buffer.from(`${path}\n`) })),
        { epoch: 0 },
      ),
    );
    // A truthful file index, so that pull's file-index check passes and the layer rules are what is tested.
    const config = agentConfigBytes([
      { path: "Agentfile", content: "AGENT hand-made\n", layer: "Agentfile" },
      ...layer.files.map((path) => ({ path, content: `${path}\n`, layer: layer.title ?? "" })),
    ]);
    await pushAgentPackage(client, repo, "1", config, [
      {
        mediaType: MEDIA_TYPE_AGENTFILE,
        bytes: Buffer.from("AGENT hand-made\n"),
        annotations: { [ANNOTATION_TITLE]: "Agentfile" },
      },
      {
        mediaType: layer.mediaType,
        bytes: gzipSync(tar),
        annotations: {
          ...(layer.title === undefined ? {} : { [ANNOTATION_TITLE]: layer.title }),
          [ANNOTATION_ORAS_UNPACK]: "true",
        },
      },
    ]);
    return `${registry.host}/${repo}:1`;
  } finally {
    await client.close();
  }
}

describe("agentrc pull -o and oras agree on directory layers made elsewhere", () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry({ mode: "open" });
  });
  after(() => registry?.stop());

  test("a file outside its layer's title: oras refuses it, and so does agentrc pull -o (nothing left)", async () => {
    const ref = await pushHandMade(registry, "foreign/outside", {
      mediaType: MEDIA_TYPE_DATA_LAYER,
      title: "data",
      files: ["data/ok.txt", "docs/a.md"],
    });
    const work = await testdir();
    await assert.rejects(oras(["pull", ref, join(work, "oras")]), /"docs\/" is outside of "data"/);
    const env = { PATH: process.env.PATH, HOME: work, AGENTRC_STORE: join(work, "store") };
    const out = join(work, "agentrc");
    const r = await runCli(["pull", ref, "-o", out, "--plain-http", "--json"], { env });
    assert.equal(r.code, 1, r.stderr);
    const error = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, "OCI_TAR_PATH_OUTSIDE_ROOT");
    assert.match(
      error.message,
      /layer 1 \(data\): "docs\/" is not below the layer's title "data" \(oras pull refuses it too\)/,
    );
    await assert.rejects(lstat(out), { code: "ENOENT" });
  });

  test("a directory layer without a title cannot be unpacked by pull -o", async () => {
    const ref = await pushHandMade(registry, "foreign/untitled", {
      mediaType: MEDIA_TYPE_DATA_LAYER,
      files: ["data/ok.txt"],
    });
    const work = await testdir();
    const env = { PATH: process.env.PATH, HOME: work, AGENTRC_STORE: join(work, "store") };
    const r = await runCli(["pull", ref, "-o", join(work, "agentrc"), "--plain-http", "--json"], { env });
    assert.equal(r.code, 1, r.stderr);
    const error = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, "OCI_TAR_PATH_OUTSIDE_ROOT");
    assert.match(
      error.message,
      /^layer 1 \(untitled\): a directory layer needs a usable org\.opencontainers\.image\.title/,
    );
  });

  test("a skill layer from agentrc.package/v1 (a skills/ entry above its title) still unpacks with pull -o", async () => {
    const ref = await pushHandMade(registry, "foreign/v1-skill", {
      mediaType: MEDIA_TYPE_SKILL_LAYER,
      title: "skills/old",
      files: ["skills/old/SKILL.md"],
    });
    const work = await testdir();
    await assert.rejects(oras(["pull", ref, join(work, "oras")]), /"skills\/" is outside of "skills\/old"/);
    const env = { PATH: process.env.PATH, HOME: work, AGENTRC_STORE: join(work, "store") };
    const out = join(work, "agentrc");
    const r = await runCli(["pull", ref, "-o", out, "--plain-http", "--json"], { env });
    assert.equal(r.code, 0, r.stdout + r.stderr);
    assert.deepEqual(await fileTree(out), {
      Agentfile: sha256(Buffer.from("AGENT hand-made\n")),
      "skills/old/SKILL.md": sha256(Buffer.from("skills/old/SKILL.md\n")),
    });
  });
});
