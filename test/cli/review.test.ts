import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { build } from "../../src/index.js";
import { runCli } from "../helpers/cli.js";
import { testdir } from "../helpers/testdir.js";

/**
 * `agentrc policy show`, `policy eval` and `diff` on real packages built from small trees: a base agent and
 * variants that change tools, URLs, the policy and files. Cedar is the real engine.
 */
const BASE_AGENTFILE = [
  "AGENT reviewer", //                                   1
  "TOOL utcp:file_read", //                              2
  "TOOL utcp:grep", //                                   3
  "URL https://api.github.com/repos", //                 4
  "MOUNT /workspace ro", //                              5
  "CRED github env:GITHUB_TOKEN host:api.github.com", // 6
  "INCLUDE docs/*.md", //                                7
  "AUDIT basic", //                                      8
  "ALLOW invoke utcp:file_read", //                      9
  "ALLOW invoke utcp:grep", //                           10
  "ALLOW read /workspace", //                            11
  "",
].join("\n");

const BASE_CEDAR = [
  "// Egress to GitHub only.", //                                                    1
  "permit (", //                                                                      2
  '  principal == AgentRC::Agent::"reviewer",', //                                    3
  '  action == AgentRC::Action::"cred.resolve",', //                                  4
  '  resource == AgentRC::Credential::"github"', //                                   5
  ");", //                                                                            6
  "", //                                                                              7
  "// No tool outside the workspace.", //                                             8
  'forbid (principal, action == AgentRC::Action::"tool.invoke", resource)', //        9
  'when { context has path && !(context.path like "/workspace/*") };', //             10
  "", //                                                                              11
  "// A forbid whose condition overflows: Cedar skips it (an error) and reports it.", //12
  '@id("no-high-ports")', //                                                          13
  'forbid (principal, action == AgentRC::Action::"network.egress", resource)', //     14
  "when { context has port && context.port * 4611686018427387904 > 1024 };", //       15
  "",
].join("\n");

interface Variant {
  agentfile?: (base: string) => string;
  cedar?: string;
  files?: Record<string, string>;
}

const base = await testdir();
const store = join(base, "store");
const env = () => ({ AGENTRC_STORE: store, AGENTRC_CACHE: join(base, "cache"), HOME: join(base, "home") });

/** Writes the base tree changed by `variant`, builds it into the store as `localhost/review/<name>:1`. */
async function buildVariant(
  name: string,
  variant: Variant = {},
  output?: { layout?: string; archive?: string },
) {
  const dir = join(base, "src", name);
  await mkdir(join(dir, "policy"), { recursive: true });
  await mkdir(join(dir, "docs"), { recursive: true });
  const agentfile = variant.agentfile ? variant.agentfile(BASE_AGENTFILE) : BASE_AGENTFILE;
  await writeFile(join(dir, "Agentfile"), agentfile);
  await writeFile(join(dir, "policy", "agent.cedar"), variant.cedar ?? BASE_CEDAR);
  const files = { "docs/guide.md": "# Guide\n\nRead the workspace.\n", ...variant.files };
  for (const [path, text] of Object.entries(files)) await writeFile(join(dir, path), text);
  const result = await build({
    dir,
    cacheDir: join(base, "cache"),
    config: {
      build: {
        tags: [`localhost/review/${name}:1`],
        ...(output?.layout ? { output: output.layout } : {}),
        ...(output?.archive ? { output: output.archive, outputFormat: "oci-archive" as const } : {}),
      },
    },
  });
  const errors = result.diagnostics.filter((d) => d.severity === "error");
  assert.deepEqual(errors, [], `build ${name}`);
  return result.compilation.package!.descriptor.digest;
}

async function cli(args: string[]) {
  return runCli(args, { env: { ...env(), AGENTRC_STORE: store }, cwd: base });
}

async function json(args: string[], code = 0) {
  const r = await cli([...args, "--json"]);
  assert.equal(r.code, code, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
  return JSON.parse(r.stdout);
}

before(async () => {
  process.env.AGENTRC_STORE = store;
  await buildVariant("base");
});

describe("policy show", () => {
  test("prints the packed Cedar exactly, each policy with the Agentfile or .cedar line it came from", async () => {
    const shown = await json(["policy", "show", "localhost/review/base:1"]);
    assert.equal(shown.hashMatches, true);
    assert.match(shown.hash, /^sha256:[0-9a-f]{64}$/);
    assert.equal(shown.hash, shown.recordedHash);
    const origins = shown.policies.map(
      (p: { effect: string; origin: { file: string; line: number } }) =>
        `${p.effect} ${p.origin.file}:${p.origin.line}`,
    );
    assert.deepEqual(origins, [
      "permit policy/agent.cedar:2",
      "forbid policy/agent.cedar:9",
      "forbid policy/agent.cedar:13",
      "permit Agentfile:4",
      "permit Agentfile:9",
      "permit Agentfile:10",
      "permit Agentfile:11",
    ]);
    assert.equal(shown.policies[2].annotationId, "no-high-ports");
    assert.equal(shown.policies[3].annotationId, "Agentfile:4");
    // Every policy's text is the exact slice of the packed text at the lines it reports.
    const lines = (shown.text as string).split("\n");
    for (const p of shown.policies) {
      assert.equal(lines.slice(p.lines.start - 1, p.lines.end).join("\n"), p.text);
    }
    assert.ok(shown.schema.actions.some((a: { name: string }) => a.name === "tool.invoke"));
    assert.ok(shown.schema.entityTypes.some((e: { name: string }) => e.name === "AgentRC::Path"));

    const human = await cli(["policy", "show", "localhost/review/base:1"]);
    assert.equal(human.code, 0, human.stderr);
    assert.match(human.stdout, /policy4 Agentfile:9 +│ @id\("Agentfile:9"\)/);
    assert.match(
      human.stdout,
      /tool\.invoke +AgentRC::Agent → AgentRC::Tool {2}context \{input\?: String, path\?: String\}|tool\.invoke +AgentRC::Agent → AgentRC::Tool {2}context \{path\?: String, input\?: String\}/,
    );
    // The packed text appears verbatim to the right of the gutter.
    const right = human.stdout
      .split("\n")
      .filter((l) => l.includes(" │ ") || l.endsWith(" │"))
      .map((l) => l.slice(l.indexOf("│") + 2));
    assert.equal(`${right.join("\n")}\n`, shown.text);
  });
});

describe("policy show, empty policy", () => {
  test("an agent without policies packs the empty set: no policies, the recorded hash, every request denied", async () => {
    const dir = join(base, "src", "empty");
    await mkdir(dir, { recursive: true });
    await writeFile(join(dir, "Agentfile"), "AGENT empty\nAUDIT basic\n");
    const built = await runCli(["build", dir, "-t", "localhost/review/empty:1", "-q"], {
      env: env(),
      cwd: base,
    });
    assert.equal(built.code, 0, built.stderr);
    const shown = await json(["policy", "show", "localhost/review/empty:1"]);
    assert.deepEqual([shown.text, shown.policies, shown.hashMatches], ["", [], true]);
    const human = await cli(["policy", "show", "localhost/review/empty:1"]);
    assert.match(human.stdout, /\(empty policy set: Cedar denies every request\)/);
    const r = await json(
      ["policy", "eval", "localhost/review/empty:1", "--action", "read", "--resource", "/workspace"],
      1,
    );
    assert.deepEqual([r.decision, r.determining, r.errors], ["deny", [], []]);
  });
});

describe("policy eval", () => {
  test("--principal asks for another agent: the shorthands name this one, so it is denied", async () => {
    const r = await json(
      [
        "policy",
        "eval",
        "localhost/review/base:1",
        "--action",
        "invoke",
        "--resource",
        "file_read",
        "--principal",
        "intruder",
      ],
      1,
    );
    assert.equal(r.request.principal, "intruder");
    assert.equal(r.decision, "deny");
  });

  test("allow: the permits that decided, with their origin lines; a short tool name works as the resource", async () => {
    const r = await json([
      "policy",
      "eval",
      "localhost/review/base:1",
      "--action",
      "invoke",
      "--resource",
      "file_read",
    ]);
    assert.equal(r.decision, "allow");
    assert.equal(r.ok, true);
    assert.deepEqual(r.request.resource, { type: "Tool", id: "utcp:file_read" });
    assert.deepEqual(
      r.determining.map((p: { id: string; origin: unknown }) => [p.id, p.origin]),
      [["policy4", { file: "Agentfile", line: 9 }]],
    );
  });

  test("deny by a forbid (exit 1), with the forbid's .cedar line", async () => {
    const r = await json(
      [
        "policy",
        "eval",
        "localhost/review/base:1",
        "--action",
        "tool.invoke",
        "--resource",
        'AgentRC::Tool::"utcp:grep"',
        "--context",
        '{"path":"/etc/passwd"}',
      ],
      1,
    );
    assert.equal(r.decision, "deny");
    assert.equal(r.ok, false);
    assert.deepEqual(
      r.determining.map((p: { effect: string; origin: unknown }) => [p.effect, p.origin]),
      [["forbid", { file: "policy/agent.cedar", line: 9 }]],
    );
    const human = await cli([
      "policy",
      "eval",
      "localhost/review/base:1",
      "--action",
      "invoke",
      "--resource",
      "grep",
      "--context",
      '{"path":"/etc/passwd"}',
    ]);
    assert.equal(human.code, 1);
    assert.match(human.stdout, /^deny {2}AgentRC::Agent::"reviewer" tool\.invoke AgentRC::Tool::"utcp:grep"/);
    assert.match(human.stdout, /policy1 forbid policy\/agent\.cedar:9/);
  });

  test("deny by default: nothing permits, no policy determined it", async () => {
    const r = await json(
      [
        "policy",
        "eval",
        "localhost/review/base:1",
        "--action",
        "egress",
        "--resource",
        "https://evil.example/x",
      ],
      1,
    );
    assert.equal(r.decision, "deny");
    assert.deepEqual(r.request.resource, { type: "Host", id: "evil.example" });
    assert.deepEqual(r.determining, []);
  });

  test("a forbid whose condition errors is skipped and reported, and the permit still allows", async () => {
    const r = await json([
      "policy",
      "eval",
      "localhost/review/base:1",
      "--action",
      "egress",
      "--resource",
      "api.github.com",
      "--context",
      '{"port":443}',
    ]);
    assert.equal(r.decision, "allow");
    assert.deepEqual(r.determining[0].origin, { file: "Agentfile", line: 4 });
    assert.equal(r.errors.length, 1);
    assert.equal(r.errors[0].id, "policy2");
    assert.equal(r.errors[0].effect, "forbid");
    assert.deepEqual(r.errors[0].origin, { file: "policy/agent.cedar", line: 13 });
    assert.match(r.errors[0].message, /overflow/);
    const human = await cli([
      "policy",
      "eval",
      "localhost/review/base:1",
      "--action",
      "egress",
      "--resource",
      "https://api.github.com/repos/x",
      "--context",
      '{"port":443}',
    ]);
    assert.equal(human.code, 0);
    assert.match(
      human.stdout,
      /policy2 forbid policy\/agent\.cedar:13: .*overflow.* — a skipped forbid does not deny/,
    );
  });

  test("a path resource covers its ancestors (resource in Path)", async () => {
    const r = await json([
      "policy",
      "eval",
      "localhost/review/base:1",
      "--action",
      "read",
      "--resource",
      "/workspace/src/a.ts",
    ]);
    assert.equal(r.decision, "allow");
    assert.deepEqual(r.determining[0].origin, { file: "Agentfile", line: 11 });
  });

  test("usage errors exit 2 with code USAGE and a message naming the problem", async () => {
    const cases: Array<[string[], RegExp]> = [
      [["--action", "invoke", "--resource", "grep", "--context", "{nope"], /--context is not JSON/],
      [["--action", "invoke", "--resource", "grep", "--context", "[1]"], /--context must be a JSON object/],
      [["--action", "fly", "--resource", "grep"], /unknown action "fly"/],
      [
        ["--action", "invoke", "--resource", "nothing"],
        /declares no TOOL named "nothing" \(it declares utcp:file_read, utcp:grep\)/,
      ],
      [
        ["--action", "egress", "--resource", 'AgentRC::Tool::"utcp:grep"'],
        /network\.egress applies to AgentRC::Host, not AgentRC::Tool/,
      ],
      [["--action", "read", "--resource", "workspace"], /not an absolute sandbox path/],
      [
        ["--action", "invoke", "--resource", "grep", "--context", '{"path":3}'],
        /Cedar refuses the request: context .* is not valid/,
      ],
      [["--resource", "grep"], /--action is required/],
    ];
    for (const [args, message] of cases) {
      const r = await cli(["policy", "eval", "localhost/review/base:1", ...args, "--json"]);
      assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdout}`);
      const out = JSON.parse(r.stdout);
      assert.equal(out.error.code, "USAGE");
      assert.match(out.error.message, message);
    }
    const bare = await cli(["policy"]);
    assert.equal(bare.code, 2);
    assert.match(bare.stderr, /"policy" needs a subcommand: policy show, policy eval/);
  });
});

describe("diff", () => {
  test("identical packages: nothing differs, --exit-code exits 0", async () => {
    const r = await json(["diff", "localhost/review/base:1", "localhost/review/base:1", "--exit-code"]);
    assert.equal(r.identical, true);
    assert.equal(r.differ, false);
  });

  test("tools, URLs, mounts, policy and files: each section, the risk tier and the policy effect asked of Cedar", async () => {
    await buildVariant("wider", {
      agentfile: (a) =>
        a
          .replace("TOOL utcp:grep\n", "TOOL utcp:grep\nTOOL utcp:shell\n")
          .replace(
            "URL https://api.github.com/repos\n",
            "URL https://api.github.com/repos\nURL https://pypi.org/simple\n",
          )
          .replace("MOUNT /workspace ro", "MOUNT /workspace rw")
          .replace(
            "ALLOW read /workspace\n",
            "ALLOW read /workspace\nALLOW invoke utcp:shell\nALLOW write /workspace\n",
          ),
      cedar: BASE_CEDAR.replace('@id("no-high-ports")\n', '@id("no-high-ports")\n// tightened\n'),
      files: { "docs/guide.md": "# Guide\n\nRead and write the workspace.\n", "docs/new.md": "new\n" },
    });
    const r = await json(["diff", "localhost/review/base:1", "localhost/review/wider:1", "--exit-code"], 1);
    assert.equal(r.differ, true);
    const names = (list: Array<{ directive: string; name: string }>) =>
      list.map((d) => `${d.directive} ${d.name}`);
    assert.deepEqual(names(r.directives.added).sort(), [
      "ALLOW invoke utcp:shell",
      "ALLOW write /workspace",
      "TOOL utcp:shell",
      "URL https://pypi.org/simple",
    ]);
    assert.deepEqual(names(r.directives.changed), ["MOUNT /workspace"]);
    assert.deepEqual(r.directives.changed[0].before, [{ path: "/workspace", mode: "ro" }]);
    assert.deepEqual(r.permissions.egressHosts, { added: ["pypi.org"], removed: [] });
    assert.deepEqual(r.permissions.writableMounts, { added: ["/workspace"], removed: [] });
    assert.deepEqual(r.permissions.shellTools, { added: ["utcp:shell"], removed: [] });
    assert.equal(r.permissions.riskTier.before, "medium");
    assert.equal(r.permissions.riskTier.after, "high");
    assert.equal(r.permissions.riskTier.change, "up");
    assert.ok(r.permissions.riskTier.reasons.after.includes("MOUNT /workspace is read-write"));

    const flips = r.policy.flips.map(
      (f: { action: string; resource: { id: string }; before: string; after: string }) =>
        `${f.action} ${f.resource.id} ${f.before}→${f.after}`,
    );
    assert.deepEqual(flips.sort(), [
      "filesystem.write /workspace deny→allow",
      "network.egress pypi.org deny→allow",
      "tool.invoke utcp:shell deny→allow",
    ]);
    const shell = r.policy.flips.find((f: { resource: { id: string } }) => f.resource.id === "utcp:shell");
    assert.deepEqual(shell.determining[0].origin, { file: "Agentfile", line: 14 });
    // Shorthand ids are their lines: the moved ALLOWs are removed and added, the commented forbid is unchanged.
    // Policies are compared by what they say: the shorthands that only moved down are unchanged.
    const origin = (p: { effect: string; origin: { file: string; line: number } }) =>
      `${p.effect} ${p.origin.file}:${p.origin.line}`;
    assert.deepEqual(r.policy.added.map(origin), [
      "permit Agentfile:6",
      "permit Agentfile:14",
      "permit Agentfile:15",
    ]);
    assert.deepEqual([r.policy.removed, r.policy.changed], [[], []]);
    assert.equal(r.policy.requests, 8);
    assert.deepEqual(r.files.added, [{ path: "data/docs/new.md", size: 4 }]);
    assert.deepEqual(r.files.changed.map((f: { path: string }) => f.path).sort(), [
      "Agentfile",
      "agentrc.lock",
      "data/docs/guide.md",
      "policy/agent.cedar",
    ]);
    assert.ok(r.layers.changed.some((l: { title: string }) => l.title === "data"));

    const human = await cli(["diff", "localhost/review/base:1", "localhost/review/wider:1"]);
    assert.equal(human.code, 0, "without --exit-code a difference is success");
    for (const line of [
      /^ directives {3}\+4 ~1$/m,
      /risk tier medium → high \(up\)/,
      /^ {2}\+ TOOL utcp:shell$/m,
      /^ {2}\+ egress host pypi\.org$/m,
      /^ {4}tool\.invoke AgentRC::Tool::"utcp:shell" {2}deny → allow {2}\(policy\d+ permit Agentfile:14\)$/m,
      /^ {2}\+ data\/docs\/new\.md {2}4 B$/m,
      /^ {2}~ data {2}/m,
    ]) {
      assert.match(human.stdout, line, human.stdout);
    }
  });

  test("the other way round: the risk tier goes down and says what no longer raises it", async () => {
    const r = await json(["diff", "localhost/review/wider:1", "localhost/review/base:1"]);
    assert.deepEqual([r.permissions.riskTier.before, r.permissions.riskTier.change], ["high", "down"]);
    assert.deepEqual(r.permissions.shellTools, { added: [], removed: ["utcp:shell"] });
    const flips = r.policy.flips.map(
      (f: { resource: { id: string }; before: string; after: string }) =>
        `${f.resource.id} ${f.before}→${f.after}`,
    );
    assert.deepEqual(flips.sort(), ["/workspace allow→deny", "pypi.org allow→deny", "utcp:shell allow→deny"]);
    const human = await cli(["diff", "localhost/review/wider:1", "localhost/review/base:1"]);
    // The reasons follow deriveRiskTier's order (mounts, binds, then tools), each on its own line below the tier.
    assert.match(human.stdout, /^ {2}risk tier high → medium \(down\)\n {4}no longer: /m);
    assert.match(human.stdout, /^ {4}no longer: TOOL utcp:shell can execute code/m);
    assert.match(human.stdout, /^ {4}no longer: MOUNT \/workspace is read-write$/m);
  });

  test("a policy-only change flips requests; a removed URL narrows the surface", async () => {
    await buildVariant("narrow", {
      agentfile: (a) =>
        a
          .replace("URL https://api.github.com/repos\n", "")
          .replace("ALLOW invoke utcp:grep\n", "DENY invoke utcp:grep\n"),
    });
    const r = await json(["diff", "localhost/review/base:1", "localhost/review/narrow:1"]);
    assert.deepEqual(r.permissions.egressHosts, { added: [], removed: ["api.github.com"] });
    const flips = r.policy.flips.map(
      (f: { resource: { id: string }; before: string; after: string }) =>
        `${f.resource.id} ${f.before}→${f.after}`,
    );
    assert.deepEqual(flips.sort(), ["api.github.com allow→deny", "utcp:grep allow→deny"]);
    const grep = r.policy.flips.find((f: { resource: { id: string } }) => f.resource.id === "utcp:grep");
    assert.deepEqual(grep.determining, [
      { id: grep.determining[0].id, effect: "forbid", origin: { file: "Agentfile", line: 9 } },
    ]);
    assert.deepEqual(
      r.directives.removed.map((d: { directive: string; name: string }) => `${d.directive} ${d.name}`).sort(),
      ["ALLOW invoke utcp:grep", "URL https://api.github.com/repos"],
    );
  });

  test("the same package from the store, a layout directory and oci: layout diff as identical", async () => {
    const layout = join(base, "out-layout");
    await buildVariant("base", {}, { layout });
    const r = await json(["diff", "localhost/review/base:1", layout, "--exit-code"]);
    assert.equal(r.identical, true);
    const viaOci = await json(["diff", `oci:${layout}:1`, "localhost/review/base:1", "--exit-code"]);
    assert.equal(viaOci.identical, true);
  });

  test("usage: two packages are required (exit 2)", async () => {
    const r = await cli(["diff", "localhost/review/base:1", "--json"]);
    assert.equal(r.code, 2);
    assert.match(JSON.parse(r.stdout).error.message, /expected two packages/);
  });
});
