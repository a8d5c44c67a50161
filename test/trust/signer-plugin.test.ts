import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { FIXTURES } from "../helpers/build.js";
import { runCli } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";

/**
 * A signer plugin on `compiler.hooks.signer` (docs/trust.md "Signer plugins"), the way a KMS plugin would be written:
 * the project's agentrc.config.mjs taps the hook before the built-in key-signer and returns a sigstore-js `Signer`
 * (`sign(data) → { signature, key: { $case: "publicKey", publicKey, hint } }`) backed by a key only it holds (the
 * "KMS" key, named by $TEST_KMS_KEY; without it the plugin declines). It logs every request it is asked.
 */
const PLUGIN = `import { createHash, createPrivateKey, createPublicKey, sign } from "node:crypto";
import { appendFileSync, readFileSync } from "node:fs";

const log = new URL("./signer-requests.log", import.meta.url);
export default {
  plugins: [
    {
      name: "test-kms",
      apply(compiler) {
        compiler.hooks.signer.tapPromise({ name: "test-kms", before: "key-signer" }, async (request) => {
          const keyId = request.env?.TEST_KMS_KEY;
          appendFileSync(log, JSON.stringify({ purpose: request.purpose, keyFile: request.keyFile ?? null, answered: keyId !== undefined }) + "\\n");
          if (keyId === undefined) return undefined;
          const key = createPrivateKey(readFileSync(keyId));
          const spki = createPublicKey(key);
          return {
            async sign(data) {
              return {
                signature: sign("sha256", data, key),
                key: {
                  $case: "publicKey",
                  publicKey: spki.export({ type: "spki", format: "pem" }).toString(),
                  hint: createHash("sha256").update(spki.export({ type: "spki", format: "der" })).digest("base64"),
                },
              };
            },
          };
        });
      },
    },
  ],
};
`;

interface VerifyJson {
  attachments: Array<{ kind: string; status: string; keyId?: string }>;
  failures: Array<{ code: string; message: string }>;
}

let base: string;
let agent: string;
let kmsKey: string;
let kmsPub: string;
let otherPub: string;
before(async () => {
  base = await mkdtemp(join(tmpdir(), "agentrc-signer-plugin-"));
  agent = join(base, "agent");
  await copyTree(join(FIXTURES, "valid/minimal"), agent);
  await writeFile(join(agent, "agentrc.config.mjs"), PLUGIN);
  // The "KMS" key lives outside the project; the test only hands the plugin its name.
  for (const k of ["kms", "other"]) {
    const r = await runCli(["key", "generate", join(base, k)], { env: { HOME: base }, cwd: base });
    assert.equal(r.code, 0, r.stderr);
  }
  kmsKey = join(base, "kms.key");
  kmsPub = join(base, "kms.pub");
  otherPub = join(base, "other.pub");
});
after(() => rm(base, { recursive: true, force: true }));

const env = (store: string, kms: boolean): NodeJS.ProcessEnv => ({
  HOME: base,
  AGENTRC_STORE: join(base, store),
  AGENTRC_CACHE: join(base, "cache"),
  ...(kms ? { TEST_KMS_KEY: kmsKey } : {}),
});
/** In the project directory, so its agentrc.config.mjs (and the plugin) is loaded. */
const cli = (args: string[], store: string, kms = true) => runCli(args, { env: env(store, kms), cwd: agent });
async function requests(): Promise<Array<{ purpose: string; keyFile: string | null; answered: boolean }>> {
  const text = await readFile(join(agent, "signer-requests.log"), "utf8").catch(() => "");
  return text
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => JSON.parse(l));
}

describe("a signer plugin on compiler.hooks.signer", () => {
  test("agentrc sign without --key is signed by the plugin; the plugin key's public half verifies it, another key fails", async () => {
    const built = await cli(["build", agent, "-t", "localhost/kms/sign:1", "-q"], "sign-store");
    assert.equal(built.code, 0, built.stdout + built.stderr);
    await writeFile(join(agent, "signer-requests.log"), "");
    const signed = await cli(["sign", "localhost/kms/sign:1", "--json"], "sign-store");
    assert.equal(signed.code, 0, signed.stdout + signed.stderr);
    const out = JSON.parse(signed.stdout) as { keyId: string; attachedIn: string };
    assert.equal(out.attachedIn, "store");
    assert.deepEqual(await requests(), [{ purpose: "sign", keyFile: null, answered: true }]);

    const ok = await cli(["verify", "localhost/kms/sign:1", "--key", kmsPub, "--json"], "sign-store");
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    const report = JSON.parse(ok.stdout) as VerifyJson;
    assert.deepEqual(
      report.attachments.filter((a) => a.kind === "signature").map((a) => [a.status, a.keyId]),
      [["verified", out.keyId]],
    );
    const wrong = await cli(["verify", "localhost/kms/sign:1", "--key", otherPub, "--json"], "sign-store");
    assert.equal(wrong.code, 1, wrong.stdout);
    assert.deepEqual(
      (JSON.parse(wrong.stdout) as VerifyJson).failures.map((f) => f.code),
      ["TRUST_KEY_MISMATCH"],
    );
  });

  test("build --sign-key asks the plugin, which signs the provenance and the manifest; a build without --sign-key does not ask it", async () => {
    await writeFile(join(agent, "signer-requests.log"), "");
    // A KMS plugin ignores the key file: it answers before key-signer would try to read it (there is no such file).
    const signed = await cli(
      ["build", agent, "-t", "localhost/kms/build:1", "--sign-key", "kms-key-alias", "-q"],
      "build-store",
    );
    assert.equal(signed.code, 0, signed.stdout + signed.stderr);
    assert.deepEqual(await requests(), [
      { purpose: "build", keyFile: join(agent, "kms-key-alias"), answered: true },
    ]);
    const ok = await cli(["verify", "localhost/kms/build:1", "--key", kmsPub, "--json"], "build-store");
    assert.equal(ok.code, 0, ok.stdout + ok.stderr);
    assert.deepEqual(
      (JSON.parse(ok.stdout) as VerifyJson).attachments.map((a) => [a.kind, a.status]).sort(),
      [
        ["provenance", "verified"],
        ["signature", "verified"],
      ],
    );

    // docs/trust.md: the hook is asked by `sign` and `build --sign-key`; a plain build stays unsigned.
    await writeFile(join(agent, "signer-requests.log"), "");
    const plain = await cli(["build", agent, "-t", "localhost/kms/build:1", "-q"], "plain-store");
    assert.equal(plain.code, 0, plain.stdout + plain.stderr);
    assert.deepEqual(await requests(), []);
    const unsigned = await cli(["verify", "localhost/kms/build:1", "--key", kmsPub, "--json"], "plain-store");
    assert.equal(unsigned.code, 1, unsigned.stdout);
    const report = JSON.parse(unsigned.stdout) as VerifyJson;
    assert.deepEqual(
      report.attachments.map((a) => [a.kind, a.status]),
      [["provenance", "unsigned"]],
    );
    assert.deepEqual(
      report.failures.map((f) => f.code),
      ["TRUST_SIGNATURE_MISSING"],
    );
  });

  test("no --key and a plugin that declines: sign fails with TRUST_SIGNER_MISSING, and nothing is attached", async () => {
    const built = await cli(["build", agent, "-t", "localhost/kms/none:1", "-q"], "none-store", false);
    assert.equal(built.code, 0, built.stdout + built.stderr);
    await writeFile(join(agent, "signer-requests.log"), "");
    const refused = await cli(["sign", "localhost/kms/none:1", "--json"], "none-store", false);
    assert.equal(refused.code, 1, refused.stdout + refused.stderr);
    const out = JSON.parse(refused.stdout) as {
      error: { code: string; message: string };
      diagnostics: Array<{ code: string; hint?: string }>;
    };
    assert.equal(out.error.code, "TRUST_SIGNER_MISSING");
    assert.equal(
      out.error.message,
      "nothing can sign localhost/kms/none:1: no --key and no signer plugin answered",
    );
    assert.match(out.diagnostics[0]?.hint ?? "", /--key <private\.pem>.*signer plugin/);
    assert.deepEqual(await requests(), [{ purpose: "sign", keyFile: null, answered: false }]);
    const verified = await cli(["verify", "localhost/kms/none:1", "--json"], "none-store", false);
    assert.deepEqual(
      (JSON.parse(verified.stdout) as VerifyJson).attachments.map((a) => [a.kind, a.status]),
      [["provenance", "unsigned"]],
    );

    // build --sign-key with a declining plugin falls through to key-signer, which reads the file itself.
    const missing = await cli(
      ["build", agent, "-t", "localhost/kms/none:1", "--sign-key", "kms-key-alias", "--json"],
      "none-store",
      false,
    );
    assert.equal(missing.code, 1, missing.stdout + missing.stderr);
    const codes = (JSON.parse(missing.stdout) as { diagnostics: Array<{ code: string; severity: string }> })
      .diagnostics;
    assert.deepEqual(
      codes.filter((d) => d.severity === "error").map((d) => d.code),
      ["TRUST_KEY_INVALID"],
    );

    // With key-signer switched off nobody answers build --sign-key either: TRUST_SIGNER_MISSING, nothing written.
    const bare = join(base, "bare");
    await copyTree(join(FIXTURES, "valid/minimal"), bare);
    await writeFile(join(bare, "agentrc.config.json"), JSON.stringify({ builtins: { "key-signer": false } }));
    const off = await runCli(["build", bare, "-t", "localhost/kms/off:1", "--sign-key", kmsKey, "--json"], {
      env: env("off-store", false),
      cwd: bare,
    });
    assert.equal(off.code, 1, off.stdout + off.stderr);
    const offErrors = (
      JSON.parse(off.stdout) as { diagnostics: Array<{ code: string; message: string; severity: string }> }
    ).diagnostics.filter((d) => d.severity === "error");
    assert.deepEqual(
      offErrors.map((d) => [d.code, d.message]),
      [["TRUST_SIGNER_MISSING", `no signer plugin signs with ${kmsKey}`]],
    );
    const listed = await runCli(["list", "--json"], { env: env("off-store", false), cwd: bare });
    assert.equal(listed.code, 0, listed.stdout + listed.stderr);
    assert.deepEqual((JSON.parse(listed.stdout) as { packages: unknown[] }).packages, [], "nothing stored");
  });
});
