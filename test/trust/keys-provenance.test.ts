import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, test } from "node:test";
import { publicRemote } from "../../plugins/provenance/index.js";
import { listReferrers } from "../../src/oci/referrers.js";
import { LocalStore } from "../../src/oci/store.js";
import { FIXTURES } from "../helpers/build.js";
import { runCli } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { openssl, opensslP256Key } from "../helpers/openssl.js";
import { testdir } from "../helpers/testdir.js";

describe("keys made by openssl, and deterministic provenance", () => {
  test("a P-256 key from openssl (SEC1 and PKCS#8) signs; its public key verifies; another key fails", async () => {
    const base = await testdir();
    const agent = join(base, "agent");
    await copyTree(join(FIXTURES, "valid/minimal"), agent);
    const env = { AGENTRC_STORE: join(base, "store"), AGENTRC_CACHE: join(base, "cache"), HOME: base };
    assert.equal((await runCli(["build", agent, "-t", "localhost/keys:1", "-q"], { env })).code, 0);
    // SEC1 ("EC PRIVATE KEY") from ecparam, PKCS#8 from genpkey; public keys from `openssl ec -pubout`.
    openssl("ecparam", "-name", "prime256v1", "-genkey", "-noout", "-out", join(base, "sec1.key"));
    opensslP256Key(join(base, "p8.key"));
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

  test("a build in a git checkout records the commit, the origin remote without its credentials, the inputs' digests, a dirty tree, and the clock only from SOURCE_DATE_EPOCH", async () => {
    const base = await testdir();
    const agent = join(base, "checkout");
    await copyTree(join(FIXTURES, "valid/minimal"), agent);
    const git = (...args: string[]) =>
      execFileSync("git", ["-C", agent, ...args], {
        encoding: "utf8",
        stdio: ["ignore", "pipe", "pipe"],
      }).trim();
    git("init", "-q");
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "add", "-A");
    git("-c", "user.name=t", "-c", "user.email=t@example.com", "commit", "-qm", "agent");
    git("remote", "add", "origin", "https://bob:ghp_0123456789abcdefSECRET@git.example.com/org/agent.git");
    const commit = git("rev-parse", "HEAD");
    const store = join(base, "store");
    const env = { AGENTRC_STORE: store, AGENTRC_CACHE: join(base, "cache"), HOME: base };
    const provenanceOf = async (extraEnv: NodeJS.ProcessEnv) => {
      const built = await runCli(["build", agent, "-t", "localhost/git:1", "--json"], {
        env: { ...env, ...extraEnv },
        cwd: base,
      });
      assert.equal(built.code, 0, built.stdout + built.stderr);
      const digest = (JSON.parse(built.stdout) as { digest: string }).digest;
      const opened = await LocalStore.open({ path: store });
      const [referrer] = await listReferrers(opened, digest);
      const manifest = JSON.parse(await readFile(opened.layout.blobPath(referrer!.digest), "utf8")) as {
        layers: Array<{ digest: string }>;
      };
      const text = await readFile(opened.layout.blobPath(manifest.layers[0]!.digest), "utf8");
      assert.doesNotMatch(text, /SECRET|bob/, "the remote's credentials never reach the statement");
      return JSON.parse(text) as {
        predicate: {
          buildDefinition: {
            externalParameters: { source?: string };
            resolvedDependencies: Array<{
              uri?: string;
              name?: string;
              digest: Record<string, string>;
              annotations?: object;
            }>;
          };
          runDetails: { metadata: { startedOn?: string } };
        };
      };
    };
    const clean = (await provenanceOf({})).predicate;
    const deps = clean.buildDefinition.resolvedDependencies;
    assert.deepEqual(deps[0], {
      uri: "git+https://git.example.com/org/agent.git",
      digest: { gitCommit: commit },
    });
    assert.equal(
      clean.buildDefinition.externalParameters.source,
      "git+https://git.example.com/org/agent.git",
    );
    const agentfileSha = createHash("sha256")
      .update(await readFile(join(agent, "Agentfile")))
      .digest("hex");
    assert.deepEqual(
      deps.find((d) => d.name === "Agentfile"),
      { name: "Agentfile", digest: { sha256: agentfileSha } },
    );
    assert.match(deps.find((d) => d.name === "agentrc.lock")?.digest.sha256 ?? "", /^[0-9a-f]{64}$/);
    assert.deepEqual(clean.runDetails.metadata, {}, "no wall clock without SOURCE_DATE_EPOCH");

    // A change to a tracked file, not committed: the source is marked dirty; the epoch comes from the environment.
    await writeFile(
      join(agent, "Agentfile"),
      `${await readFile(join(agent, "Agentfile"), "utf8")}\n# edited\n`,
    );
    const dirty = (await provenanceOf({ SOURCE_DATE_EPOCH: "1700000000" })).predicate;
    assert.deepEqual(dirty.buildDefinition.resolvedDependencies[0], {
      uri: "git+https://git.example.com/org/agent.git",
      digest: { gitCommit: commit },
      annotations: { dirty: "true" },
    });
    assert.deepEqual(dirty.runDetails.metadata, {
      startedOn: "2023-11-14T22:13:20Z",
      finishedOn: "2023-11-14T22:13:20Z",
    });
  });

  test("a git remote loses every credential before it reaches the provenance", () => {
    const cases: Array<[string, string]> = [
      ["https://bob:p@ss@git.example.com/o/r.git", "https://git.example.com/o/r.git"],
      ["https://git.example.com/o/r.git?private_token=SECRET", "https://git.example.com/o/r.git"],
      ["https://git.example.com/o/r.git#SECRET", "https://git.example.com/o/r.git"],
      ["https://x-access-token:ghs_SECRET@github.com/o/r", "https://github.com/o/r"],
      ["ssh://git@git.example.com:2222/o/r.git", "ssh://git.example.com:2222/o/r.git"],
      ["git@github.com:o/r.git", "git@github.com:o/r.git"],
    ];
    for (const [remote, published] of cases) assert.equal(publicRemote(remote), published, remote);
  });
});
