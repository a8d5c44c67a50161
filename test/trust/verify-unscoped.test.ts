import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { build, sign, type VerifyResult, verify } from "../../src/api.js";
import { schemaValidator } from "../../src/schema/validate.js";
import { generateKeyPair } from "../../src/trust/keys.js";
import { runCli } from "../helpers/cli.js";

/**
 * `verify oci:<layout>` and `oci-archive:<file>` under a trust policy: they have no registry scope, so the policy's
 * `default` decides (as podman's `default` does for its oci transports); a source directory says the policy does
 * not apply. docs/trust.md "Trust policy".
 */
describe("verify of an OCI layout or archive applies the policy's default", () => {
  let base: string;
  let agent: string;
  let layout: string;
  let archive: string;
  let policy: string;
  let noDefault: string;
  const env = () => ({ XDG_CONFIG_HOME: join(base, "no-user-policy") });
  before(async () => {
    base = await mkdtemp(join(tmpdir(), "agentrc-verify-unscoped-"));
    agent = join(base, "agent");
    await mkdir(agent);
    await writeFile(join(agent, "Agentfile"), "AGENT app\nAUDIT basic\n");
    layout = join(base, "layout");
    archive = join(base, "agent.tar");
    for (const [output, outputFormat] of [
      [layout, "oci"],
      [archive, "oci-archive"],
    ] as const) {
      const r = await build({
        dir: agent,
        cacheDir: join(base, "cache"),
        config: { build: { output, outputFormat } },
        env: env(),
      });
      assert.deepEqual(
        r.diagnostics.filter((d) => d.severity === "error"),
        [],
      );
    }
    const pair = await generateKeyPair();
    await writeFile(join(base, "signer.pub"), pair.publicKeyPem);
    await writeFile(join(base, "signer.key"), pair.privateKeyPem, { mode: 0o600 });
    policy = join(base, "policy.json");
    await writeFile(
      policy,
      JSON.stringify({
        version: 1,
        default: { require: "signature", keys: ["signer.pub"] },
        scopes: { "localhost:5000": { require: "none" } },
      }),
    );
    noDefault = join(base, "scopes-only.json");
    await writeFile(
      noDefault,
      JSON.stringify({ version: 1, scopes: { "localhost:5000": { require: "reject" } } }),
    );
  });
  after(() => rm(base, { recursive: true, force: true }));

  const policyCheck = (r: VerifyResult) => r.checks.find((c) => c.name === "trust-policy");
  const validJson = (r: VerifyResult) => {
    const validate = schemaValidator("verify-result.schema.json");
    assert.equal(validate({ version: 1, ...r }), true, JSON.stringify(validate.errors));
  };

  test("unsigned layout and archive: refused by the default, TRUST_POLICY_VIOLATION with the reason", async () => {
    for (const [target, what] of [
      [`oci:${layout}`, "an OCI layout"],
      [`oci-archive:${archive}`, "an OCI archive"],
    ] as const) {
      const r = await verify(target, { trustPolicy: policy, cwd: base, env: env() });
      validJson(r);
      assert.equal(r.ok, false);
      assert.deepEqual(policyCheck(r), {
        name: "trust-policy",
        status: "failed",
        detail: `${what} has no registry scope: scope "default": refused`,
      });
      const failures = r.failures.filter((f) => f.check === "trust-policy");
      assert.deepEqual(
        failures.map((f) => [f.code, f.part]),
        [["TRUST_POLICY_VIOLATION", "scope default"]],
      );
      assert.match(
        failures[0]!.message,
        /scope "default": it requires signatures by .*TRUST_SIGNATURE_MISSING/,
      );
    }
  });

  test("a policy without default accepts the layout, and says which scope decided", async () => {
    const r = await verify(`oci:${layout}`, { trustPolicy: noDefault, cwd: base, env: env() });
    validJson(r);
    assert.equal(r.ok, true, JSON.stringify(r.failures));
    assert.deepEqual(r.trust, { scope: "default", requirement: "none", policy: noDefault, signers: [] });
    assert.equal(
      policyCheck(r)?.detail,
      'an OCI layout has no registry scope: scope "default" requires none: satisfied',
    );
  });

  test("signed layout: accepted, in the human output and --json", async () => {
    const copy = join(base, "signed-layout");
    await build({
      dir: agent,
      cacheDir: join(base, "cache"),
      config: { build: { output: copy } },
      env: env(),
    });
    await sign(`oci:${copy}`, { key: join(base, "signer.key"), cwd: base, env: env() });
    const r = await verify(`oci:${copy}`, { trustPolicy: policy, cwd: base, env: env() });
    validJson(r);
    assert.equal(r.ok, true, JSON.stringify(r.failures));
    assert.deepEqual(
      [r.trust?.scope, r.trust?.requirement, r.trust?.signers.length],
      ["default", "signature", 1],
    );
    const human = await runCli(["verify", `oci:${copy}`, "--trust-policy", policy], {
      cwd: base,
      env: env(),
    });
    assert.equal(human.code, 0, human.stderr);
    assert.match(
      human.stdout,
      /✔ trust-policy +an OCI layout has no registry scope: scope "default" requires signature: satisfied/,
    );
    const json = await runCli(["verify", `oci:${copy}`, "--trust-policy", policy, "--json"], {
      cwd: base,
      env: env(),
    });
    assert.equal(JSON.parse(json.stdout).trust.scope, "default");
  });

  test("a source directory: the policy does not apply, and the output says so", async () => {
    const r = await verify(agent, {
      trustPolicy: policy,
      cwd: base,
      env: env(),
      cacheDir: join(base, "cache"),
    });
    validJson(r);
    assert.equal(r.trust, undefined);
    assert.deepEqual(policyCheck(r), {
      name: "trust-policy",
      status: "skipped",
      detail:
        "a source directory built here has no registry scope and no signatures: the trust policy does not apply",
    });
  });
});
