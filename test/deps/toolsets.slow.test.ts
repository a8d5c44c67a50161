import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { build, type LintResult, lint, lock } from "../../src/index.js";
import { ARTIFACT_TYPE_TOOLSET, MEDIA_TYPE_TOOLSET_CONFIG } from "../../src/oci/mediaTypes.js";
import { openPackage } from "../../src/package/open.js";
import { generateKeyPair } from "../../src/trust/keys.js";
import { freePort, startRegistry, type TestRegistry } from "../helpers/registry.js";
import { testdir } from "../helpers/testdir.js";

const errors = (r: LintResult) => r.diagnostics.filter((d) => d.severity === "error");
const ok = (r: LintResult) => assert.deepEqual(errors(r), [], JSON.stringify(r.diagnostics, null, 2));
const sha = (text: string) => `sha256:${createHash("sha256").update(text).digest("hex")}`;
const OPTS = { plainHttp: true, env: {}, proxy: false } as const;

const OPENAI_SPEC = JSON.stringify({
  type: "function",
  function: { name: "search", description: "Searches issues.", parameters: { type: "object" } },
});
const MCP_SPEC = JSON.stringify({
  name: "get_issue",
  description: "Reads one issue.",
  inputSchema: { type: "object" },
});
const MANIFEST = JSON.stringify({
  name: "github-readonly",
  version: "1.0.0",
  tools: [
    { ref: "mcp:github.get_issue", spec: "specs/get_issue.json" },
    { ref: "mcp:github.search", spec: "specs/search.json" },
    { ref: "utcp:echo" },
  ],
});

describe("TOOLSET: a toolset package pushed, resolved and pinned", () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry({ mode: "open" });
  });
  after(() => registry?.stop());

  test("agentrc build of a toolset directory, TOOLSET oci:// in an agent, the tools and digests in agentrc.lock", async () => {
    const root = await testdir({
      "ts/toolset.json": MANIFEST,
      "ts/specs/get_issue.json": MCP_SPEC,
      "ts/specs/search.json": OPENAI_SPEC,
    });
    const ref = `${registry.host}/toolsets/github:1`;
    const pushed = await build({
      dir: join(root, "ts"),
      cacheDir: join(root, "cache"),
      config: { build: { tags: [ref], output: join(root, "ts-layout") } },
      push: { references: [ref] },
      registry: OPTS,
    });
    ok(pushed);
    const pkg = pushed.compilation.package!;
    assert.equal(pkg.manifest.artifactType, ARTIFACT_TYPE_TOOLSET);
    assert.equal(pkg.manifest.config.mediaType, MEDIA_TYPE_TOOLSET_CONFIG);
    assert.deepEqual(
      pkg.manifest.layers.map((l) => l.annotations?.["org.opencontainers.image.title"]),
      ["github-readonly"],
    );
    const digest = pushed.pushed![0]!.digest;

    const agent = await testdir({ Agentfile: `AGENT app\nTOOLSET oci://${ref}\nAUDIT basic\n` });
    const locked = await lock({ dir: agent, cacheDir: join(root, "cache-agent"), registry: OPTS });
    ok(locked);
    const file = JSON.parse(await readFile(join(agent, "agentrc.lock"), "utf8"));
    const expectedTools = [
      { name: "mcp:github.get_issue", digest: sha(MCP_SPEC) },
      { name: "mcp:github.search", digest: sha(OPENAI_SPEC) },
      { name: "utcp:echo", digest: sha(JSON.stringify({ ref: "utcp:echo" })) },
    ];
    assert.deepEqual(file.toolsets, {
      [`oci://${ref}`]: { source: `oci://${ref}`, digest, tools: expectedTools },
    });

    // the agent's package lists the tools, normalised, with their origin
    const out = join(agent, ".layout");
    ok(
      await build({
        dir: agent,
        cacheDir: join(root, "cache-agent"),
        config: { build: { output: out } },
        registry: OPTS,
      }),
    );
    const opened = await openPackage(out, {});
    try {
      assert.deepEqual(
        opened.config.tools?.map((t) => [t.ref, t.specFormat ?? null, t.origin]),
        [
          ["mcp:github.get_issue", "mcp", `TOOLSET oci://${ref}`],
          ["mcp:github.search", "openai", `TOOLSET oci://${ref}`],
          ["utcp:echo", null, `TOOLSET oci://${ref}`],
        ],
      );
    } finally {
      await opened.close();
    }

    // pinned: a re-pushed toolset does not move the build, and --frozen-lockfile passes
    const root2 = await testdir({
      "toolset.json": JSON.stringify({ name: "github-readonly", tools: [{ ref: "utcp:other" }] }),
    });
    ok(
      await build({
        dir: root2,
        cacheDir: join(root, "cache"),
        config: { build: { tags: [ref], output: join(root2, ".l") } },
        push: { references: [ref] },
        registry: OPTS,
      }),
    );
    ok(
      await lock({
        dir: agent,
        cacheDir: join(root, "cache-agent"),
        registry: OPTS,
        config: { build: { frozenLockfile: true } },
      }),
    );
    assert.equal(
      JSON.parse(await readFile(join(agent, "agentrc.lock"), "utf8")).toolsets[`oci://${ref}`].digest,
      digest,
    );

    // a reference that is no toolset package is an error at lock time
    const wrong = await testdir({
      Agentfile: `AGENT app\nTOOLSET oci://${registry.host}/toolsets/none:1\nAUDIT basic\n`,
    });
    const r = await lock({ dir: wrong, cacheDir: join(root, "cache-agent"), registry: OPTS });
    assert.deepEqual(
      errors(r).map((d) => [d.code, d.location?.line, d.location?.column]),
      [["TOOLSET_RESOLVE_FAILED", 2, 9]],
    );
    assert.match(errors(r)[0]!.message, /^TOOLSET oci:\/\/127\.0\.0\.1:\d+\/toolsets\/none:1: /);
  });

  test("a local toolset file is read at lint time; an unknown or malformed one is an error there", async () => {
    const dir = await testdir({
      Agentfile: "AGENT app\nTOOLSET github\nTOOLSET ./vendor/tools\nAUDIT basic\n",
      "toolsets/github.json": JSON.stringify({
        name: "github",
        tools: [{ ref: "mcp:github.get_issue", spec: "get_issue.json" }],
      }),
      "toolsets/get_issue.json": MCP_SPEC,
      "vendor/tools/toolset.json": JSON.stringify({ name: "vendor", tools: [{ ref: "utcp:lint" }] }),
    });
    ok(await lint({ dir }));
    ok(await lock({ dir }));
    const file = JSON.parse(await readFile(join(dir, "agentrc.lock"), "utf8"));
    assert.deepEqual(Object.keys(file.toolsets), ["./vendor/tools", "github"]);
    assert.equal(file.toolsets.github.source, "name:github");
    assert.deepEqual(file.toolsets.github.tools, [{ name: "mcp:github.get_issue", digest: sha(MCP_SPEC) }]);

    // a toolset holding a high-risk tool makes the agent high risk
    const risky = await testdir({
      Agentfile: "AGENT app\nTOOLSET ops\nAUDIT basic\n",
      "toolsets/ops.json": JSON.stringify({ name: "ops", tools: [{ ref: "utcp:shell" }] }),
    });
    const riskyBuild = await build({
      dir: risky,
      cacheDir: join(risky, ".c"),
      config: { build: { output: join(risky, ".l") } },
    });
    ok(riskyBuild);
    assert.equal(riskyBuild.compilation.package!.manifest.annotations?.["io.agentrc.risk.tier"], "high");

    const unknown = await testdir({ Agentfile: "AGENT app\nTOOLSET nosuch\nAUDIT basic\n" });
    const r1 = await lint({ dir: unknown });
    assert.deepEqual(
      errors(r1).map((d) => [d.code, d.location?.line]),
      [["FILE_NOT_FOUND", 2]],
    );
    assert.match(errors(r1)[0]!.message, /^TOOLSET: "toolsets\/nosuch\.json" does not exist$/);

    const noScheme = await testdir({ Agentfile: "AGENT app\nTOOLSET ghcr.io/acme/tools:1\nAUDIT basic\n" });
    const r3 = await lint({ dir: noScheme });
    assert.deepEqual(
      errors(r3).map((d) => [d.code, d.message, d.hint]),
      [
        [
          "TOOLSET_RESOLVE_FAILED",
          "TOOLSET ghcr.io/acme/tools:1: a registry reference is written oci://ghcr.io/acme/tools:1",
          "Write TOOLSET oci://ghcr.io/acme/tools:1 for a toolset package, or a path for a local toolset file.",
        ],
      ],
    );

    const bad = await testdir({
      Agentfile: "AGENT app\nTOOLSET bad\nAUDIT basic\n",
      "toolsets/bad.json": '{\n  "name": "bad",\n  "tools": [{ "ref": "nocolon" }]\n}\n',
    });
    const r2 = await lint({ dir: bad });
    assert.deepEqual(
      errors(r2).map((d) => [d.code, d.message, d.location?.file, d.location?.line]),
      [
        [
          "TOOLSET_INVALID",
          'TOOLSET bad: toolsets/bad.json: tools[0].ref must be a tool reference <ns>:<name> (got "nocolon")',
          "toolsets/bad.json",
          3,
        ],
      ],
    );
  });

  test("a TOOLSET the trust policy refuses is TRUST_POLICY_VIOLATION at the TOOLSET line, with scope and reason; no lock", async () => {
    const root = await testdir({
      "ts/toolset.json": MANIFEST,
      "ts/specs/get_issue.json": MCP_SPEC,
      "ts/specs/search.json": OPENAI_SPEC,
    });
    const ref = `${registry.host}/toolsets/unsigned:1`;
    ok(
      await build({
        dir: join(root, "ts"),
        cacheDir: join(root, "cache"),
        config: { build: { tags: [ref], output: join(root, "ts-layout") } },
        push: { references: [ref] },
        registry: OPTS,
      }),
    );
    const pair = await generateKeyPair();
    await writeFile(join(root, "signer.pub"), pair.publicKeyPem);
    await writeFile(
      join(root, "policy.json"),
      JSON.stringify({
        version: 1,
        scopes: { [`${registry.host}/toolsets`]: { require: "signature", keys: ["signer.pub"] } },
      }),
    );
    const agent = await testdir({ Agentfile: `AGENT app\nTOOLSET oci://${ref}\nAUDIT basic\n` });
    const r = await lock({
      dir: agent,
      cacheDir: join(root, "cache-agent"),
      registry: OPTS,
      env: { XDG_CONFIG_HOME: join(root, "no-user-policy") },
      trustPolicy: join(root, "policy.json"),
    });
    assert.deepEqual(
      errors(r).map((d) => [d.code, d.location?.file, d.location?.line, d.location?.column]),
      [["TRUST_POLICY_VIOLATION", "Agentfile", 2, 9]],
    );
    assert.match(
      errors(r)[0]!.message,
      new RegExp(
        `^TOOLSET oci://${ref.replaceAll(".", "\\.")}: .*scope "${registry.host.replaceAll(".", "\\.")}/toolsets": .*TRUST_SIGNATURE_MISSING`,
      ),
    );
    await assert.rejects(readFile(join(agent, "agentrc.lock")), { code: "ENOENT" });
  });

  test("an unreachable toolset registry is TOOLSET_RESOLVE_FAILED at lock time, and no lock is written", async () => {
    const port = await freePort();
    const dir = await testdir({
      Agentfile: `AGENT app\nTOOLSET oci://127.0.0.1:${port}/toolsets/x:1\nAUDIT basic\n`,
    });
    const r = await lock({ dir, registry: OPTS });
    assert.deepEqual(
      errors(r).map((d) => d.code),
      ["TOOLSET_RESOLVE_FAILED"],
    );
    assert.match(errors(r)[0]!.message, /ECONNREFUSED/);
    await assert.rejects(readFile(join(dir, "agentrc.lock")), { code: "ENOENT" });
    // lint stays offline: an unpinned package toolset is not fetched
    assert.deepEqual(errors(await lint({ dir })), []);
  });
});
