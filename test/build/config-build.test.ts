import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { build } from "../../src/index.js";
import { FIXTURES } from "../helpers/build.js";
import { BIN, runCli } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { testdir } from "../helpers/testdir.js";

const repo = fileURLToPath(new URL("../../", import.meta.url));

describe("config-file driven builds", () => {
  it("agentrc.config.ts brings plugins, annotations and tags; the org plugin adds a directive and an annotation", async () => {
    const base = await testdir();
    const dir = join(base, "agent");
    await copyTree(join(FIXTURES, "agents/reference"), dir);
    await writeFile(
      join(dir, "agentrc.config.ts"),
      `import { AcmePolicyPlugin } from ${JSON.stringify(join(repo, "examples/org-plugin/index.ts"))};
export default {
  plugins: [new AcmePolicyPlugin({ requiredAudit: ["compliance"] })],
  build: { tags: ["localhost/reference:dev", "localhost/reference:latest"], annotations: { "org.opencontainers.image.vendor": "ACME", "io.agentrc.agent.name": "spoofed" } },
};
`,
    );
    const store = join(base, "store");
    const r = await build({ dir, cacheDir: join(base, "cache"), config: { build: { store } } });
    assert.deepEqual(r.diagnostics, []);
    const annotations = r.compilation.package!.manifest.annotations!;
    assert.equal(annotations["com.acme.owner"], "team-platform");
    assert.equal(annotations["org.opencontainers.image.vendor"], "ACME");
    assert.equal(
      annotations["io.agentrc.agent.name"],
      "reference",
      "derived io.agentrc.* facts cannot be overridden",
    );
    assert.deepEqual(r.compilation.emitted?.tags, ["localhost/reference:dev", "localhost/reference:latest"]);
  });

  it("the compliance gate fails the build with its own diagnostic and nothing is emitted", async () => {
    const base = await testdir();
    const dir = join(base, "agent");
    await copyTree(join(FIXTURES, "agents/reference"), dir);
    await writeFile(
      join(dir, "Agentfile"),
      (await readFile(join(dir, "Agentfile"), "utf8")).replace("AUDIT compliance", "AUDIT basic"),
    );
    const { AcmePolicyPlugin } = await import("../../examples/org-plugin/index.js");
    const r = await build({
      dir,
      cacheDir: join(base, "cache"),
      plugins: [new AcmePolicyPlugin({ requiredAudit: ["compliance"] })],
      config: { build: { tags: ["localhost/x:1"], store: join(base, "store") } },
    });
    assert.deepEqual(
      r.diagnostics.map((d) => [d.code, d.plugin]),
      [["ACME_AUDIT_LEVEL", "acme-policy"]],
    );
    assert.equal(r.compilation.package, undefined);
    assert.equal(r.compilation.emitted, undefined);
  });

  it("the repository's own agentrc.config.ts builds the reference agent (frozen lockfile)", async () => {
    const base = await testdir();
    const r = spawnSync(
      process.execPath,
      [BIN, "build", repo, "--frozen-lockfile", "--output", join(base, "out"), "--json"],
      {
        encoding: "utf8",
        env: { ...process.env, AGENTRC_CACHE: join(base, "cache") },
      },
    );
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const out = JSON.parse(r.stdout);
    assert.equal(out.annotations["com.acme.owner"], "team-platform");
    assert.deepEqual(out.output.tags, ["dev"]);
  });
});

describe("agentrc build / list / tag / inspect", () => {
  it("prints the digest on stdout, progress lines on stderr, and --json with layers and timings", async () => {
    const base = await testdir();
    await copyTree(join(FIXTURES, "agents/full"), join(base, "agent"));
    const env = { AGENTRC_STORE: join(base, "store"), AGENTRC_CACHE: join(base, "cache") };
    const plain = spawnSync(
      process.execPath,
      [BIN, "build", join(base, "agent"), "-t", "localhost/full:1.0", "--no-color"],
      {
        encoding: "utf8",
        env: { ...process.env, ...env },
      },
    );
    assert.equal(plain.status, 0, plain.stderr);
    assert.match(plain.stdout, /^sha256:[a-f0-9]{64}\n$/);
    assert.match(plain.stderr, /packed skills\/summarize \d+ B\n/);
    assert.match(
      plain.stderr,
      /✔ built full-agent \(8 layers, [\d.]+ KiB\) into local store\n {2}tagged localhost\/full:1\.0/,
    );
    const json = spawnSync(
      process.execPath,
      [BIN, "build", join(base, "agent"), "-t", "localhost/full:1.0", "--json"],
      {
        encoding: "utf8",
        env: { ...process.env, ...env },
      },
    );
    assert.equal(json.status, 0);
    assert.equal(json.stderr, "", "--json keeps stderr quiet");
    const out = JSON.parse(json.stdout);
    assert.equal(`${out.digest}\n`, plain.stdout);
    assert.deepEqual(
      out.layers.map((l: { title: string }) => l.title),
      [
        "Agentfile",
        "agentrc.lock",
        "policy/agent.cedar",
        "src",
        "tools",
        "skills/review",
        "skills/summarize",
        "data",
      ],
    );
    assert.ok(
      out.layers.filter((l: { cached: boolean; title: string }) => l.title === "data")[0].cached,
      "warm rebuild reuses layers",
    );
    for (const phase of ["parse", "resolve", "selectFiles", "check", "lock", "pack"])
      assert.equal(typeof out.timings[phase], "number");

    const list = await runCli(["list", "--json"], { env });
    assert.deepEqual(
      JSON.parse(list.stdout).packages.map((p: { ref: string }) => p.ref),
      ["localhost/full:1.0"],
    );
    assert.equal((await runCli(["tag", "localhost/full:1.0", "localhost/full:stable"], { env })).code, 0);
    const inspect = await runCli(["inspect", "localhost/full:stable", "--json"], { env });
    assert.equal(inspect.code, 0, inspect.stderr);
    const view = JSON.parse(inspect.stdout);
    assert.equal(view.descriptor.digest, out.digest);
    assert.equal(view.summary.name, "full-agent");
    assert.deepEqual(view.summary.tools, ["utcp:file_read", "local:lint"]);
    assert.equal(view.summary.riskTier, "medium");
    assert.ok(
      view.config.files.some(
        (f: { path: string; layer: string }) => f.path === "tools/lint.sh" && f.layer === "tools",
      ),
    );
    const human = await runCli(["inspect", "localhost/full:stable"], { env });
    assert.match(human.stdout, /skills\/summarize +\d+ B {2}sha256:/);
    const missing = await runCli(["inspect", "localhost/nope:1", "--no-color"], { env });
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /OCI_REF_NOT_FOUND/);
  });
});

describe("untagged builds", () => {
  it("stay listed as <none> and reachable by digest until tagged; list shows the whole package size", async () => {
    const base = await testdir();
    await copyTree(join(FIXTURES, "valid/minimal"), join(base, "agent"));
    const env = { AGENTRC_STORE: join(base, "store"), AGENTRC_CACHE: join(base, "cache") };
    const built = spawnSync(process.execPath, [BIN, "build", join(base, "agent"), "--quiet"], {
      encoding: "utf8",
      env: { ...process.env, ...env },
    });
    assert.equal(built.status, 0, built.stderr);
    const digest = built.stdout.trim();
    const listed = JSON.parse((await runCli(["list", "--json"], { env })).stdout).packages;
    assert.equal(listed.length, 1);
    assert.equal(listed[0].ref, null);
    assert.equal(listed[0].digest, digest);
    const inspect = JSON.parse((await runCli(["inspect", digest, "--json"], { env })).stdout);
    const total = [inspect.manifest.config, ...inspect.manifest.layers].reduce(
      (n: number, d: { size: number }) => n + d.size,
      inspect.descriptor.size,
    );
    assert.equal(listed[0].size, total);
    assert.match(
      (await runCli(["list"], { env })).stdout,
      /^<none> +sha256:[a-f0-9]{12} +N\/A +[\d.]+ KiB$/m,
    );
    assert.equal((await runCli(["tag", digest, "localhost/minimal:1"], { env })).code, 0);
    const after = JSON.parse((await runCli(["list", "--json"], { env })).stdout).packages;
    assert.deepEqual(
      after.map((p: { ref: string | null }) => p.ref),
      ["localhost/minimal:1"],
    );
  });
});
