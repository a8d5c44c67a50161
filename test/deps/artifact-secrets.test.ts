import assert from "node:assert/strict";
import { readdir, stat } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { runCli } from "../helpers/cli.js";
import { testdir } from "../helpers/testdir.js";

const SKILL_MD = "---\nname: leaky\ndescription: A skill whose notes hold a token.\n---\n\n# Leaky\n";
const TOKEN = `ghp_${"a1B2".repeat(9)}`;

/** Skill and toolset packages get the same secret scan as agents: lint reports it, build writes nothing. */
describe("secrets in skill and toolset packages", () => {
  const cases = [
    {
      kind: "skill",
      files: { "SKILL.md": SKILL_MD, "references/notes.md": `use GITHUB_TOKEN=${TOKEN} here\n` },
      file: "references/notes.md",
    },
    {
      kind: "toolset",
      files: {
        "toolset.json": JSON.stringify({ name: "leaky-tools", tools: [{ ref: "utcp:echo" }] }),
        ".env": "API_KEY=abc123def456\n",
      },
      file: ".env",
    },
  ];
  for (const c of cases) {
    test(`a ${c.kind} package with a secret: lint and build report SECRET_IN_FILE at the file`, async () => {
      const dir = await testdir(c.files);
      const out = await testdir();
      const env = { AGENTRC_CACHE: join(out, "cache"), AGENTRC_STORE: join(out, "store") };
      const lint = await runCli(["lint", dir, "--json"], { env });
      assert.equal(lint.code, 1, lint.stderr);
      const diagnostics = (
        JSON.parse(lint.stdout) as {
          diagnostics: Array<{ code: string; message: string; location?: { file: string } }>;
        }
      ).diagnostics;
      const secret = diagnostics.find((d) => d.code === "SECRET_IN_FILE");
      assert.ok(secret, JSON.stringify(diagnostics));
      assert.equal(secret.location?.file, c.file);
      assert.ok(!secret.message.includes(TOKEN), "the value is never printed");

      const built = await runCli(["build", dir, "-t", "localhost/leaky:1", "--json"], { env });
      assert.equal(built.code, 1, built.stderr);
      assert.match(built.stdout, /SECRET_IN_FILE/);
      // Nothing reached the store: no tag, no blob.
      const store = await stat(join(out, "store")).then(
        () => readdir(join(out, "store", "blobs", "sha256")).catch(() => []),
        () => [],
      );
      assert.deepEqual(store, []);
    });
  }
});
