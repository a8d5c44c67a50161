import assert from "node:assert/strict";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { COMMANDS } from "../../src/cli/commands/index.js";
import { schemaValidator } from "../../src/index.js";
import { runCli } from "../helpers/cli.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { testdir } from "../helpers/testdir.js";

/**
 * The CLI contract: every command's --json output validates against its schema in schemas/, always with `ok`,
 * on real inputs (a scaffolded agent, real builds into a temporary store, a real docker-registry with htpasswd).
 */
describe("every command's --json output validates against its schema", () => {
  let registry: TestRegistry;
  let base: string;
  const covered = new Set<string>();
  before(async () => {
    registry = await startRegistry({ mode: "htpasswd" });
    base = await testdir();
  });
  after(() => registry?.stop());

  const env = (store: string): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: join(base, "home"),
    XDG_CONFIG_HOME: join(base, "config"),
    AGENTRC_STORE: join(base, store),
    AGENTRC_CACHE: join(base, "cache"),
  });

  /** Runs `agentrc <args> --json`, checks the exit code and validates stdout against the schema. */
  async function run(
    args: string[],
    options: { store?: string; input?: string; code?: number; schema?: string } = {},
  ): Promise<Record<string, unknown>> {
    // `policy show` and `policy eval` are named by two words; their schemas by both (policy-show-result).
    const twoWords = `${args[0]} ${args[1]}`;
    const command = COMMANDS.some((c) => c.name === twoWords) ? twoWords : args[0]!;
    const r = await runCli([...args, "--json"], {
      env: env(options.store ?? "store"),
      ...(options.input === undefined ? {} : { input: options.input }),
    });
    assert.equal(
      r.code,
      options.code ?? 0,
      `agentrc ${args.join(" ")}: exit ${r.code}\n${r.stdout}\n${r.stderr}`,
    );
    const out = JSON.parse(r.stdout) as Record<string, unknown>;
    const schema = options.schema ?? `${command.replace(" ", "-")}-result.schema.json`;
    const validate = schemaValidator(schema);
    assert.equal(validate(out), true, `${args.join(" ")} vs ${schema}: ${JSON.stringify(validate.errors)}`);
    assert.equal(typeof out.ok, "boolean", `${command} --json has ok`);
    if (schema !== "error-result.schema.json") covered.add(command);
    return out;
  }

  test("init, lint, lock, build, verify, tag, list, rm, prune, inspect, diff, policy show, policy eval, login, push, build --push, pull, install, update, uninstall, kube, promote, logout", async () => {
    const agent = join(base, "agent");
    const ref = `${registry.host}/contract/agent:1.0`;
    const user = registry.users[0]!;

    assert.equal((await run(["init", agent])).agent, "agent");
    assert.equal((await run(["lint", agent])).ok, true);
    assert.equal((await run(["lock", agent])).lockfileStatus, "created");
    assert.equal((await run(["lock", agent])).lockfileStatus, "current");
    const built = await run(["build", agent, "-t", ref]);
    assert.equal(built.ok, true);

    const keys = await run(["key", "generate", join(base, "signer")]);
    assert.equal(keys.encrypted, false);
    const signed = await run(["sign", ref, "--key", join(base, "signer.key")]);
    assert.deepEqual([signed.digest, signed.attachedIn, signed.keyId], [built.digest, "store", keys.keyId]);
    const keyVerified = await run(["verify", ref, "--key", join(base, "signer.pub")]);
    assert.deepEqual(
      (keyVerified.attachments as Array<{ kind: string; status: string }>)
        .map((a) => [a.kind, a.status])
        .sort(),
      [
        ["provenance", "unsigned"],
        ["signature", "verified"],
      ],
    );
    const verified = await run(["verify", ref, "--rebuild", agent]);
    assert.equal(verified.ok, true);
    assert.equal((verified.rebuild as { identical: boolean }).identical, true);

    const tagged = await run(["tag", `oci://${ref}`, "busybox"]);
    assert.equal(tagged.target, "docker.io/library/busybox:latest");
    assert.equal(tagged.digest, built.digest);
    const listed = await run(["list"]);
    assert.deepEqual(
      (listed.packages as Array<{ ref: string }>).map((p) => p.ref).sort(),
      [ref, "docker.io/library/busybox:latest"].sort(),
    );
    const removed = await run(["rm", "busybox"]);
    assert.deepEqual(removed.removed, [
      { request: "busybox", ref: "docker.io/library/busybox:latest", digest: built.digest },
    ]);
    const pruned = await run(["prune"]);
    assert.equal((pruned.store as { deleted: number }).deleted, 0, "rm of one of two tags frees nothing");
    assert.equal(typeof (pruned.cache as { entries: number }).entries, "number");
    const missingRm = await run(["rm", "localhost/none:1"], { code: 1, schema: "error-result.schema.json" });
    assert.equal((missingRm.error as { code: string }).code, "OCI_REF_NOT_FOUND");
    assert.equal(((await run(["inspect", ref])).descriptor as { digest: string }).digest, built.digest);
    assert.equal(
      ((await run(["inspect", `oci://${ref}`])).descriptor as { digest: string }).digest,
      built.digest,
    );

    const layout = join(base, "layout");
    await run(["build", agent, "-t", ref, "-o", layout]);
    const same = await run(["diff", ref, layout, "--exit-code"]);
    assert.equal(same.identical, true);
    // an OCI layout has no registry scope: the trust policy's default decides (docs/trust.md)
    const defaultPolicy = join(base, "default-signature.json");
    await writeFile(
      defaultPolicy,
      JSON.stringify({ version: 1, default: { require: "signature", keys: [join(base, "signer.pub")] } }),
    );
    const unsignedLayout = await run(["verify", `oci:${layout}`, "--trust-policy", defaultPolicy], {
      code: 1,
    });
    assert.deepEqual(
      (unsignedLayout.failures as Array<{ check: string; code: string; part: string }>)
        .filter((f) => f.check === "trust-policy")
        .map((f) => [f.code, f.part]),
      [["TRUST_POLICY_VIOLATION", "scope default"]],
    );
    const shown = await run(["policy", "show", ref]);
    assert.equal(shown.hashMatches, true);
    const allowed = await run(["policy", "eval", ref, "--action", "invoke", "--resource", "file_read"]);
    assert.equal(allowed.decision, "allow");
    const denied = await run(["policy", "eval", layout, "--action", "egress", "--resource", "example.com"], {
      code: 1,
    });
    assert.equal(denied.decision, "deny");
    const badContext = await run(
      ["policy", "eval", ref, "--action", "invoke", "--resource", "file_read", "--context", "{"],
      { code: 2, schema: "error-result.schema.json" },
    );
    assert.equal((badContext.error as { code: string }).code, "USAGE");

    await run(["login", registry.host, "-u", user.name, "--password-stdin"], { input: `${user.password}\n` });
    const pushed = await run(["push", ref]);
    assert.equal(pushed.digest, built.digest);
    const pushedOci = await run(["push", `oci://${ref}`]);
    assert.deepEqual([pushedOci.digest, pushedOci.tag], [built.digest, "1.0"]);
    const buildPush = await run([
      "build",
      agent,
      "-t",
      `${registry.host}/contract/agent:2.0`,
      "--push",
      "--image",
    ]);
    assert.deepEqual(
      (buildPush.pushed as Array<{ tag: string }>).map((p) => p.tag),
      ["2.0", "2.0-image"],
      "the image follows the package (docs/image.md)",
    );
    assert.equal(typeof (buildPush.image as { digest: string }).digest, "string");

    // an agent FROM the pushed package: lock --update reports its dependencies, inspect their origins
    const child = join(base, "child");
    await mkdir(child, { recursive: true });
    await writeFile(join(child, "Agentfile"), `AGENT child\nFROM ${ref}\nAUDIT all\n`);
    const updated = await run(["lock", "--update", "-C", child]);
    assert.deepEqual(
      (updated.updates as Array<{ kind: string; after: string; moved: boolean }>).map((u) => [
        u.kind,
        u.after,
        u.moved,
      ]),
      [["base", built.digest, true]],
    );
    const childBuilt = await run(["build", child, "-t", "localhost/contract/child:1"]);
    assert.equal(childBuilt.ok, true);
    const childReport = (await run(["inspect", "localhost/contract/child:1"])).report as {
      base: { chain: Array<{ digest: string }> };
    };
    assert.deepEqual(
      childReport.base.chain.map((c) => c.digest),
      [built.digest],
    );

    const pulled = await run(["pull", ref, "-o", join(base, "unpacked")], { store: "store-pull" });
    assert.equal(pulled.digest, built.digest);
    const pulledOci = await run(["pull", `oci://${ref}`], { store: "store-pull-oci" });
    assert.deepEqual([pulledOci.digest, pulledOci.tag], [built.digest, ref]);
    const remote = await run(["inspect", `oci://${ref}`, "--remote"], { store: "store-empty" });
    assert.equal((await run(["verify", ref, "--remote"], { store: "store-empty" })).kind, "registry");
    assert.equal((remote.descriptor as { digest: string }).digest, built.digest);
    const installed = await run(["install", ref, "--skills-dir", join(base, "skills")]);
    assert.deepEqual(
      [installed.status, (installed.installed as { digest: string }).digest],
      ["installed", built.digest],
    );
    const listedInstalled = await run(["list", "--installed"], {
      schema: "list-installed-result.schema.json",
    });
    assert.equal((listedInstalled.installed as unknown[]).length, 1);
    const updates = await run(["update", "--all"]);
    assert.equal((updates.updates as Array<{ status: string }>)[0]!.status, "current");
    const uninstalled = await run(["uninstall", "agent"]);
    assert.equal((uninstalled.removed as { digest: string }).digest, built.digest);
    const kubed = await run(["kube", ref, "--pull-secret", "regcred"]);
    assert.deepEqual(
      [kubed.mode, kubed.package],
      ["artifact", `${registry.host}/contract/agent@${built.digest}`],
    );
    const promoted = await run(["promote", ref, "--to", "testing"]);
    assert.deepEqual([promoted.digest, promoted.added], [built.digest, ["1.0-testing"]]);
    const promotedInspect = await run(
      ["inspect", `${registry.host}/contract/agent:1.0-testing`, "--remote"],
      {
        store: "store-empty",
      },
    );
    assert.equal((promotedInspect.promotion as { state: string }).state, "testing");
    assert.equal((await run(["logout", registry.host])).removed, true);

    const missing = await run(["inspect", `${registry.host}/contract/none:1`], {
      code: 1,
      schema: "error-result.schema.json",
    });
    assert.equal((missing.error as { code: string }).code, "OCI_REF_NOT_FOUND");

    assert.deepEqual(
      [...covered].sort(),
      COMMANDS.map((c) => c.name).sort(),
      "every command's --json output was validated",
    );
  });
});
