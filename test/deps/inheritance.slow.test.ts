import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import type { PackageConfig } from "../../src/compiler/payloads.js";
import { build, type LintResult, lint } from "../../src/index.js";
import { inspectReport } from "../../src/package/inspectReport.js";
import { openPackage } from "../../src/package/open.js";
import { bytesBlob } from "../../src/registry/blobs.js";
import { RegistryClient } from "../../src/registry/client.js";
import { MEDIA_TYPES } from "../../src/registry/manifests.js";
import { diffPackages, evalPolicy } from "../../src/review.js";
import { plainImage } from "../helpers/artifacts.js";
import { runCli } from "../helpers/cli.js";
import { type FaultProxy, startFaultProxy } from "../helpers/faultProxy.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { testdir } from "../helpers/testdir.js";

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

const errors = (r: LintResult) => r.diagnostics.filter((d) => d.severity === "error");
const ok = (r: LintResult) => assert.deepEqual(errors(r), [], JSON.stringify(r.diagnostics, null, 2));
const configOf = async (layout: string) => {
  const pkg = await openPackage(layout, {});
  try {
    return pkg.config as PackageConfig;
  } finally {
    await pkg.close();
  }
};

const SHELL_SPEC = JSON.stringify({
  name: "shell",
  description: "Runs a command.",
  input: { type: "object" },
});
const READ_SPEC = JSON.stringify({
  name: "file_read",
  description: "Reads a file.",
  input: { type: "object" },
});

describe("FROM inheritance: org base → team base → agent", () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  let host: string;
  let root: string;
  const built: Record<string, { result: LintResult; digest: string; dir: string }> = {};

  /** Builds `files` in a fresh directory and pushes it to `ref` (through the counting proxy). */
  async function publish(name: string, ref: string, files: Record<string, string>) {
    const dir = join(root, name);
    const { mkdir, writeFile } = await import("node:fs/promises");
    for (const [rel, text] of Object.entries(files)) {
      await mkdir(join(dir, rel, ".."), { recursive: true });
      await writeFile(join(dir, rel), text);
    }
    const result = await build({
      dir,
      cacheDir: join(root, "cache"),
      config: { build: { tags: [ref], output: join(root, `layout-${name}`) } },
      push: { references: [ref] },
      registry: { plainHttp: true, env: {}, proxy: false },
    });
    const entry = { result, digest: result.pushed?.[0]?.digest ?? "", dir };
    built[name] = entry;
    return entry;
  }

  before(async () => {
    registry = await startRegistry({ mode: "open" });
    proxy = await startFaultProxy(registry.port);
    host = proxy.host;
    // not testdir(): its clean-up, registered inside a hook, would run when the hook ends
    root = await mkdtemp(join(tmpdir(), "agentrc-inherit-"));
    const org = await publish("org", `${host}/org/base:1`, {
      Agentfile: [
        "AGENT org-base",
        "AUDIT all",
        "TOOL utcp:file_read tools/file_read.json",
        "TOOL utcp:shell tools/shell.json",
        "SKILL review",
        "FUNCTION functions/triage.py:triage",
        "INCLUDE docs/*.md",
        "LIMIT max_files 100",
        "TIMEOUT 10m",
        "SOP escalate",
        "Page the on-call reviewer.",
        "END",
        "POLICY",
        'permit(principal, action == AgentRC::Action::"tool.invoke", resource == AgentRC::Tool::"utcp:file_read");',
        'forbid(principal, action == AgentRC::Action::"tool.invoke", resource == AgentRC::Tool::"utcp:shell");',
        "END",
        "",
      ].join("\n"),
      "tools/file_read.json": READ_SPEC,
      "tools/shell.json": SHELL_SPEC,
      "skills/review/SKILL.md": "---\nname: review\ndescription: The org's review checklist.\n---\n",
      "functions/triage.py": "def triage(issue):\n    return 'bug'\n",
      "docs/policy.md": "# House rules\n",
    });
    ok(org.result);
    const team = await publish("team", `${host}/team/base:1`, {
      Agentfile: [
        "AGENT team-base",
        `FROM ${host}/org/base:1`,
        "AUDIT all",
        "SKILL triage",
        "LIMIT max_files 50",
        "",
      ].join("\n"),
      "skills/triage/SKILL.md": "---\nname: triage\ndescription: Labels issues.\n---\n",
    });
    ok(team.result);
    proxy.seen.length = 0;
    const agent = await publish("agent", `${host}/team/agent:1`, {
      Agentfile: [
        "AGENT app",
        `FROM ${host}/team/base:1`,
        "AUDIT compliance",
        "SKILL review",
        "TOOL utcp:shell tools/shell.json",
        "POLICY",
        'permit(principal, action == AgentRC::Action::"tool.invoke", resource == AgentRC::Tool::"utcp:shell");',
        "END",
        "",
      ].join("\n"),
      "tools/shell.json": SHELL_SPEC,
      "skills/review/SKILL.md": "---\nname: review\ndescription: The agent's own review.\n---\n",
    });
    ok(agent.result);
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
    await rm(root, { recursive: true, force: true });
  });

  test("the agent inherits skills, tools, SOPs, limits with their origin; its own declarations replace the base's", async () => {
    const orgOrigin = `${host}/org/base:1@${built.org!.digest}`;
    const teamOrigin = `${host}/team/base:1@${built.team!.digest}`;
    const config = await configOf(join(root, "layout-agent"));
    assert.deepEqual(config.inherited?.chain, [
      { ref: `${host}/team/base:1`, digest: built.team!.digest },
      { ref: `${host}/org/base:1`, digest: built.org!.digest },
    ]);
    const kept = config.inherited!.directives.map((d) => `${d.directive} ${d.origin}`);
    assert.deepEqual(kept.sort(), [
      `FUNCTION ${orgOrigin}`,
      `INCLUDE ${orgOrigin}`,
      `LIMIT ${teamOrigin}`,
      `SKILL ${teamOrigin}`,
      `SOP ${orgOrigin}`,
      `TIMEOUT ${orgOrigin}`,
      `TOOL ${orgOrigin}`,
    ]);
    assert.deepEqual(config.inherited!.directives.find((d) => d.directive === "LIMIT")!.args.value, "50");
    assert.deepEqual(config.inherited!.overridden.map((o) => `${o.directive} ${o.name} ${o.origin}`).sort(), [
      `AUDIT  ${teamOrigin}`,
      `SKILL review ${orgOrigin}`,
      `TOOL utcp:shell ${orgOrigin}`,
    ]);
    // files: the team's triage skill, the org's file_read tool, the agent's own review skill
    const files = new Map(config.files.map((f) => [f.path, f.sha256]));
    assert.ok(files.has("skills/triage/SKILL.md"));
    assert.ok(files.has("tools/file_read.json"));
    assert.ok(files.has("src/functions/triage.py"), "functions are inherited");
    assert.ok(files.has("data/docs/policy.md"), "data is inherited");
    // the org's source and data layers travel unchanged down the chain
    const orgLayers = built.org!.result.compilation.package!.manifest.layers;
    const agentLayers = built.agent!.result.compilation.package!.manifest.layers;
    for (const title of ["src", "data"]) {
      const digestOf = (ls: typeof orgLayers) =>
        ls.find((l) => l.annotations?.["org.opencontainers.image.title"] === title)?.digest;
      assert.equal(digestOf(agentLayers), digestOf(orgLayers), `${title} is the org base's blob`);
    }
    const pulled = await openPackage(join(root, "layout-agent"), {});
    try {
      const review = pulled.manifest.layers.find(
        (l) => l.annotations?.["org.opencontainers.image.title"] === "skills/review",
      )!;
      const { extractTar } = await import("../../src/oci/extract.js");
      const out = join(root, "review-out");
      await extractTar(await pulled.openBlob(review), out);
      assert.match(await readFile(join(out, "skills/review/SKILL.md"), "utf8"), /The agent's own review/);
    } finally {
      await pulled.close();
    }
  });

  test("inspect shows the inherited skills, tools and policy with their origin", async () => {
    const orgOrigin = `${host}/org/base:1@${built.org!.digest}`;
    const teamOrigin = `${host}/team/base:1@${built.team!.digest}`;
    const pkg = await openPackage(join(root, "layout-agent"), {});
    try {
      const r = await inspectReport(pkg);
      assert.deepEqual(
        r.tools.map((t) => [t.ref, t.origin]),
        [
          ["utcp:file_read", orgOrigin],
          ["utcp:shell", null],
        ],
      );
      assert.deepEqual(r.skills.map((s) => [s.name, s.origin]).sort(), [
        ["review", null],
        ["triage", teamOrigin],
      ]);
      const forbids = r.policy!.statements.filter((s) => s.effect === "forbid");
      assert.deepEqual(
        forbids.map((s) => [s.resource, s.origin]),
        [['resource == AgentRC::Tool::"utcp:shell"', orgOrigin]],
      );
      assert.equal(r.audit, "compliance");
      assert.equal(r.risk.tier, "high", "the inherited and own shell tool make it high risk");
      // the team base declares no tool of its own: its tier is the org base's, inherited
      assert.equal(
        built.team!.result.compilation.package!.manifest.annotations?.["io.agentrc.risk.tier"],
        "high",
      );
      assert.deepEqual(
        r.base?.chain?.map((c) => c.digest),
        [built.team!.digest, built.org!.digest],
      );
    } finally {
      await pkg.close();
    }
  });

  test("agentrc inspect (the CLI) prints each inherited item's origin; verify accepts the agent", async () => {
    const layout = join(root, "layout-agent");
    const out = await runCli(["inspect", layout]);
    assert.equal(out.code, 0, out.stderr);
    const orgOrigin = `${host}/org/base:1@${built.org!.digest}`;
    assert.match(out.stdout, new RegExp(`utcp:file_read .*\\(from ${escapeRegExp(orgOrigin)}\\)`));
    assert.match(out.stdout, new RegExp(`forbid .*utcp:shell.*\\(from ${escapeRegExp(orgOrigin)}\\)`));
    assert.match(out.stdout, new RegExp(`SKILL review \\(replaces ${escapeRegExp(orgOrigin)}'s\\)`));
    const verified = await runCli(["verify", layout, "--json"]);
    assert.equal(verified.code, 0, verified.stdout);
    assert.equal(JSON.parse(verified.stdout).ok, true);
    const denied = await runCli([
      "policy",
      "eval",
      layout,
      "--action",
      "tool.invoke",
      "--resource",
      "utcp:shell",
      "--json",
    ]);
    assert.equal(JSON.parse(denied.stdout).decision, "deny");
  });

  test("policy eval on the agent still denies what the org base forbids, though the agent permits it", async () => {
    const layout = join(root, "layout-agent");
    const shell = await evalPolicy(layout, { action: "tool.invoke", resource: "utcp:shell" });
    assert.equal(shell.decision, "deny");
    assert.deepEqual(
      shell.determining.map((p) => [p.effect, p.origin?.file]),
      [["forbid", `FROM ${host}/org/base:1@${built.org!.digest}`]],
    );
    const read = await evalPolicy(layout, { action: "tool.invoke", resource: "utcp:file_read" });
    assert.equal(read.decision, "allow", "the org's permit is inherited too");
    // lint warns: the agent's own TOOL is forbidden by the inherited policy
    const linted = await lint({ dir: built.agent!.dir, cacheDir: join(root, "cache") });
    const warning = linted.diagnostics.find((d) => d.code === "TOOL_NOT_PERMITTED");
    assert.match(warning?.message ?? "", /TOOL utcp:shell is forbidden by the policy inherited from/);
  });

  test("the reused base layers are the base's bytes: pushing the agent uploads only its own layers", async () => {
    const teamLayers = built.team!.result.compilation.package!.manifest.layers;
    const agentLayers = built.agent!.result.compilation.package!.manifest.layers;
    const title = (l: { annotations?: Record<string, string> }) =>
      l.annotations?.["org.opencontainers.image.title"];
    const triage = (ls: typeof teamLayers) => ls.find((l) => title(l) === "skills/triage")!;
    assert.equal(triage(agentLayers).digest, triage(teamLayers).digest);
    const reused = new Set(teamLayers.map((l) => l.digest));
    const own = agentLayers.filter((l) => !reused.has(l.digest)).map((l) => l.digest);
    const statuses = built.agent!.result.pushed![0]!.blobs;
    // the agent's own blobs (config, Agentfile, lock, policy, tools, skills/review) are uploaded, the rest mounted
    for (const b of statuses) {
      if (reused.has(b.digest)) assert.equal(b.status, "mounted", `${b.digest} is the base's`);
      else assert.equal(b.status, "uploaded", `${b.digest} is the agent's own`);
    }
    // the registry saw one upload (PUT of a blob) per own blob, none for the reused ones
    const puts = proxy.seen.filter((r) => r.method === "PUT" && r.url.includes("/blobs/uploads/"));
    const uploadedDigests = puts.map((r) => new URL(r.url, "http://x").searchParams.get("digest"));
    const config = built.agent!.result.compilation.package!.manifest.config.digest;
    const inPackage = new Set([...agentLayers.map((l) => l.digest), config]);
    assert.deepEqual(uploadedDigests.filter((d) => inPackage.has(d!)).sort(), [...own, config].sort());
    // Beside them only the build's provenance referrer (its statement blob) travels; no base blob is uploaded.
    const others = uploadedDigests.filter((d) => !inPackage.has(d!));
    assert.ok(others.length <= 2, `referrer blobs uploaded: ${others.join(", ")}`);
    assert.ok(uploadedDigests.every((d) => !reused.has(d!)));
    assert.ok(reused.has(triage(agentLayers).digest));
  });

  test("diff of the team base and the agent names each item's origin", async () => {
    const d = await diffPackages(join(root, "layout-team"), join(root, "layout-agent"));
    const review = d.directives.changed.find((c) => c.directive === "SKILL" && c.name === "review");
    assert.deepEqual(review?.origin, {
      before: `${host}/org/base:1@${built.org!.digest}`,
      after: null,
    });
  });
});

describe("FROM errors", () => {
  test("a plain image is BASE_NOT_AGENT_PACKAGE; a cycle is BASE_CYCLE; a looser AUDIT is BASE_LIMIT_WEAKENED", async () => {
    const registry = await startRegistry({ mode: "open" });
    try {
      const root = await testdir();
      const opts = { plainHttp: true, env: {}, proxy: false } as const;
      const { mkdir, writeFile } = await import("node:fs/promises");
      const make = async (name: string, files: Record<string, string>) => {
        const dir = join(root, name);
        for (const [rel, text] of Object.entries(files)) {
          await mkdir(join(dir, rel, ".."), { recursive: true });
          await writeFile(join(dir, rel), text);
        }
        return dir;
      };
      const pushed = async (dir: string, ref: string) =>
        build({
          dir,
          cacheDir: join(root, "cache"),
          config: { build: { tags: [ref], output: join(dir, "..", `${ref.replace(/\W/g, "_")}.layout`) } },
          push: { references: [ref] },
          registry: opts,
        });
      // a skill package is no base
      const skill = await make("skill", { "SKILL.md": "---\nname: s\ndescription: d\n---\n" });
      ok(await pushed(skill, `${registry.host}/skills/s:1`));
      const child = await make("child", {
        Agentfile: `AGENT c\nFROM ${registry.host}/skills/s:1\nAUDIT basic\n`,
      });
      const r1 = await pushed(child, `${registry.host}/c/c:1`);
      assert.deepEqual(
        errors(r1).map((d) => [d.code, d.message, d.location?.line]),
        [
          [
            "BASE_NOT_AGENT_PACKAGE",
            `FROM ${registry.host}/skills/s:1 is a skill package, not an agentrc package`,
            2,
          ],
        ],
      );
      assert.match(errors(r1)[0]!.hint ?? "", /IMAGE/);

      // nor is a plain container image
      const image = plainImage("etc/os-release", "ID=test\n");
      const client = new RegistryClient(registry.host, opts);
      try {
        await client.pushBlob("os/base", bytesBlob(image.config));
        await client.pushBlob("os/base", bytesBlob(image.layer));
        await client.putManifest("os/base", "1", image.manifest, MEDIA_TYPES.ociManifest);
      } finally {
        await client.close();
      }
      const onImage = await make("on-image", {
        Agentfile: `AGENT c\nFROM ${registry.host}/os/base:1\nAUDIT basic\n`,
      });
      const r0 = await pushed(onImage, `${registry.host}/c/i:1`);
      assert.deepEqual(
        errors(r0).map((d) => [d.code, d.message]),
        [
          [
            "BASE_NOT_AGENT_PACKAGE",
            `FROM ${registry.host}/os/base:1 is a plain image (config application/vnd.oci.image.config.v1+json), not an agentrc package`,
          ],
        ],
      );

      // a cycle: a:1 is built FROM b:1, which was built FROM an earlier a:1
      const a0 = await make("a0", { Agentfile: "AGENT a\nAUDIT basic\n" });
      ok(await pushed(a0, `${registry.host}/loop/a:1`));
      const b = await make("b", { Agentfile: `AGENT b\nFROM ${registry.host}/loop/a:1\nAUDIT basic\n` });
      ok(await pushed(b, `${registry.host}/loop/b:1`));
      const a1 = await make("a1", { Agentfile: `AGENT a\nFROM ${registry.host}/loop/b:1\nAUDIT basic\n` });
      const r2 = await pushed(a1, `${registry.host}/loop/a:1`);
      assert.deepEqual(
        errors(r2).map((d) => d.code),
        ["BASE_CYCLE"],
      );
      assert.equal(
        errors(r2)[0]!.message,
        `FROM ${registry.host}/loop/b:1: the chain of bases is a cycle: ${registry.host}/loop/a:1 → ${registry.host}/loop/b:1 → ${registry.host}/loop/a:1`,
      );

      // a child never lowers its base's audit level
      const strict = await make("strict", { Agentfile: "AGENT strict\nAUDIT compliance\n" });
      ok(await pushed(strict, `${registry.host}/org/strict:1`));
      const lax = await make("lax", {
        Agentfile: `AGENT lax\nFROM ${registry.host}/org/strict:1\nAUDIT basic\n`,
      });
      const r3 = await pushed(lax, `${registry.host}/org/lax:1`);
      assert.deepEqual(
        errors(r3).map((d) => [d.code, d.location?.line]),
        [["BASE_LIMIT_WEAKENED", 3]],
      );
      assert.match(errors(r3)[0]!.message, /^AUDIT: AUDIT basic is below compliance/);
    } finally {
      await registry.stop();
    }
  });
});
