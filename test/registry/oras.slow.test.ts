import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdirSync } from "node:fs";
import { lstat, readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { AcmePolicyPlugin } from "../../examples/org-plugin/index.js";
import type { AgentrcPlugin, LintResult } from "../../src/index.js";
import { buildCopy, FIXTURES } from "../helpers/build.js";
import { runCli } from "../helpers/cli.js";
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

const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");

/** Every regular file below `dir` (path → sha256 of its bytes); anything else fails the test. */
async function tree(
  dir: string,
  rel = "",
  out: Record<string, string> = {},
): Promise<Record<string, string>> {
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const path = rel === "" ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) await tree(dir, path, out);
    else if (e.isFile()) out[path] = sha(await readFile(join(dir, path)));
    else assert.fail(`${path} in ${dir} is neither a file nor a directory`);
  }
  return out;
}

/**
 * Where each packaged file must land after an unpack: single-file layers (Agentfile, agentrc.lock, the policy) at
 * their title, with the bytes packed; every directory-layer entry at its path in the layer, with its source file's
 * bytes (read from the built source tree, not from the package).
 */
async function expectedTree(result: LintResult): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const layer of result.compilation.layerPlan) {
    if (layer.kind === "blob") out[layer.title] = sha(layer.bytes);
    else for (const e of layer.entries) out[e.path] = sha(await readFile(e.sourcePath));
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
          push: { references: [ref], registry: registry.clientOptions() },
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
      assert.deepEqual(await tree(orasOut), expected);

      // agentrc pull -o writes the same tree.
      const env = { PATH: process.env.PATH, HOME: work, AGENTRC_STORE: join(work, "store") };
      const pulledOut = join(work, "agentrc");
      const pulled = await runCli(["pull", ref, "-o", pulledOut, "--plain-http", "--json"], { env });
      assert.equal(pulled.code, 0, pulled.stderr);
      assert.deepEqual(await tree(pulledOut), expected);
      assert.ok((await lstat(join(pulledOut, "Agentfile"))).isFile());
    });
  }
});
