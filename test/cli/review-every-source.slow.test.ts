import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { appendFile, mkdir, mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { registry as registryLib } from "../../src/core.js";
import { build, push, schemaValidator } from "../../src/index.js";
import { FIXTURES } from "../helpers/build.js";
import { runBinAsync, runCli } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

/**
 * `inspect`, `verify`, `diff`, `policy show` and `policy eval` take every form of package reference (issue 9): the
 * local store, an OCI layout (a path and `oci:<dir>:<tag>`), an oci-archive (a path and `oci-archive:<file>:<tag>`),
 * the real test registry (a reference the store lacks, and `--remote`), and an agent source directory, built in
 * memory. Every output validates against its schema; the exit codes are 0 (success), 1 (a failed check, a
 * difference with --exit-code, a deny) and 2 (usage). Cedar is the real engine.
 */
let registry: TestRegistry;
let base: string;
const digests: Record<"base" | "wider", string> = { base: "", wider: "" };
const dirs: Record<"base" | "wider", string> = { base: "", wider: "" };

/** The wider agent: one more tool, allowed, and one more egress host. */
const WIDER = "TOOL utcp:grep\nALLOW invoke utcp:grep\nURL https://example.org/api\n";

before(async () => {
  delete process.env.SOURCE_DATE_EPOCH;
  registry = await startRegistry({ mode: "open" });
  base = await mkdtemp(join(tmpdir(), "agentrc-review-sources-"));
  for (const name of ["base", "wider"] as const) {
    const dir = join(base, `src-${name}`);
    await copyTree(join(FIXTURES, "agents/full"), dir);
    if (name === "wider") await appendFile(join(dir, "Agentfile"), WIDER);
    dirs[name] = dir;
    // Into the store (tagged for the registry), a layout, and an archive; the first build writes the lock.
    const ref = `${registry.host}/review/${name}:1`;
    for (const output of [
      { tags: [ref], store: join(base, "store") },
      // A layout and an archive are tagged with the tag part of the reference (`oci:<dir>:1`).
      { tags: [ref], output: join(base, `layout-${name}`) },
      { tags: [ref], output: join(base, `${name}.tar`), outputFormat: "oci-archive" as const },
    ]) {
      const r = await build({ dir, cacheDir: join(base, "cache"), config: { build: output } });
      assert.equal(r.errorCount, 0, JSON.stringify(r.diagnostics));
      digests[name] ||= r.compilation.package!.descriptor.digest;
      assert.equal(r.compilation.package!.descriptor.digest, digests[name], `${name} builds reproducibly`);
    }
    await push(ref, { ...registry.clientOptions(), store: join(base, "store") });
  }
  assert.notEqual(digests.base, digests.wider);
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

/** Each form of reference, for the agent `name`, and the store the CLI runs with. */
const FORMS: Array<{
  form: string;
  kind: string;
  target: (name: "base" | "wider") => string;
  store: string;
  flags?: string[];
}> = [
  { form: "the local store", kind: "store", target: (n) => `${registry.host}/review/${n}:1`, store: "store" },
  { form: "a layout directory", kind: "layout", target: (n) => join(base, `layout-${n}`), store: "none" },
  {
    form: "oci:<dir>:<tag>",
    kind: "layout",
    target: (n) => `oci:${join(base, `layout-${n}`)}:1`,
    store: "none",
  },
  { form: "an oci-archive file", kind: "archive", target: (n) => join(base, `${n}.tar`), store: "none" },
  {
    form: "oci-archive:<file>:<tag>",
    kind: "archive",
    target: (n) => `oci-archive:${join(base, `${n}.tar`)}:1`,
    store: "none",
  },
  {
    form: "the registry (a reference the store lacks)",
    kind: "registry",
    target: (n) => `${registry.host}/review/${n}:1`,
    store: "none",
  },
  {
    form: "the registry with --remote (the store has it)",
    kind: "registry",
    target: (n) => `${registry.host}/review/${n}:1`,
    store: "store",
    flags: ["--remote"],
  },
  { form: "an agent source directory", kind: "source", target: (n) => dirs[n], store: "none" },
];

const env = (store: string): NodeJS.ProcessEnv => ({
  HOME: join(base, "home"),
  XDG_CONFIG_HOME: join(base, "config"),
  AGENTRC_STORE: join(base, store),
  AGENTRC_CACHE: join(base, `cache-${store}`),
});

// biome-ignore lint/suspicious/noExplicitAny: the CLI's JSON, checked against its schema before it is read
type Json = Record<string, any>;

/** `agentrc <args> --json`: the exit code, and stdout validated against the command's result schema. */
async function run(args: string[], store: string, code: number, schema: string) {
  const r = await runCli([...args, "--json"], { env: env(store), cwd: base });
  assert.equal(r.code, code, `agentrc ${args.join(" ")}: exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  const out = JSON.parse(r.stdout) as Record<string, unknown>;
  const validate = schemaValidator(schema);
  assert.equal(validate(out), true, `${args.join(" ")} vs ${schema}: ${JSON.stringify(validate.errors)}`);
  return out as Json;
}

/** The diff of base → wider as the store sees it: every other form must give the same answer. */
let expectedDiff: Record<string, unknown>;
const comparable = (d: Json) => {
  const { a: _a, b: _b, ...rest } = d;
  return rest;
};

describe("every review command takes every form of package reference", () => {
  for (const { form, kind, target, store, flags = [] } of FORMS) {
    test(form, async () => {
      const a = target("base");
      const b = target("wider");

      const inspected = await run(["inspect", a, ...flags], store, 0, "inspect-result.schema.json");
      assert.equal(inspected.kind, kind);
      assert.equal(inspected.descriptor.digest, digests.base);

      const verified = await run(["verify", a, ...flags], store, 0, "verify-result.schema.json");
      assert.deepEqual([verified.kind, verified.ok, verified.failures], [kind, true, []]);

      const same = await run(["diff", a, a, "--exit-code", ...flags], store, 0, "diff-result.schema.json");
      assert.equal(same.identical, true);
      const diff = await run(["diff", a, b, "--exit-code", ...flags], store, 1, "diff-result.schema.json");
      assert.deepEqual([diff.a.digest, diff.b.digest, diff.differ], [digests.base, digests.wider, true]);
      assert.deepEqual(
        diff.directives.added
          .map((d: { directive: string; name: string }) => `${d.directive} ${d.name}`)
          .sort(),
        ["ALLOW invoke utcp:grep", "TOOL utcp:grep", "URL https://example.org/api"],
      );
      assert.deepEqual(diff.permissions.egressHosts.added, ["example.org"]);
      // Asked of Cedar: invoking grep flips from deny to allow, by the ALLOW line the wider Agentfile added.
      const grep = diff.policy.flips.find((f: { resource: { id: string } }) => f.resource.id === "utcp:grep");
      assert.deepEqual([grep?.action, grep?.before, grep?.after], ["tool.invoke", "deny", "allow"]);
      expectedDiff ??= comparable(diff);
      assert.deepEqual(comparable(diff), expectedDiff, "the same diff as from the store");

      const shown = await run(["policy", "show", a, ...flags], store, 0, "policy-show-result.schema.json");
      assert.deepEqual([shown.digest, shown.hashMatches], [digests.base, true]);
      assert.match(shown.text, /forbid \(/);
      assert.ok(
        shown.policies.some((p: { origin?: { file: string } }) => p.origin?.file === "policy/agent.cedar"),
        "each policy names the .cedar file it came from",
      );

      const allowed = await run(
        ["policy", "eval", a, "--action", "invoke", "--resource", "file_read", ...flags],
        store,
        0,
        "policy-eval-result.schema.json",
      );
      assert.deepEqual([allowed.decision, allowed.digest], ["allow", digests.base]);
      const denied = await run(
        ["policy", "eval", a, "--action", "invoke", "--resource", "utcp:shell", ...flags],
        store,
        1,
        "policy-eval-result.schema.json",
      );
      assert.equal(denied.decision, "deny");
      assert.deepEqual(
        denied.determining.map((p: { effect: string; origin?: { file: string } }) => [
          p.effect,
          p.origin?.file,
        ]),
        [["forbid", "policy/agent.cedar"]],
      );

      const usage = await run(["policy", "eval", a, ...flags], store, 2, "error-result.schema.json");
      assert.equal(usage.error.code, "USAGE");
      assert.match(usage.error.message, /--action/);
    });
  }
});

/** Every file of a tree with its bytes' digest and mtime: what "nothing written" compares. */
async function snapshot(dir: string): Promise<string[]> {
  const out: string[] = [];
  const walk = async (d: string) => {
    for (const e of await readdir(d, { withFileTypes: true })) {
      const p = join(d, e.name);
      if (e.isDirectory()) await walk(p);
      else {
        const s = await stat(p);
        const hash = createHash("sha256")
          .update(await readFile(p))
          .digest("hex");
        out.push(`${relative(dir, p)} ${hash} ${s.mtimeMs}`);
      }
    }
  };
  await walk(dir);
  return out.sort();
}

test("an agent source directory is built in memory: no store, no build cache, no lock rewrite, no temporary left", async () => {
  // A stale lock (one more tool than it pins) shows that the lock is resolved in memory and not rewritten.
  const dir = join(base, "src-untouched");
  await copyTree(dirs.wider, dir);
  // A configuration that writes a shared build cache on every build: opening the tree must not write it either.
  const leak = `${registry.host}/review/leak:buildcache`;
  await writeFile(join(dir, ".agentrcrc.json"), JSON.stringify({ build: { cacheTo: leak } }));
  const before = await snapshot(dir);
  const tmp = join(base, "tmp");
  await mkdir(tmp);
  const processEnv = { ...env("store-untouched"), TMPDIR: tmp };
  for (const args of [
    ["policy", "show", dir],
    ["policy", "eval", dir, "--action", "invoke", "--resource", "grep"],
    ["diff", dir, dirs.base],
    ["inspect", dir],
    ["verify", dir],
  ]) {
    const r = await runBinAsync([...args, "--json"], { env: processEnv, cwd: base });
    assert.equal(r.code, 0, `${args.join(" ")}: ${r.stdout}${r.stderr}`);
    assert.equal(JSON.parse(r.stdout).ok, true);
  }
  assert.deepEqual(await snapshot(dir), before, "the source tree is unchanged");
  await assert.rejects(stat(join(base, "store-untouched")), /ENOENT/, "no store was created");
  await assert.rejects(stat(join(base, "cache-store-untouched")), /ENOENT/, "no build cache was created");
  assert.deepEqual(await readdir(tmp), [], "the temporary layouts and caches are gone");
  const client = new registryLib.RegistryClient(registry.host, registry.clientOptions());
  try {
    assert.equal(
      await client.headManifest("review/leak", "buildcache"),
      undefined,
      "no shared cache was written",
    );
  } finally {
    await client.close();
  }
});
