import assert from "node:assert/strict";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { before, describe, test } from "node:test";
import { listReferrers } from "../../src/oci/referrers.js";
import { LocalStore } from "../../src/oci/store.js";
import { FIXTURES } from "../helpers/build.js";
import { runCli as runCliIn } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { goProgram } from "../helpers/goProgram.js";
import { openssl, opensslP256Key } from "../helpers/openssl.js";
import { testdir } from "../helpers/testdir.js";

/** test/cosign-key: cosign's key format written and read by Go's x/crypto scrypt and NaCl secretbox. */
const cosignKey = goProgram("cosign-key");

interface Failure {
  ok: false;
  error: { code: string; message: string };
}

const base = await testdir();
/** The CLI run in `base`, so that no configuration of the directory the tests started in applies. */
const runCli = (args: string[], options: { env: NodeJS.ProcessEnv }) =>
  runCliIn(args, { ...options, cwd: base });

describe("passphrase-encrypted keys: cosign's format, PKCS#8 and legacy PEM", () => {
  let env: NodeJS.ProcessEnv;
  let digest: string;
  const ref = "localhost/enc:1";
  const referrers = async () =>
    (await listReferrers(await LocalStore.open({ path: env.AGENTRC_STORE! }), digest)).length;
  /** Signs with `key`, verifies with `pub`; returns the sign run. */
  const signAndVerify = async (key: string, pub: string, extraEnv: NodeJS.ProcessEnv) => {
    const signed = await runCli(["sign", ref, "--key", key, "--json"], { env: { ...env, ...extraEnv } });
    assert.equal(signed.code, 0, signed.stdout + signed.stderr);
    const verified = await runCli(["verify", ref, "--key", pub, "--json"], { env });
    assert.equal(verified.code, 0, verified.stdout);
    return JSON.parse(signed.stdout) as { keyId: string };
  };
  /** A sign that must fail with `code` and a message matching `message`, attaching nothing. */
  const signFails = async (key: string, extraEnv: NodeJS.ProcessEnv, code: string, message: RegExp) => {
    const before = await referrers();
    const run = await runCli(["sign", ref, "--key", key, "--json"], { env: { ...env, ...extraEnv } });
    assert.equal(run.code, 1, run.stdout + run.stderr);
    const failure = JSON.parse(run.stdout) as Failure;
    assert.equal(failure.error.code, code, failure.error.message);
    assert.match(failure.error.message, message);
    assert.equal(await referrers(), before, "a failed sign attaches nothing");
  };

  before(async () => {
    const agent = join(base, "agent");
    await copyTree(join(FIXTURES, "valid/minimal"), agent);
    env = { AGENTRC_STORE: join(base, "store"), AGENTRC_CACHE: join(base, "cache"), HOME: base };
    const built = await runCli(["build", agent, "-t", ref, "--json"], { env });
    assert.equal(built.code, 0, built.stdout + built.stderr);
    digest = (JSON.parse(built.stdout) as { digest: string }).digest;
  });

  test("a cosign key (scrypt + secretbox, written by Go's x/crypto) signs with its passphrase from either variable", async () => {
    const prefix = join(base, "go-cosign");
    await cosignKey(["generate", prefix, "correct horse"]);
    assert.match(
      await readFile(`${prefix}.key`, "utf8"),
      /^-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n/,
    );
    const viaAgentrc = await signAndVerify(`${prefix}.key`, `${prefix}.pub`, {
      AGENTRC_KEY_PASSPHRASE: "correct horse",
    });
    // cosign's own variable works too; AGENTRC_KEY_PASSPHRASE, when set, wins over it.
    const viaCosign = await signAndVerify(`${prefix}.key`, `${prefix}.pub`, {
      COSIGN_PASSWORD: "correct horse",
    });
    assert.equal(viaCosign.keyId, viaAgentrc.keyId);
    await signFails(
      `${prefix}.key`,
      { AGENTRC_KEY_PASSPHRASE: "wrong", COSIGN_PASSWORD: "correct horse" },
      "TRUST_KEY_PASSPHRASE",
      /the passphrase does not decrypt .*go-cosign\.key/,
    );
  });

  test("cosign 1's label and legacy scrypt parameters, and an empty password, are read as cosign reads them", async () => {
    const prefix = join(base, "legacy");
    await cosignKey(["generate", prefix, "", "32768"]);
    const pem = await readFile(`${prefix}.key`, "utf8");
    await writeFile(`${prefix}.key`, pem.replaceAll("SIGSTORE PRIVATE KEY", "COSIGN PRIVATE KEY"));
    // An empty password is a password: it must be given (set empty), never assumed.
    await signFails(
      `${prefix}.key`,
      {},
      "TRUST_KEY_PASSPHRASE",
      /legacy\.key is a cosign key and no passphrase was given/,
    );
    await signAndVerify(`${prefix}.key`, `${prefix}.pub`, { AGENTRC_KEY_PASSPHRASE: "" });
  });

  test("a damaged or crafted cosign key fails with its own code before any work, and attaches nothing", async () => {
    const prefix = join(base, "crafted");
    await cosignKey(["generate", prefix, "pw"]);
    const pem = await readFile(`${prefix}.key`, "utf8");
    const body = pem.split("\n").slice(1, -2).join("");
    const doc = JSON.parse(Buffer.from(body, "base64").toString("utf8")) as {
      kdf: { name: string; params: { N: number } };
      ciphertext: string;
    };
    const write = async (name: string, value: object | string) => {
      const text = typeof value === "string" ? value : Buffer.from(JSON.stringify(value)).toString("base64");
      const file = join(base, name);
      await writeFile(
        file,
        `-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n${text}\n-----END ENCRYPTED SIGSTORE PRIVATE KEY-----\n`,
      );
      return file;
    };
    const cipher = Buffer.from(doc.ciphertext, "base64");
    cipher[cipher.length - 1]! ^= 1;
    const pass = { AGENTRC_KEY_PASSPHRASE: "pw" };
    await signFails(
      await write("flipped.key", { ...doc, ciphertext: cipher.toString("base64") }),
      pass,
      "TRUST_KEY_PASSPHRASE",
      /does not decrypt .*flipped\.key/,
    );
    // N = 2^22 would take 4 GiB: refused before scrypt runs, as go-securesystemslib refuses it.
    await signFails(
      await write("huge-n.key", { ...doc, kdf: { ...doc.kdf, params: { N: 4194304, r: 8, p: 1 } } }),
      pass,
      "TRUST_KEY_UNSUPPORTED",
      /huge-n\.key asks for scrypt parameters \{"N":4194304,"r":8,"p":1\}/,
    );
    await signFails(
      await write("pbkdf2.key", { ...doc, kdf: { ...doc.kdf, name: "pbkdf2" } }),
      pass,
      "TRUST_KEY_UNSUPPORTED",
      /pbkdf2\.key uses kdf "pbkdf2" and cipher "nacl\/secretbox"/,
    );
    await signFails(
      await write("garbage.key", "bm90IGpzb24="),
      pass,
      "TRUST_KEY_INVALID",
      /garbage\.key is not a readable cosign private key: the PEM body is not JSON/,
    );
  });

  test("key generate --format cosign writes a key Go's x/crypto opens to the same public key", async () => {
    const prefix = join(base, "ours-cosign");
    const run = await runCli(["key", "generate", prefix, "--format", "cosign", "--json"], {
      env: { ...env, COSIGN_PASSWORD: "s3cret" },
    });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const result = JSON.parse(run.stdout) as { format: string; encrypted: boolean; privateKey: string };
    assert.equal(result.format, "cosign");
    assert.equal(result.encrypted, true);
    assert.equal((await stat(`${prefix}.key`)).mode & 0o777, 0o600);
    const opened = await cosignKey(["public", `${prefix}.key`, "s3cret"]);
    assert.equal(`${opened}\n`, await readFile(`${prefix}.pub`, "utf8"));
    await assert.rejects(cosignKey(["public", `${prefix}.key`, "not it"]), /decryption failed/);
    await signAndVerify(`${prefix}.key`, `${prefix}.pub`, { COSIGN_PASSWORD: "s3cret" });

    const missing = await runCli(["key", "generate", join(base, "nopass"), "--format", "cosign", "--json"], {
      env,
    });
    assert.equal(missing.code, 1);
    const failure = JSON.parse(missing.stdout) as Failure;
    assert.equal(failure.error.code, "TRUST_KEY_PASSPHRASE");
    assert.match(failure.error.message, /--format cosign needs a passphrase in \$AGENTRC_KEY_PASSPHRASE/);
    await assert.rejects(stat(join(base, "nopass.key")), { code: "ENOENT" });
    const bad = await runCli(["key", "generate", join(base, "x"), "--format", "pem", "--json"], { env });
    assert.equal(bad.code, 2);
    assert.match(bad.stdout, /--format must be pkcs8 or cosign, got \\"pem\\"/);
  });

  test("key generate --encrypt (PKCS#8) needs its passphrase to sign, in agentrc sign and in build --sign-key", async () => {
    const prefix = join(base, "p8enc");
    const pass = { AGENTRC_KEY_PASSPHRASE: "long passphrase" };
    const made = await runCli(["key", "generate", prefix, "--encrypt", "--json"], {
      env: { ...env, ...pass },
    });
    assert.equal(made.code, 0, made.stdout + made.stderr);
    assert.equal((JSON.parse(made.stdout) as { format: string }).format, "pkcs8");
    assert.match(await readFile(`${prefix}.key`, "utf8"), /^-----BEGIN ENCRYPTED PRIVATE KEY-----\n/);
    await signFails(`${prefix}.key`, {}, "TRUST_KEY_PASSPHRASE", /p8enc\.key is encrypted and no passphrase/);
    await signFails(
      `${prefix}.key`,
      { AGENTRC_KEY_PASSPHRASE: "short" },
      "TRUST_KEY_PASSPHRASE",
      /the passphrase does not decrypt .*p8enc\.key/,
    );
    await signAndVerify(`${prefix}.key`, `${prefix}.pub`, pass);

    // The build's own environment carries the passphrase to the signer hook.
    const agent = join(base, "signed-agent");
    await copyTree(join(FIXTURES, "valid/minimal"), agent);
    const store = join(base, "store-build");
    const buildEnv = { ...env, AGENTRC_STORE: store };
    // Without the passphrase the build stops before it packs anything (no "packed" line), and writes no store.
    const noPass = await runCli(["build", agent, "-t", "localhost/enc:2", "--sign-key", `${prefix}.key`], {
      env: buildEnv,
    });
    assert.equal(noPass.code, 1, noPass.stdout + noPass.stderr);
    assert.match(noPass.stderr, /TRUST_KEY_PASSPHRASE .*p8enc\.key is encrypted and no passphrase was given/);
    assert.doesNotMatch(noPass.stderr, /packed/);
    await assert.rejects(stat(store), { code: "ENOENT" });
    const built = await runCli(
      ["build", agent, "-t", "localhost/enc:2", "--sign-key", `${prefix}.key`, "-q"],
      {
        env: { ...buildEnv, ...pass },
      },
    );
    assert.equal(built.code, 0, built.stdout + built.stderr);
    const verified = await runCli(["verify", "localhost/enc:2", "--key", `${prefix}.pub`, "--json"], {
      env: buildEnv,
    });
    assert.equal(verified.code, 0, verified.stdout);
  });

  test("openssl's encrypted keys, PKCS#8 (genpkey -aes-256-cbc) and legacy PEM (ec -aes256), sign with the passphrase", async () => {
    const p8 = join(base, "ossl-p8");
    const legacy = join(base, "ossl-legacy");
    opensslP256Key(`${p8}.key`, "-aes-256-cbc", "-pass", "pass:op");
    openssl("ec", "-in", `${p8}.key`, "-passin", "pass:op", "-pubout", "-out", `${p8}.pub`);
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", `${legacy}.plain`);
    openssl("ec", "-in", `${legacy}.plain`, "-aes256", "-passout", "pass:op", "-out", `${legacy}.key`);
    openssl("ec", "-in", `${legacy}.plain`, "-pubout", "-out", `${legacy}.pub`);
    assert.match(await readFile(`${legacy}.key`, "utf8"), /Proc-Type: 4,ENCRYPTED/);
    for (const k of [p8, legacy]) {
      await signFails(`${k}.key`, {}, "TRUST_KEY_PASSPHRASE", /is encrypted and no passphrase was given/);
      await signAndVerify(`${k}.key`, `${k}.pub`, { AGENTRC_KEY_PASSPHRASE: "op" });
    }
  });

  test("key files that cannot be written or are not keys fail with their code: a missing directory, a huge file, a cut cosign key", async () => {
    for (const [prefix, errno] of [
      [join(base, "no-such-dir", "k"), "ENOENT"],
      [join(base, "go-cosign.pub", "k"), "ENOTDIR"],
    ] as const) {
      const run = await runCli(["key", "generate", prefix, "--json"], { env });
      assert.equal(run.code, 1, run.stdout + run.stderr);
      const failure = JSON.parse(run.stdout) as Failure;
      assert.equal(failure.error.code, "TRUST_KEY_WRITE_FAILED");
      assert.equal(failure.error.message, `cannot write ${prefix}.key: ${errno}`);
    }
    const huge = join(base, "huge.key");
    await writeFile(huge, "A".repeat(100_000));
    await signFails(huge, {}, "TRUST_KEY_INVALID", /huge\.key is over 65536 bytes, too large for a PEM key/);
    await signFails("/dev/zero", {}, "TRUST_KEY_INVALID", /\/dev\/zero is over 65536 bytes/);
    const pem = await readFile(join(base, "go-cosign.key"), "utf8");
    const cut = join(base, "cut.key");
    await writeFile(cut, pem.slice(0, pem.indexOf("-----END")));
    await signFails(
      cut,
      { AGENTRC_KEY_PASSPHRASE: "correct horse" },
      "TRUST_KEY_INVALID",
      /cut\.key is not a readable cosign private key: the PEM block has no matching -----END line/,
    );
  });
});
