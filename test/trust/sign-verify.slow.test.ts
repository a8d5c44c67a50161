import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RegistryClient } from "../../src/registry/client.js";
import { loadPublicKey } from "../../src/trust/keys.js";
import { FIXTURES } from "../helpers/build.js";
import { copyTree } from "../helpers/copyTree.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { storeCli } from "../helpers/storeEnv.js";

/**
 * The "done when": a package built and pushed with a key verifies with the public key alone from a clean
 * machine (a fresh store), fails with another key; a trust policy refuses an unsigned FROM base before anything is
 * written. Against the real docker-registry (distribution 2.8: no referrers API, so the sha256-<hex> tag fallback).
 */
let base: string;
let registry: TestRegistry;
before(async () => {
  base = await mkdtemp(join(tmpdir(), "agentrc-trust-"));
  registry = await startRegistry({ mode: "open" });
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

const cli = (args: string[], store: string) => storeCli(base, args, store);

describe("sign, push, verify from a clean store; trust policy", () => {
  test("build --push --sign-key; verify --remote with the key alone; another key fails; the policy gates pull and FROM", async () => {
    const agent = join(base, "agent");
    await copyTree(join(FIXTURES, "agents/full"), agent);
    for (const k of ["good", "other"]) {
      const r = await cli(["key", "generate", join(base, k)], "keys");
      assert.equal(r.code, 0, r.stderr);
    }
    assert.equal(((await stat(join(base, "good.key"))).mode & 0o777).toString(8), "600");
    const signedRef = `${registry.host}/trust/signed:1`;
    const built = await cli(
      ["build", agent, "-t", signedRef, "--push", "--sign-key", join(base, "good.key"), "--json"],
      "builder",
    );
    assert.equal(built.code, 0, built.stdout + built.stderr);
    const digest = (JSON.parse(built.stdout) as { digest: string }).digest;

    // The registry has no referrers API: the signature and the provenance are listed under the fallback tag.
    const client = new RegistryClient(registry.host, registry.clientOptions());
    try {
      const listed = await client.listReferrers("trust/signed", digest);
      assert.equal(listed.source, "tag");
      assert.equal(listed.manifests.length, 2);
    } finally {
      await client.close();
    }

    // A clean machine: a fresh store, only the public key.
    const ok = await cli(
      ["verify", signedRef, "--remote", "--key", join(base, "good.pub"), "--json"],
      "clean",
    );
    assert.equal(ok.code, 0, ok.stdout);
    const report = JSON.parse(ok.stdout) as {
      attachments: Array<{ kind: string; status: string }>;
      provenance: { signed: boolean; builder: string };
    };
    assert.deepEqual(report.attachments.map((a) => [a.kind, a.status]).sort(), [
      ["provenance", "verified"],
      ["signature", "verified"],
    ]);
    assert.equal(report.provenance.signed, true);
    const wrong = await cli(
      ["verify", signedRef, "--remote", "--key", join(base, "other.pub"), "--json"],
      "clean",
    );
    assert.equal(wrong.code, 1);
    const failures = (JSON.parse(wrong.stdout) as { failures: Array<{ code: string; message: string }> })
      .failures;
    assert.deepEqual(
      failures.map((f) => f.code),
      ["TRUST_KEY_MISMATCH"],
    );
    assert.match(failures[0]!.message, /has 1 signature, none by .*other\.pub/);

    // inspect shows the signer (by key id, unverified: inspect takes no key) and the signed provenance.
    const inspected = await cli(["inspect", signedRef, "--remote", "--json"], "clean");
    assert.equal(inspected.code, 0, inspected.stdout + inspected.stderr);
    const shown = (
      JSON.parse(inspected.stdout) as {
        report: { signatures: Array<{ keyId: string; status: string }>; provenance: { signed: boolean } };
      }
    ).report;
    assert.deepEqual(
      shown.signatures.map((s) => [s.keyId, s.status]),
      [[(await loadPublicKey(join(base, "good.pub"))).keyId, "unverified"]],
    );
    assert.equal(shown.provenance.signed, true);

    // An unsigned package in the same registry.
    const unsignedRef = `${registry.host}/trust/unsigned:1`;
    const plain = await cli(["build", agent, "-t", unsignedRef, "--push"], "builder");
    assert.equal(plain.code, 0, plain.stderr);

    const policy = join(base, "policy.json");
    await writeFile(
      policy,
      JSON.stringify({
        version: 1,
        default: { require: "reject" },
        scopes: { [`${registry.host}/trust`]: { require: "signature", keys: ["good.pub"] } },
      }),
    );
    // pull of the signed package passes the policy and brings its referrers along.
    const pulled = await cli(["pull", signedRef, "--trust-policy", policy, "--json"], "pull-signed");
    assert.equal(pulled.code, 0, pulled.stdout + pulled.stderr);
    const pulledJson = JSON.parse(pulled.stdout) as {
      trust: { scope: string; signers: string[] };
      referrers: unknown[];
    };
    assert.equal(pulledJson.trust.scope, `${registry.host}/trust`);
    assert.equal(pulledJson.referrers.length, 2);
    const offline = await cli(["verify", signedRef, "--key", join(base, "good.pub")], "pull-signed");
    assert.equal(offline.code, 0, offline.stdout + offline.stderr);

    // The unsigned package is refused before anything is written: no store, no -o directory.
    const out = join(base, "unpacked");
    const refused = await cli(
      ["pull", unsignedRef, "-o", out, "--trust-policy", policy, "--json"],
      "pull-unsigned",
    );
    assert.equal(refused.code, 1);
    const error = (JSON.parse(refused.stdout) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, "TRUST_POLICY_VIOLATION");
    assert.match(error.message, new RegExp(`scope "${registry.host}/trust": .*TRUST_SIGNATURE_MISSING`));
    await assert.rejects(stat(out), { code: "ENOENT" });
    const store = await readdir(join(base, "pull-unsigned", "blobs", "sha256")).catch(() => []);
    assert.deepEqual(store, [], "no blob was written");

    // A build whose FROM is the unsigned package fails before the lock (or anything) is written.
    const child = join(base, "child");
    await mkdir(child, { recursive: true });
    await writeFile(join(child, "Agentfile"), `AGENT child\nFROM ${unsignedRef}\nAUDIT all\n`);
    const childBuild = await cli(["build", child, "--trust-policy", policy, "--json"], "child-store");
    assert.equal(childBuild.code, 1, childBuild.stdout);
    const diagnostics = (
      JSON.parse(childBuild.stdout) as {
        diagnostics: Array<{ code: string; message: string; severity: string }>;
      }
    ).diagnostics;
    assert.deepEqual(
      diagnostics.filter((d) => d.severity !== "warning").map((d) => d.code),
      ["TRUST_POLICY_VIOLATION"],
    );
    assert.match(diagnostics.find((d) => d.code === "TRUST_POLICY_VIOLATION")!.message, /^FROM .*scope/);
    assert.deepEqual((await readdir(child)).sort(), ["Agentfile"], "no agentrc.lock written");
    // With the signed base it builds.
    await writeFile(join(child, "Agentfile"), `AGENT child\nFROM ${signedRef}\nAUDIT all\n`);
    const good = await cli(["build", child, "--trust-policy", policy], "child-store");
    assert.equal(good.code, 0, good.stderr);

    // An unsigned skill package behind SKILL oci:// is refused the same way, before anything is written.
    const skillDir = join(base, "skill");
    await mkdir(skillDir, { recursive: true });
    await writeFile(
      join(skillDir, "SKILL.md"),
      "---\nname: triage\ndescription: Triage issues.\n---\n\n# Triage\n",
    );
    const skillRef = `${registry.host}/trust/skill:1`;
    const skillPush = await cli(["build", skillDir, "-t", skillRef, "--push"], "builder");
    assert.equal(skillPush.code, 0, skillPush.stdout + skillPush.stderr);
    const user = join(base, "skill-user");
    await mkdir(user, { recursive: true });
    await writeFile(join(user, "Agentfile"), `AGENT user\nSKILL oci://${skillRef}\nAUDIT all\n`);
    const skillBuild = await cli(["build", user, "--trust-policy", policy, "--json"], "skill-store");
    assert.equal(skillBuild.code, 1, skillBuild.stdout);
    const skillDiagnostics = (
      JSON.parse(skillBuild.stdout) as {
        diagnostics: Array<{ code: string; message: string; severity: string }>;
      }
    ).diagnostics.filter((d) => d.severity !== "warning");
    assert.deepEqual(
      skillDiagnostics.map((d) => d.code),
      ["TRUST_POLICY_VIOLATION"],
    );
    assert.match(
      skillDiagnostics[0]!.message,
      new RegExp(`scope "${registry.host}/trust": .*TRUST_SIGNATURE_MISSING`),
    );
    assert.deepEqual((await readdir(user)).sort(), ["Agentfile"], "no agentrc.lock written");
    const skillStore = await readdir(join(base, "skill-store", "blobs", "sha256")).catch(() => []);
    assert.deepEqual(skillStore, [], "no blob was written");
  });
  test("a package copied by skopeo keeps its signature verifiable when the sha256-<hex> fallback tag is copied too", async () => {
    const agent = join(base, "agent-skopeo");
    await copyTree(join(FIXTURES, "agents/full"), agent);
    const key = join(base, "skopeo-key");
    assert.equal((await cli(["key", "generate", key], "keys")).code, 0);
    const src = `${registry.host}/skopeo/src:1`;
    const built = await cli(
      ["build", agent, "-t", src, "--push", "--sign-key", `${key}.key`, "--json"],
      "skopeo",
    );
    assert.equal(built.code, 0, built.stderr);
    const digest = (JSON.parse(built.stdout) as { digest: string }).digest;
    const tag = `sha256-${digest.slice("sha256:".length)}`;
    const copy = (from: string, to: string) =>
      spawnSync("skopeo", ["copy", "--all", "--src-tls-verify=false", "--dest-tls-verify=false", from, to], {
        encoding: "utf8",
      });
    const dst = `${registry.host}/skopeo/dst`;
    const image = copy(`docker://${src}`, `docker://${dst}:1`);
    assert.equal(image.status, 0, image.stderr);
    // skopeo copies the image only: without the fallback tag the copy has no signature.
    const bare = await cli(
      ["verify", `${dst}:1`, "--remote", "--key", `${key}.pub`, "--json"],
      "clean-skopeo",
    );
    assert.deepEqual(
      (JSON.parse(bare.stdout) as { failures: Array<{ code: string }> }).failures.map((f) => f.code),
      ["TRUST_SIGNATURE_MISSING"],
    );
    const fallback = copy(`docker://${registry.host}/skopeo/src:${tag}`, `docker://${dst}:${tag}`);
    assert.equal(fallback.status, 0, fallback.stderr);
    const ok = await cli(["verify", `${dst}:1`, "--remote", "--key", `${key}.pub`], "clean-skopeo");
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const pulled = await cli(["pull", `${dst}:1`], "pull-skopeo");
    assert.equal(pulled.code, 0, pulled.stderr);
    const local = await cli(["verify", `${dst}:1`, "--key", `${key}.pub`], "pull-skopeo");
    assert.equal(local.code, 0, local.stdout + local.stderr);
  });
});
