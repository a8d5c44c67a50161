import assert from "node:assert/strict";
import { readdir, writeFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { build } from "../../src/index.js";
import { openedFiles, straceBin } from "../helpers/strace.js";
import { testdir } from "../helpers/testdir.js";

const AGENTFILE =
  "AGENT one-read\nAUDIT basic\nTOOL local:fmt tools/fmt.sh\nALLOW invoke local:fmt\nINGEST docs/**\n";

function tree(extra: Record<string, string> = {}): Record<string, string> {
  const files: Record<string, string> = {
    Agentfile: AGENTFILE,
    "tools/fmt.sh": "#!/bin/sh\necho fmt\n",
  };
  for (let i = 0; i < 12; i++)
    files[`docs/guide-${i}.md`] = `# Guide ${i}\n${"words and more words\n".repeat(4000 + i)}`;
  return { ...files, ...extra };
}

/** Every file under `dir`, relative to it. */
async function listFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true }).catch(() => []);
  return entries.filter((e) => e.isFile()).map((e) => relative(dir, join(e.parentPath, e.name)));
}

describe("one read per file", () => {
  it("a cold build opens each selected file once: digest, secret scan and packer share the read", async () => {
    const agent = await testdir(tree());
    const base = await testdir();
    const env = { ...process.env, AGENTRC_CACHE: join(base, "cache"), AGENTRC_STORE: join(base, "store") };
    const { run: r, lines } = await straceBin(["build", agent, "--json"], {
      syscalls: "openat,open",
      traceFile: join(base, "trace"),
      env,
      successfulOnly: true,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.deepEqual(JSON.parse(r.stdout).diagnostics, []);
    const opens = new Map<string, number>();
    for (const file of openedFiles(lines)) {
      if (file.flags.includes("O_DIRECTORY") || !file.path.startsWith(`${agent}/`)) continue;
      const path = relative(agent, file.path);
      opens.set(path, (opens.get(path) ?? 0) + 1);
    }
    const selected = [...opens].filter(([p]) => p.startsWith("docs/") || p.startsWith("tools/"));
    assert.equal(selected.length, 13, [...opens.keys()].join(", "));
    assert.deepEqual(
      selected.filter(([, n]) => n !== 1),
      [],
      "every selected file is opened exactly once",
    );
  });

  it("a secret found in the shared read fails the build and leaves no blob, temp file or package behind", async () => {
    const agent = await testdir(
      tree({
        "docs/guide-7.md": `# Guide\n${"text\n".repeat(50_000)}GITHUB_TOKEN=ghp_${"a1B2".repeat(9)}\n`,
      }),
    );
    const base = await testdir();
    const cacheDir = join(base, "cache");
    const result = await build({
      dir: agent,
      cacheDir,
      config: { build: { tags: ["x:1"], output: join(base, "out") } },
    });
    const secrets = result.diagnostics.filter((d) => d.code === "SECRET_IN_FILE");
    assert.deepEqual(
      secrets.map((d) => `${d.severity} ${d.location?.file}:${d.location?.line}`),
      ["error docs/guide-7.md:50002"],
    );
    assert.match(secrets[0]!.message, /GitHub token|GITHUB_TOKEN/);
    assert.equal(result.compilation.package, undefined);
    assert.deepEqual(
      await listFiles(join(cacheDir, "blobs", "blobs")),
      [],
      "no blob or temp file in the cache",
    );
    assert.deepEqual(await listFiles(join(base, "out")), [], "no output");

    // The same cache directory fills up once the secret is gone (the paths above are the right ones).
    await writeFile(join(agent, "docs/guide-7.md"), "# Guide\nno secret here\n");
    const clean = await build({
      dir: agent,
      cacheDir,
      config: { build: { tags: ["x:1"], output: join(base, "out") } },
    });
    assert.deepEqual(clean.diagnostics, []);
    assert.ok((await listFiles(join(cacheDir, "blobs", "blobs"))).length >= 4);
    assert.ok((await listFiles(join(base, "out"))).length >= 4);
  });
});
