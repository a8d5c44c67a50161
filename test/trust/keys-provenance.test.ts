import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { listReferrers } from "../../src/oci/referrers.js";
import { LocalStore } from "../../src/oci/store.js";
import { FIXTURES } from "../helpers/build.js";
import { runCli } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { testdir } from "../helpers/testdir.js";

const openssl = (...args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });

describe("keys made by openssl, and deterministic provenance", () => {
  test("a P-256 key from openssl (SEC1 and PKCS#8) signs; its public key verifies; another key fails", async () => {
    const base = await testdir();
    const agent = join(base, "agent");
    await copyTree(join(FIXTURES, "valid/minimal"), agent);
    const env = { AGENTRC_STORE: join(base, "store"), AGENTRC_CACHE: join(base, "cache"), HOME: base };
    assert.equal((await runCli(["build", agent, "-t", "localhost/keys:1", "-q"], { env })).code, 0);
    // SEC1 ("EC PRIVATE KEY") from ecparam, PKCS#8 from genpkey; public keys from `openssl ec -pubout`.
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", join(base, "sec1.key"));
    openssl(
      "genpkey",
      "-algorithm",
      "EC",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-out",
      join(base, "p8.key"),
    );
    for (const k of ["sec1", "p8"])
      openssl("ec", "-in", join(base, `${k}.key`), "-pubout", "-out", join(base, `${k}.pub`));
    assert.match(await readFile(join(base, "sec1.key"), "utf8"), /BEGIN EC PRIVATE KEY/);
    assert.match(await readFile(join(base, "p8.key"), "utf8"), /BEGIN PRIVATE KEY/);

    const signed = await runCli(["sign", "localhost/keys:1", "--key", join(base, "sec1.key")], { env });
    assert.equal(signed.code, 0, signed.stdout + signed.stderr);
    const ok = await runCli(["verify", "localhost/keys:1", "--key", join(base, "sec1.pub"), "--json"], {
      env,
    });
    assert.equal(ok.code, 0, ok.stdout);
    const wrong = await runCli(["verify", "localhost/keys:1", "--key", join(base, "p8.pub"), "--json"], {
      env,
    });
    assert.equal(wrong.code, 1, wrong.stdout);
    const failures = (JSON.parse(wrong.stdout) as { failures: Array<{ code: string; message: string }> })
      .failures;
    assert.deepEqual(
      failures.map((f) => f.code),
      ["TRUST_KEY_MISMATCH"],
    );
    assert.match(failures[0]!.message, /none by .*p8\.pub/);
    // The PKCS#8 key signs too: now both verify.
    assert.equal(
      (await runCli(["sign", "localhost/keys:1", "--key", join(base, "p8.key")], { env })).code,
      0,
    );
    const both = await runCli(
      ["verify", "localhost/keys:1", "--key", join(base, "sec1.pub"), "--key", join(base, "p8.pub")],
      { env },
    );
    assert.equal(both.code, 0, both.stdout + both.stderr);
  });

  test("two builds of one tree in different directories and stores record the same provenance statement", async () => {
    const statements: string[] = [];
    for (const run of ["a", "b"]) {
      const base = await testdir();
      const agent = join(base, `tree-${run}`);
      await copyTree(join(FIXTURES, "agents/full"), agent);
      const store = join(base, "store");
      const env = {
        AGENTRC_STORE: store,
        AGENTRC_CACHE: join(base, "cache"),
        HOME: base,
        SOURCE_DATE_EPOCH: "1700000000",
      };
      const built = await runCli(["build", agent, "-t", "localhost/prov:1", "--json"], { env });
      assert.equal(built.code, 0, built.stdout + built.stderr);
      const digest = (JSON.parse(built.stdout) as { digest: string }).digest;
      const opened = await LocalStore.open({ path: store });
      const referrers = await listReferrers(opened, digest);
      assert.equal(referrers.length, 1, "one referrer: the provenance");
      const manifest = JSON.parse(await readFile(opened.layout.blobPath(referrers[0]!.digest), "utf8")) as {
        subject: { digest: string };
        layers: Array<{ digest: string }>;
      };
      assert.equal(manifest.subject.digest, digest);
      statements.push(await readFile(opened.layout.blobPath(manifest.layers[0]!.digest), "utf8"));
    }
    assert.equal(statements[0], statements[1]);
    const statement = JSON.parse(statements[0]!) as {
      predicateType: string;
      subject: Array<{ digest: object }>;
    };
    assert.equal(statement.predicateType, "https://slsa.dev/provenance/v1");
  });
});
