import assert from "node:assert/strict";
import { createPrivateKey } from "node:crypto";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { projectTrustPolicy, resolveOptions } from "../../src/api.js";
import { attachReferrer } from "../../src/oci/referrers.js";
import { LocalStore } from "../../src/oci/store.js";
import { LayoutTarget } from "../../src/transfer/layoutTarget.js";
import {
  bundleReferrerOptions,
  keySigner,
  SIGNATURE_PREDICATE_TYPE,
  signStatement,
  statementAbout,
} from "../../src/trust/bundles.js";
import { checkTrust } from "../../src/trust/check.js";
import { generateKeyPair } from "../../src/trust/keys.js";
import {
  loadTrustPolicyFile,
  parseTrustPolicy,
  requirementFor,
  resolveTrustPolicy,
  type TrustPolicy,
} from "../../src/trust/policy.js";

let base: string;
let keyA: { publicKeyPem: string; privateKeyPem: string };
let keyB: { publicKeyPem: string; privateKeyPem: string };
before(async () => {
  base = await mkdtemp(join(tmpdir(), "agentrc-policy-"));
  keyA = await generateKeyPair();
  keyB = await generateKeyPair();
});
after(() => rm(base, { recursive: true, force: true }));

const WHERE = () => ({ source: join(base, "p.json"), baseDir: base });
const parse = (doc: unknown) => parseTrustPolicy(doc, WHERE());
const signature = () => ({ require: "signature", keys: [keyA.publicKeyPem] });
const decide = (policy: TrustPolicy, ref: string) => {
  const { scope, requirement } = requirementFor(policy, ref);
  return `${scope} ${requirement.require}`;
};

/** Rejects with TRUST_POLICY_INVALID whose message contains every one of `parts`. */
async function invalid(promise: Promise<unknown>, ...parts: string[]): Promise<void> {
  await assert.rejects(promise, (e: Error & { code?: string }) => {
    assert.equal(e.code, "TRUST_POLICY_INVALID", e.message);
    for (const p of parts) assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`);
    return true;
  });
}

describe("scopes are normalised as references are", () => {
  test("upper-case hosts and Docker Hub aliases match the references they name", async () => {
    const policy = await parse({
      version: 1,
      scopes: {
        "GHCR.io/acme": { require: "reject" },
        "Index.Docker.io/library": { require: "reject" },
        "registry-1.docker.io/org": { require: "reject" },
        "docker.io/ubuntu": { require: "reject" },
        "LOCALHOST:5000": { require: "reject" },
      },
    });
    assert.equal(decide(policy, "ghcr.io/acme/app:1"), "GHCR.io/acme reject");
    assert.equal(decide(policy, "GHCR.io/acme/app:1"), "GHCR.io/acme reject");
    assert.equal(decide(policy, "ghcr.io/other/app:1"), "default none");
    assert.equal(decide(policy, "alpine"), "Index.Docker.io/library reject");
    assert.equal(decide(policy, "index.docker.io/library/alpine"), "Index.Docker.io/library reject");
    assert.equal(decide(policy, "docker.io/org/x"), "registry-1.docker.io/org reject");
    assert.equal(decide(policy, "registry-1.docker.io/org/x"), "registry-1.docker.io/org reject");
    // `docker.io/ubuntu` is docker.io/library/ubuntu (the more specific of the two docker.io scopes here)...
    assert.equal(decide(policy, "ubuntu:22.04"), "docker.io/ubuntu reject");
    assert.equal(decide(policy, "docker.io/library/ubuntu"), "docker.io/ubuntu reject");
    // ...and the namespace of that name (Canonical's ubuntu/* images)
    assert.equal(decide(policy, "ubuntu/nginx:1"), "docker.io/ubuntu reject");
    assert.equal(decide(policy, "localhost:5000/x"), "LOCALHOST:5000 reject");
  });

  test("a scope no reference can match, or that cannot be normalised, is TRUST_POLICY_INVALID naming file and scope", async () => {
    const file = WHERE().source;
    const one = (scope: string) => parse({ version: 1, scopes: { [scope]: { require: "reject" } } });
    await invalid(one("ubuntu"), file, 'scope "ubuntu"', 'write "docker.io/ubuntu"');
    await invalid(one("acme/app"), file, 'scope "acme/app"', "registry host");
    await invalid(one("example.com:99999/x"), file, 'scope "example.com:99999/x"', "cannot be normalised");
    await invalid(one("-bad.example/x"), file, 'scope "-bad.example/x"', "cannot be normalised");
  });

  test("two scopes naming the same thing are refused", async () => {
    await invalid(
      parse({
        version: 1,
        scopes: { "GHCR.io/acme": { require: "reject" }, "ghcr.io/acme": { require: "none" } },
      }),
      'scopes "GHCR.io/acme" and "ghcr.io/acme" both name ghcr.io/acme',
    );
    await invalid(
      parse({
        version: 1,
        scopes: {
          "docker.io/ubuntu": { require: "reject" },
          "docker.io/library/ubuntu": { require: "none" },
        },
      }),
      "both name docker.io/library/ubuntu",
    );
  });
});

test('`default` and a `"*"` scope together are refused; `"*"` alone is the default', async () => {
  await invalid(
    parse({ version: 1, default: { require: "none" }, scopes: { "*": { require: "reject" } } }),
    WHERE().source,
    '`default` and a `"*"` scope',
  );
  const star = await parse({ version: 1, scopes: { "*": { require: "reject" } } });
  assert.equal(decide(star, "ghcr.io/x/y"), "default reject");
});

describe("longest scope wins", () => {
  test("a nested `none` inside a `signature` scope, whatever the order the scopes are written in", async () => {
    const scopes: Array<[string, unknown]> = [
      ["localhost:5000/acme", signature()],
      ["localhost:5000/acme/exp", { require: "none" }],
      ["localhost:5000", { require: "reject" }],
    ];
    // written shortest first, and longest first: a first-match without the sort gets one of these wrong
    for (const order of [scopes, [...scopes].reverse()]) {
      const policy = await parse({ version: 1, scopes: Object.fromEntries(order) });
      assert.equal(decide(policy, "localhost:5000/acme/exp/tool:1"), "localhost:5000/acme/exp none");
      assert.equal(decide(policy, "localhost:5000/acme/exp"), "localhost:5000/acme/exp none");
      assert.equal(decide(policy, "localhost:5000/acme/experiments"), "localhost:5000/acme signature");
      assert.equal(decide(policy, "localhost:5000/acme/app"), "localhost:5000/acme signature");
      assert.equal(decide(policy, "localhost:5000/acmex/app"), "localhost:5000 reject");
    }
  });
});

describe("TRUST_POLICY_INVALID", () => {
  test("not JSON, off-schema, unreadable: each names the file", async () => {
    const notJson = join(base, "not-json.json");
    await writeFile(notJson, "{ version: 1 ");
    await invalid(loadTrustPolicyFile(notJson), notJson, "is not JSON");
    const offSchema = join(base, "off-schema.json");
    await writeFile(offSchema, JSON.stringify({ version: 1, default: { require: "maybe" } }));
    await invalid(
      loadTrustPolicyFile(offSchema),
      offSchema,
      "does not match schemas/trust-policy.schema.json",
      "/default/require",
    );
    const noKeys = join(base, "no-keys.json");
    await writeFile(noKeys, JSON.stringify({ version: 1, default: { require: "signature" } }));
    await invalid(
      loadTrustPolicyFile(noKeys),
      noKeys,
      "a `signature` requirement names its public keys in `keys`",
    );
    const dir = join(base, "a-directory.json");
    await mkdir(dir);
    await invalid(loadTrustPolicyFile(dir), dir, "cannot be read", "EISDIR");
    await invalid(
      loadTrustPolicyFile(join(base, "missing.json")),
      join(base, "missing.json"),
      "cannot be read",
      "ENOENT",
    );
    const badKey = join(base, "bad-key.json");
    await writeFile(
      badKey,
      JSON.stringify({ version: 1, default: { require: "signature", keys: ["nope.pub"] } }),
    );
    await invalid(loadTrustPolicyFile(badKey), badKey, "/default/keys/0");
  });

  test("the user's policy file, unreadable", async () => {
    const config = join(base, "xdg-unreadable");
    await mkdir(join(config, "agentrc", "trust-policy.json"), { recursive: true });
    await invalid(
      resolveTrustPolicy({ env: { XDG_CONFIG_HOME: config } }),
      join(config, "agentrc", "trust-policy.json"),
      "cannot be read",
    );
  });
});

/** A project directory with an agentrc.config.mjs holding `trustPolicy`. */
async function project(name: string, trustPolicy: unknown): Promise<string> {
  const dir = join(base, name);
  await mkdir(dir, { recursive: true });
  await writeFile(
    join(dir, "agentrc.config.mjs"),
    `export default { trustPolicy: ${JSON.stringify(trustPolicy)} };\n`,
  );
  return dir;
}

/** A $XDG_CONFIG_HOME whose agentrc/trust-policy.json is `doc`. */
async function userConfig(name: string, doc: unknown): Promise<string> {
  const dir = join(base, name);
  await mkdir(join(dir, "agentrc"), { recursive: true });
  await writeFile(join(dir, "agentrc", "trust-policy.json"), JSON.stringify(doc));
  return dir;
}

describe("where the policy comes from", () => {
  const EMPTY_USER = { XDG_CONFIG_HOME: "/nonexistent-agentrc-xdg" };

  test("the project's config: trustPolicy inline, and as a path relative to the config file", async () => {
    const inline = await project("inline", { version: 1, default: { require: "reject" } });
    const fromInline = await resolveOptions({ dir: inline, env: EMPTY_USER });
    assert.equal(fromInline.trustPolicy?.source, `${join(inline, "agentrc.config")} (trustPolicy)`);
    assert.equal(fromInline.trustPolicy?.default.require, "reject");
    assert.equal(fromInline.registry.trustPolicy, fromInline.trustPolicy);

    const byPath = await project("by-path", "policies/p.json");
    await mkdir(join(byPath, "policies"));
    await writeFile(
      join(byPath, "policies", "p.json"),
      JSON.stringify({ version: 1, scopes: { "ghcr.io/acme": { require: "reject" } } }),
    );
    const fromPath = await projectTrustPolicy({ cwd: byPath, env: EMPTY_USER });
    assert.equal(fromPath?.source, join(byPath, "policies", "p.json"));
    assert.equal(decide(fromPath!, "ghcr.io/acme/x"), "ghcr.io/acme reject");
  });

  test("the user's file under RunOptions.env's XDG_CONFIG_HOME (and HOME/.config), through the API", async () => {
    const xdg = await userConfig("xdg", { version: 1, default: { require: "reject" } });
    const plain = join(base, "plain");
    await mkdir(plain);
    const options = await resolveOptions({ dir: plain, env: { XDG_CONFIG_HOME: xdg } });
    assert.equal(options.trustPolicy?.source, join(xdg, "agentrc", "trust-policy.json"));
    assert.equal(options.registry.trustPolicy?.source, join(xdg, "agentrc", "trust-policy.json"));
    const home = join(base, "home");
    await userConfig(join("home", ".config"), { version: 1, default: { require: "none" } });
    const viaHome = await resolveOptions({ dir: plain, env: { HOME: home } });
    assert.equal(viaHome.trustPolicy?.source, join(home, ".config", "agentrc", "trust-policy.json"));
    assert.equal((await resolveOptions({ dir: plain, env: EMPTY_USER })).trustPolicy, undefined);
  });
});

describe("checks against signatures in a local store", () => {
  let store: LocalStore;
  let target: LayoutTarget;
  const pkg = (n: number) => ({
    mediaType: "application/vnd.oci.image.manifest.v1+json",
    digest: `sha256:${String(n).repeat(64).slice(0, 64)}`,
    size: 100,
  });
  const SIGNED_BY_A = pkg(1);
  const UNSIGNED = pkg(2);
  before(async () => {
    store = await LocalStore.open({ path: join(base, "store") });
    target = new LayoutTarget(store.layout);
    const bundle = await signStatement(
      statementAbout(SIGNED_BY_A, "x", SIGNATURE_PREDICATE_TYPE, {}),
      keySigner(createPrivateKey(keyA.privateKeyPem)),
    );
    await attachReferrer(store, SIGNED_BY_A, bundleReferrerOptions(bundle, SIGNATURE_PREDICATE_TYPE));
  });

  const refused = async (promise: Promise<unknown>, ...parts: string[]) =>
    assert.rejects(promise, (e: Error & { code?: string }) => {
      assert.equal(e.code, "TRUST_POLICY_VIOLATION", e.message);
      for (const p of parts) assert.ok(e.message.includes(p), `"${e.message}" lacks "${p}"`);
      return true;
    });

  test("mode all needs every key; mode any one of them", async () => {
    const keys = [keyA.publicKeyPem, keyB.publicKeyPem];
    const all = await parse({ version: 1, scopes: { "localhost:5000": { require: "signature", keys } } });
    await refused(
      checkTrust("localhost:5000/a/b:1", SIGNED_BY_A.digest, target, all),
      'scope "localhost:5000"',
      "it requires signatures by",
      "TRUST_KEY_MISMATCH",
    );
    const any = await parse({
      version: 1,
      scopes: { "localhost:5000": { require: "signature", keys, mode: "any" } },
    });
    const accepted = await checkTrust("localhost:5000/a/b:1", SIGNED_BY_A.digest, target, any);
    assert.equal(accepted.scope, "localhost:5000");
    assert.equal(accepted.signers.length, 1);
    await refused(
      checkTrust("localhost:5000/a/b:1", UNSIGNED.digest, target, any),
      "a signature by one of",
      "TRUST_SIGNATURE_MISSING",
    );
  });

  test("the user's policy holds under a project's that relaxes it; --trust-policy replaces only the project's", async () => {
    const xdg = await userConfig("xdg-strict", {
      version: 1,
      scopes: { "localhost:5000": { require: "signature", keys: [keyA.publicKeyPem] } },
    });
    const userFile = join(xdg, "agentrc", "trust-policy.json");
    const relaxing = await project("relaxing", { version: 1, default: { require: "none" } });
    const policy = await projectTrustPolicy({ cwd: relaxing, env: { XDG_CONFIG_HOME: xdg } });
    await refused(
      checkTrust("localhost:5000/a/b:1", UNSIGNED.digest, target, policy),
      `trust policy ${userFile}`,
      "TRUST_SIGNATURE_MISSING",
    );
    assert.deepEqual(
      (await checkTrust("localhost:5000/a/b:1", SIGNED_BY_A.digest, target, policy)).policy,
      `${join(relaxing, "agentrc.config")} (trustPolicy)`,
    );
    // the project's own requirements add to the user's
    const stricter = await project("stricter", { version: 1, default: { require: "reject" } });
    await refused(
      checkTrust(
        "localhost:5000/a/b:1",
        SIGNED_BY_A.digest,
        target,
        await projectTrustPolicy({ cwd: stricter, env: { XDG_CONFIG_HOME: xdg } }),
      ),
      "agentrc.config",
      "rejects everything",
    );
    // --trust-policy replaces the project's (reject), not the user's
    const flag = join(base, "flag.json");
    await writeFile(flag, JSON.stringify({ version: 1, default: { require: "none" } }));
    const flagged = await projectTrustPolicy({
      cwd: stricter,
      trustPolicy: flag,
      env: { XDG_CONFIG_HOME: xdg },
    });
    assert.equal(
      (await checkTrust("localhost:5000/a/b:1", SIGNED_BY_A.digest, target, flagged)).policy,
      flag,
    );
    await refused(checkTrust("localhost:5000/a/b:1", UNSIGNED.digest, target, flagged), userFile);
    // a build's options carry both (FROM, SKILL oci://, TOOLSET are checked through registry.trustPolicy)
    const options = await resolveOptions({ dir: relaxing, env: { XDG_CONFIG_HOME: xdg } });
    assert.deepEqual(
      [
        options.registry.trustPolicy?.source,
        options.registry.trustPolicy?.alsoRequired?.map((p) => p.source),
      ],
      [`${join(relaxing, "agentrc.config")} (trustPolicy)`, [userFile]],
    );
    await refused(
      checkTrust("localhost:5000/a/b:1", UNSIGNED.digest, target, options.registry.trustPolicy),
      userFile,
    );
    // the user's file named by the flag is applied once
    const same = await projectTrustPolicy({
      cwd: relaxing,
      trustPolicy: userFile,
      env: { XDG_CONFIG_HOME: xdg },
    });
    assert.equal(same?.alsoRequired, undefined);
  });
});
