import assert from "node:assert/strict";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { RegistryClient } from "../../src/registry/client.js";
import { BUNDLE_MEDIA_TYPE } from "../../src/trust/bundles.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { storeCli } from "../helpers/storeEnv.js";

/**
 * `agentrc sign` against the real docker-registry (distribution 2.8: no referrers API, so the client maintains the
 * `sha256-<hex>` fallback tag), and `sign` in the store followed by `push`. One small agent is built once.
 */
let base: string;
let agent: string;
let registry: TestRegistry;
let client: RegistryClient;
before(async () => {
  base = await mkdtemp(join(tmpdir(), "agentrc-sign-remote-"));
  registry = await startRegistry({ mode: "open" });
  client = new RegistryClient(registry.host, registry.clientOptions());
  agent = join(base, "agent");
  await mkdir(agent, { recursive: true });
  await writeFile(join(agent, "Agentfile"), "AGENT signed\nAUDIT basic\n");
  const generated = await cli(["key", "generate", join(base, "k")], "keys");
  assert.equal(generated.code, 0, generated.stderr);
});
after(async () => {
  await client?.close();
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

const cli = (args: string[], store: string) => storeCli(base, args, store);

/** Builds the agent and pushes it (with its unsigned provenance) as `ref`; returns the manifest digest. */
async function pushAgent(ref: string): Promise<string> {
  const built = await cli(["build", agent, "-t", ref, "--push", "--json"], "builder");
  assert.equal(built.code, 0, built.stdout + built.stderr);
  return (JSON.parse(built.stdout) as { digest: string }).digest;
}

async function signRemote(ref: string): Promise<string> {
  const signed = await cli(["sign", ref, "--remote", "--key", join(base, "k.key"), "--json"], "signer");
  assert.equal(signed.code, 0, signed.stdout + signed.stderr);
  const out = JSON.parse(signed.stdout) as { attachedIn: string; signature: { digest: string } };
  assert.equal(out.attachedIn, "registry");
  return out.signature.digest;
}

interface VerifyJson {
  attachments: Array<{ referrer: string; kind: string; status: string }>;
  failures: Array<{ code: string }>;
}

describe("agentrc sign --remote on a registry without the referrers API", () => {
  test("writes the sha256-<hex> fallback tag listing the signature; verify --remote --key passes from a clean store", async () => {
    const digest = await pushAgent(`${registry.host}/sign/one:1`);
    const signature = await signRemote(`${registry.host}/sign/one:1`);

    const tag = `sha256-${digest.slice("sha256:".length)}`;
    const index = JSON.parse(
      Buffer.from((await client.getManifest("sign/one", tag)).bytes).toString("utf8"),
    ) as {
      mediaType: string;
      manifests: Array<{ digest: string; artifactType?: string }>;
    };
    assert.equal(index.mediaType, "application/vnd.oci.image.index.v1+json");
    const entry = index.manifests.find((d) => d.digest === signature);
    assert.ok(entry, `the fallback index lists ${signature}: ${JSON.stringify(index.manifests)}`);
    assert.equal(entry.artifactType, BUNDLE_MEDIA_TYPE);
    const manifest = JSON.parse(
      Buffer.from((await client.getManifest("sign/one", signature)).bytes).toString("utf8"),
    ) as { artifactType: string; subject: { digest: string } };
    assert.equal(manifest.artifactType, BUNDLE_MEDIA_TYPE);
    assert.equal(manifest.subject.digest, digest);

    const verified = await cli(
      ["verify", `${registry.host}/sign/one:1`, "--remote", "--key", join(base, "k.pub"), "--json"],
      "clean-one",
    );
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    const report = JSON.parse(verified.stdout) as VerifyJson;
    assert.deepEqual(
      report.attachments.filter((a) => a.kind === "signature").map((a) => [a.referrer, a.status]),
      [[signature, "verified"]],
    );
  });

  test("parallel signs of one package all stay listed in the fallback index, and each verifies", async () => {
    const ref = `${registry.host}/sign/race:1`;
    const digest = await pushAgent(ref);
    const before = (await client.listReferrers("sign/race", digest)).manifests.length;
    const n = 6;
    const signatures = await Promise.all(Array.from({ length: n }, () => signRemote(ref)));
    assert.equal(new Set(signatures).size, n, "each sign made its own signature");

    const listed = await client.listReferrers("sign/race", digest);
    assert.equal(listed.source, "tag");
    assert.equal(listed.manifests.length, before + n, JSON.stringify(listed.manifests));
    for (const s of signatures) {
      assert.ok(
        listed.manifests.some((d) => d.digest === s),
        `${s} is listed`,
      );
    }

    const verified = await cli(
      ["verify", ref, "--remote", "--key", join(base, "k.pub"), "--json"],
      "clean-race",
    );
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    const report = JSON.parse(verified.stdout) as VerifyJson;
    const checked = report.attachments.filter((a) => a.kind === "signature");
    assert.deepEqual(checked.map((a) => a.referrer).sort(), [...signatures].sort());
    assert.deepEqual(
      checked.map((a) => a.status),
      Array(n).fill("verified"),
    );
  });
  test("a fallback entry that another writer keeps overwriting fails with REGISTRY_REFERRERS_CONFLICT, not exit 0", async () => {
    const ref = `${registry.host}/sign/conflict:1`;
    const digest = await pushAgent(ref);
    const tag = `sha256-${digest.slice("sha256:".length)}`;
    const stale = (await client.getManifest("sign/conflict", tag)).bytes;
    // Real other clients on the same registry, rewriting the tag with the index read before the sign, staggered so
    // that one of them lands after every write of the sign, however slow the machine is.
    let stop = false;
    const writers = [0, 5, 10].map(async (offset) => {
      await sleep(offset);
      while (!stop) {
        await client.putManifest("sign/conflict", tag, stale, "application/vnd.oci.image.index.v1+json");
        await sleep(15);
      }
    });
    const signed = await cli(
      ["sign", ref, "--remote", "--key", join(base, "k.key"), "--json"],
      "signer",
    ).finally(() => {
      stop = true;
    });
    await Promise.all(writers);
    assert.equal(signed.code, 1, signed.stdout + signed.stderr);
    const out = JSON.parse(signed.stdout) as {
      error: { code: string; message: string };
      diagnostics: Array<{ code: string; hint?: string }>;
    };
    assert.equal(out.error.code, "REGISTRY_REFERRERS_CONFLICT");
    assert.match(
      out.error.message,
      new RegExp(
        `referrers tag sign/conflict:${tag}: adding sha256:[0-9a-f]{64} did not stick after 6 attempts`,
      ),
    );
    assert.match(out.diagnostics[0]?.hint ?? "", /one at a time/);
  });
});

describe("agentrc sign in the store, then push", () => {
  test("the pushed package carries the signature: a pull into a clean store verifies with the key", async () => {
    const ref = `${registry.host}/sign/local:1`;
    const built = await cli(["build", agent, "-t", ref, "--json"], "local");
    assert.equal(built.code, 0, built.stdout + built.stderr);
    const digest = (JSON.parse(built.stdout) as { digest: string }).digest;
    const signed = await cli(["sign", ref, "--key", join(base, "k.key"), "--json"], "local");
    assert.equal(signed.code, 0, signed.stdout + signed.stderr);
    const out = JSON.parse(signed.stdout) as {
      attachedIn: string;
      digest: string;
      signature: { digest: string };
    };
    assert.equal(out.attachedIn, "store");
    assert.equal(out.digest, digest);

    // Nothing is in the registry before the push.
    assert.equal(await client.headManifest("sign/local", digest), undefined);
    const pushed = await cli(["push", ref], "local");
    assert.equal(pushed.code, 0, pushed.stdout + pushed.stderr);
    const listed = await client.listReferrers("sign/local", digest);
    assert.ok(
      listed.manifests.some((d) => d.digest === out.signature.digest),
      JSON.stringify(listed),
    );

    const pulled = await cli(["pull", ref], "clean-local");
    assert.equal(pulled.code, 0, pulled.stdout + pulled.stderr);
    const verified = await cli(["verify", ref, "--key", join(base, "k.pub"), "--json"], "clean-local");
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
    const report = JSON.parse(verified.stdout) as VerifyJson;
    assert.deepEqual(
      report.attachments.filter((a) => a.kind === "signature").map((a) => [a.referrer, a.status]),
      [[out.signature.digest, "verified"]],
    );
    // Without the key's signature the same check fails: the verify above is not vacuous.
    const other = await cli(["key", "generate", join(base, "other")], "keys");
    assert.equal(other.code, 0, other.stderr);
    const wrong = await cli(["verify", ref, "--key", join(base, "other.pub"), "--json"], "clean-local");
    assert.equal(wrong.code, 1);
    assert.deepEqual(
      (JSON.parse(wrong.stdout) as VerifyJson).failures.map((f) => f.code),
      ["TRUST_KEY_MISMATCH"],
    );
  });
});
