import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { build } from "../../src/index.js";
import { writeOciArchive } from "../../src/oci/archive.js";
import { OciLayout } from "../../src/oci/layout.js";
import type { InspectReport } from "../../src/package/inspectReport.js";
import { schemaValidator } from "../../src/schema/validate.js";
import { buildCopy, FIXTURES } from "../helpers/build.js";
import { runCli } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { PackageTamper } from "../helpers/tamper.js";

let base: string;
let full: Awaited<ReturnType<typeof buildCopy>>;
let env: NodeJS.ProcessEnv;

before(async () => {
  base = await mkdtemp(join(tmpdir(), "agentrc-inspect-"));
  delete process.env.SOURCE_DATE_EPOCH;
  full = await buildCopy("agents/full", { base });
  assert.equal(full.result.errorCount, 0);
  env = { HOME: base, AGENTRC_STORE: join(base, "store"), AGENTRC_CACHE: join(base, "cache") };
  for (const [fixture, tag] of [
    ["agents/full", "localhost/review/full:1"],
    ["valid/run-hints", "localhost/review/hinted:1"],
  ] as const) {
    const dir = join(base, fixture.replace("/", "-"));
    await copyTree(join(FIXTURES, fixture), dir);
    const r = await build({
      dir,
      cacheDir: join(base, "cache"),
      config: { build: { tags: [tag], store: join(base, "store") } },
    });
    assert.equal(r.errorCount, 0);
  }
  await writeOciArchive(await OciLayout.open(full.layout), join(base, "full.tar"));
});
after(() => rm(base, { recursive: true, force: true }));

interface InspectJson {
  kind: string;
  descriptor: { digest: string };
  manifest: { layers: Array<{ digest: string; annotations?: Record<string, string> }> };
  report: InspectReport;
}

async function inspectJson(target: string): Promise<InspectJson> {
  const r = await runCli(["inspect", target, "--json"], { env, cwd: base });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  const out = JSON.parse(r.stdout) as InspectJson;
  const validate = schemaValidator("inspect-result.schema.json");
  assert.equal(validate(out), true, JSON.stringify(validate.errors));
  return out;
}

describe("inspect gives the same review report from every source", () => {
  const targets: Array<[string, () => string]> = [
    ["store", () => "localhost/review/full:1"],
    ["layout", () => full.layout],
    ["archive", () => join(base, "full.tar")],
    ["source", () => full.dir],
  ];
  for (const [kind, target] of targets) {
    test(kind, async () => {
      const out = await inspectJson(target());
      assert.equal(out.kind, kind);
      assert.equal(out.descriptor.digest, full.digest);
      const r = out.report;
      assert.equal(r.identity.name, "full-agent");
      assert.equal(r.identity.digest, full.digest);
      assert.deepEqual(
        r.tools.map((t) => [t.ref, t.risk, t.path]),
        [
          ["utcp:file_read", "medium", null],
          ["local:lint", "medium", "tools/lint.sh"],
        ],
      );
      assert.match(r.tools[1]!.digest ?? "", /^sha256:[0-9a-f]{64}$/);
      assert.deepEqual(r.egress, [
        { host: "api.github.com", directive: "URL", value: "https://api.github.com", origin: null },
      ]);
      assert.deepEqual(r.credentials, [
        { name: "github", source: "env:GITHUB_TOKEN", hosts: ["api.github.com"], inject: "header" },
      ]);
      assert.deepEqual(r.mounts, [{ path: "/workspace", mode: "ro" }]);
      assert.deepEqual(r.binds, [{ source: "./workspace", target: "/workspace", mode: "ro" }]);
      const skillLayer = (title: string) =>
        out.manifest.layers.find((l) => l.annotations?.["org.opencontainers.image.title"] === title)?.digest;
      assert.deepEqual(r.skills, [
        {
          name: "summarize",
          source: "name",
          ref: "summarize",
          layer: "skills/summarize",
          digest: skillLayer("skills/summarize"),
          origin: null,
        },
        {
          name: "review",
          source: "path",
          ref: "./vendor/review",
          layer: "skills/review",
          digest: skillLayer("skills/review"),
          origin: null,
        },
      ]);
      assert.deepEqual(
        r.policy?.statements.map((s) => [s.effect, s.resource]),
        [
          ["forbid", 'resource == AgentRC::Tool::"utcp:shell"'],
          ["permit", 'resource == AgentRC::Tool::"utcp:file_read"'],
          ["permit", 'resource == AgentRC::Tool::"local:lint"'],
          ["permit", 'resource == AgentRC::Host::"api.github.com"'],
        ],
      );
      assert.deepEqual(r.risk, {
        tier: "medium",
        derived: "medium",
        reasons: ["2 tools declared", "1 URL directive (egress)", "1 CRED directive (credentials)"],
      });
      assert.equal(r.base, null);
      // Unsigned; every build records its SLSA provenance as a referrer, which travels with the package.
      assert.deepEqual(r.signatures, []);
      assert.equal(r.provenance?.predicateType, "https://slsa.dev/provenance/v1");
      assert.equal(r.provenance?.signed, false);
      assert.match(r.provenance?.builder ?? "", /agentrc/);
    });
  }
});

test("the run hints recorded beside a stored package are in the report", async () => {
  const out = await inspectJson("localhost/review/hinted:1");
  assert.deepEqual(out.report.runHints, [
    { directive: "IMAGE", values: ["python:3.12-slim"] },
    { directive: "ISOLATION", values: ["microvm"] },
    { directive: "BROKER", values: ["vault"] },
    { directive: "BACKEND", values: ["ssh://runner.example.com"] },
    { directive: "PLUGIN", values: ["network", "filesystem"] },
  ]);
  assert.equal(out.report.risk.tier, "low");
});

test("inspect reads only the manifest, the config and the policy blob", async () => {
  const dir = join(base, "only-three-blobs");
  await copyTree(full.layout, dir);
  const t = await PackageTamper.open(dir);
  for (const l of t.manifest.layers) {
    if (l.mediaType !== "application/vnd.agentrc.agent.policy.cedar.v1+text") await t.deleteBlob(l.digest);
  }
  const out = await inspectJson(dir);
  assert.equal(out.report.policy?.statements.length, 4);
});

test("the human report puts what the agent may do first, readable at a glance", async () => {
  const r = await runCli(["inspect", full.layout], { env });
  assert.equal(r.code, 0, r.stderr);
  const lines = r.stdout.split("\n");
  assert.match(lines[0]!, /^full-agent {2}1$/);
  for (const expected of [
    /^ {2}risk {9}medium: 2 tools declared; 1 URL directive \(egress\); 1 CRED directive \(credentials\)$/,
    /^What it may do$/,
    /^ {2}tools {8}utcp:file_read {2}medium risk$/,
    /^ {2}egress {7}api\.github\.com {2}\(URL https:\/\/api\.github\.com\)$/,
    /^ {2}credentials {2}github from env:GITHUB_TOKEN → api\.github\.com \(inject header\)$/,
    /^Policy sha256:\w+: 3 permit, 1 forbid$/,
    /^ {2}signatures {3}none$/,
    /^ {2}provenance {3}https:\/\/slsa\.dev\/provenance\/v1, builder \S*agentrc\S*, unsigned$/,
    /^Layers \(8\)$/,
  ]) {
    assert.ok(
      lines.some((l) => expected.test(l)),
      `no line matches ${expected}:\n${r.stdout}`,
    );
  }
});
