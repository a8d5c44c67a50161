import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { bytesBlob } from "../../src/registry/blobs.js";
import { RegistryClient } from "../../src/registry/client.js";
import { MEDIA_TYPES } from "../../src/registry/manifests.js";
import { plainImage } from "../helpers/artifacts.js";
import { FIXTURES } from "../helpers/build.js";
import { runCli } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { FaultProxy } from "../helpers/faultProxy.js";
import { fileTree } from "../helpers/fileTree.js";
import type { TestRegistry } from "../helpers/registry.js";
import { type RegistryWorkspace, registryWorkspace } from "../helpers/registryWorkspace.js";
import { PackageTamper } from "../helpers/tamper.js";

const run = promisify(execFile);

interface Installed {
  id: string;
  name: string;
  source: string;
  digest: string;
  path: string;
  skillsDir?: string;
  skills: string[];
}

describe("install, list --installed, update, uninstall against the registry", () => {
  let ws: RegistryWorkspace;
  let registry: TestRegistry;
  let proxy: FaultProxy;
  let base: string;
  let agent: string;
  let env: NodeJS.ProcessEnv;
  let skillsDir: string;
  let ref: string;
  const cli = (args: string[], code = 0) => ws.cli(args, code);
  const buildPush = async () => (await ws.buildPush(ref)).digest;
  const pulledTree = (digest: string) => ws.pulledTree(`${ref.split(":1.0")[0]}@${digest}`);

  before(async () => {
    // The store in the XDG data directory, beside the installations.
    ws = await registryWorkspace({
      name: "install",
      env: (dir) => ({ XDG_DATA_HOME: join(dir, "data"), AGENTRC_STORE: undefined }),
    });
    ({ registry, base, agent, env } = ws);
    // Every request goes through a proxy that counts them: `update` must only HEAD an unchanged manifest.
    proxy = await new FaultProxy(ws.registry.port).start();
    skillsDir = join(base, "claude", "skills");
    ref = `${proxy.host}/agents/full:1.0`;
  });
  after(async () => {
    await proxy?.stop();
    await ws?.close();
  });

  test("install → list → update (unchanged: HEAD only) → re-push → update → failed update kept → uninstall", async () => {
    const first = await buildPush();
    const installed = await cli(["install", ref, "--skills-dir", skillsDir, "--plain-http"]);
    assert.equal(installed.status, "installed");
    const pkg = installed.installed as Installed;
    assert.equal(pkg.id, `${proxy.host}/agents/full`);
    assert.equal(pkg.name, "full-agent");
    assert.equal(pkg.source, ref);
    assert.equal(pkg.digest, first);
    assert.equal(pkg.path, join(base, "data", "agentrc", "installed", encodeURIComponent(pkg.id), "tree"));
    assert.deepEqual(pkg.skills, ["review", "summarize"]);
    assert.deepEqual(
      await fileTree(pkg.path),
      await pulledTree(first),
      "the installed tree is the package's",
    );
    for (const skill of pkg.skills) {
      assert.deepEqual(
        await readFile(join(skillsDir, skill, "SKILL.md")),
        await readFile(join(pkg.path, "skills", skill, "SKILL.md")),
      );
    }
    const record = JSON.parse(await readFile(join(pkg.path, "..", "install.json"), "utf8"));
    assert.deepEqual([record.source, record.digest, record.id], [ref, first, pkg.id]);

    const listed = await cli(["list", "--installed"]);
    assert.deepEqual(
      (listed.installed as Installed[]).map((p) => [p.id, p.name, p.source, p.digest]),
      [[pkg.id, "full-agent", ref, first]],
    );
    const table = await runCli(["list", "--installed"], { env });
    assert.match(
      table.stdout,
      new RegExp(`full-agent +${pkg.id.replaceAll(".", "\\.")} +${first.slice(0, 19)} +oci://${ref}`),
    );
    assert.equal((await cli(["install", ref, "--plain-http"])).status, "unchanged");

    proxy.rules([]);
    const current = await cli(["update", "full-agent", "--plain-http"]);
    assert.deepEqual(current.updates, [
      { id: pkg.id, name: "full-agent", source: ref, status: "current", digest: first },
    ]);
    const requests = proxy.seen.map((r) => `${r.method} ${r.url}`);
    assert.ok(requests.includes("HEAD /v2/agents/full/manifests/1.0"), requests.join("\n"));
    assert.deepEqual(
      requests.filter((r) => !r.startsWith("HEAD ") && r !== "GET /v2/"),
      [],
      "an unchanged package is only HEADed",
    );

    // A re-push under the same tag: a changed skill and a new one.
    await writeFile(join(agent, "vendor/review/SKILL.md"), "# review\n\nReview twice.\n");
    await mkdir(join(agent, "skills/extra"), { recursive: true });
    await writeFile(join(agent, "skills/extra/SKILL.md"), "# extra\n");
    const agentfile = await readFile(join(agent, "Agentfile"), "utf8");
    await writeFile(
      join(agent, "Agentfile"),
      agentfile.replace("SKILL ./vendor/review", "SKILL ./vendor/review\nSKILL extra"),
    );
    await cli(["lock", agent]);
    const second = await buildPush();
    assert.notEqual(second, first);
    const updated = await cli(["update", "--all", "--plain-http"]);
    assert.deepEqual(updated.updates, [
      { id: pkg.id, name: "full-agent", source: ref, status: "updated", digest: second, previous: first },
    ]);
    assert.deepEqual(await fileTree(pkg.path), await pulledTree(second));
    assert.equal(
      await readFile(join(skillsDir, "review", "SKILL.md"), "utf8"),
      "# review\n\nReview twice.\n",
    );
    assert.equal(await readFile(join(skillsDir, "extra", "SKILL.md"), "utf8"), "# extra\n");

    // A third version adds a skill the user already has in the skills dir: the update fails, version 2 stays.
    await mkdir(join(skillsDir, "mine"), { recursive: true });
    await writeFile(join(skillsDir, "mine", "SKILL.md"), "# my own skill\n");
    await mkdir(join(agent, "skills/mine"), { recursive: true });
    await writeFile(join(agent, "skills/mine/SKILL.md"), "# packaged mine\n");
    await writeFile(
      join(agent, "Agentfile"),
      (await readFile(join(agent, "Agentfile"), "utf8")).replace("SKILL extra", "SKILL extra\nSKILL mine"),
    );
    await cli(["lock", agent]);
    await buildPush();
    const before = await fileTree(join(base, "data", "agentrc", "installed"));
    const skillsBefore = await fileTree(skillsDir);
    const failed = await cli(["update", "full-agent", "--plain-http"], 1);
    assert.equal(failed.error.code, "INSTALL_SKILL_EXISTS");
    assert.match(
      failed.error.message,
      /skills\/mine exists and was not placed by the installation of .*agents\/full/,
    );
    assert.deepEqual(
      await fileTree(join(base, "data", "agentrc", "installed")),
      before,
      "nothing half-installed",
    );
    assert.deepEqual(await fileTree(skillsDir), skillsBefore, "the skills dir is as it was");
    assert.equal(((await cli(["list", "--installed"])).installed as Installed[])[0]!.digest, second);

    const removed = await cli(["uninstall", "full-agent"]);
    assert.equal((removed.removed as Installed).digest, second);
    assert.deepEqual((await cli(["list", "--installed"])).installed, []);
    assert.deepEqual(await readdir(skillsDir), ["mine"], "only the user's own skill is left");
    const again = await cli(["uninstall", "full-agent"], 1);
    assert.equal(again.error.code, "INSTALL_NOT_FOUND");
    assert.match(again.error.message, /nothing installed is named full-agent/);
  });

  test("an update whose download fails leaves the installed version as it was", async () => {
    const other = join(base, "other");
    await copyTree(join(FIXTURES, "valid/minimal"), other);
    const otherRef = `${proxy.host}/agents/other:1`;
    const push = async () => (await ws.buildPush(otherRef, { agent: other })).digest;
    const first = await push();
    const installed = (await cli(["install", otherRef, "--plain-http"])).installed as Installed;
    const root = join(base, "data", "agentrc", "installed");
    const before = await fileTree(root);
    await writeFile(join(other, "Agentfile"), "AGENT minimal\nAUDIT all\n");
    const second = await push();
    // The registry loses every blob of the repository: the HEAD sees the new digest, the download fails.
    proxy.rules([
      {
        match: (r) => r.method === "GET" && r.url.startsWith("/v2/agents/other/blobs/"),
        times: Infinity,
        action: { kind: "status", status: 404 },
      },
    ]);
    const failed = await cli(["update", installed.id, "--plain-http"], 1);
    assert.equal(failed.error.code, "REGISTRY_NOT_FOUND");
    assert.match(failed.error.message, /GET blob agents\/other@sha256:[a-f0-9]{64}: registry answered 404/);
    assert.deepEqual(
      await fileTree(root),
      before,
      "no staging left, the installed tree and record unchanged",
    );
    const listed = (await cli(["list", "--installed"])).installed as Installed[];
    assert.equal(listed.find((p) => p.id === installed.id)!.digest, first);
    proxy.rules([]);
    const updated = await cli(["update", installed.id, "--plain-http"]);
    assert.deepEqual(
      updated.updates.map((u: { status: string; digest: string }) => [u.status, u.digest]),
      [["updated", second]],
    );
    await cli(["uninstall", installed.id]);
  });

  test("the trust policy decides before anything is written: a rejecting scope refuses, an accepting one installs", async () => {
    const other = join(base, "trusted");
    await copyTree(join(FIXTURES, "valid/minimal"), other);
    const trustedRef = `${registry.host}/agents/trusted:1`;
    await ws.buildPush(trustedRef, { agent: other });
    const reject = join(base, "reject-policy.json");
    await writeFile(
      reject,
      JSON.stringify({ version: 1, scopes: { [`${registry.host}/agents/trusted`]: { require: "reject" } } }),
    );
    const root = join(base, "data", "agentrc", "installed");
    const before = await readdir(root).catch(() => [] as string[]);
    const refused = await cli(["install", trustedRef, "--trust-policy", reject, "--plain-http"], 1);
    assert.equal(refused.error.code, "TRUST_POLICY_VIOLATION");
    assert.match(refused.error.message, /rejects everything from this scope/);
    assert.deepEqual(await readdir(root).catch(() => [] as string[]), before, "nothing staged or installed");
    const accept = join(base, "accept-policy.json");
    await writeFile(
      accept,
      JSON.stringify({
        version: 1,
        default: { require: "reject" },
        scopes: { [registry.host]: { require: "none" } },
      }),
    );
    const installed = await cli(["install", trustedRef, "--trust-policy", accept, "--plain-http"]);
    assert.equal(installed.status, "installed");
    await cli(["uninstall", installed.installed.id]);
  });

  test("a package that fails verification is not installed", async () => {
    const layout = join(base, "tampered");
    const clean = join(base, "clean-agent");
    await copyTree(join(FIXTURES, "agents/full"), clean);
    await cli(["build", clean, "-t", "x:1", "-o", layout]);
    const tamper = await PackageTamper.open(layout);
    tamper.manifest.annotations["io.agentrc.risk.tier"] = "low";
    await tamper.commitManifest();
    const target = `${registry.host}/agents/tampered:1`;
    const auth = join(base, "auth.json");
    await writeFile(auth, "{}");
    await run(
      "skopeo",
      ["copy", "--quiet", "--dest-tls-verify=false", `oci:${layout}:1`, `docker://${target}`],
      {
        env: { ...process.env, REGISTRY_AUTH_FILE: auth },
      },
    );
    const refused = await cli(["install", target, "--plain-http"], 1);
    assert.equal(refused.error.code, "INSTALL_VERIFY_FAILED");
    assert.match(refused.error.message, /fails verification, not installed: PACKAGE_RISK_TIER/);
    const root = join(base, "data", "agentrc", "installed");
    assert.deepEqual(
      (await readdir(root)).filter((n) => n !== ".lock"),
      [],
      "no staging directory and no installation left",
    );
  });

  test("a plain image is refused before any of its blobs is downloaded, nothing staged", async () => {
    const image = plainImage("hello.txt", "hello\n");
    const client = new RegistryClient(registry.host, { plainHttp: true });
    try {
      for (const bytes of [image.layer, image.config])
        await client.pushBlob("images/plain", bytesBlob(bytes));
      await client.putManifest("images/plain", "1", image.manifest, MEDIA_TYPES.ociManifest);
    } finally {
      await client.close();
    }
    const target = `${proxy.host}/images/plain:1`;
    proxy.rules([]);
    const refused = await cli(["install", target, "--plain-http"], 1);
    assert.equal(refused.error.code, "NOT_AN_AGENT_PACKAGE");
    assert.equal(
      refused.error.message,
      `${target} is not an agentrc package (config application/vnd.oci.image.config.v1+json); install takes agent packages`,
    );
    assert.deepEqual(
      proxy.seen.filter((r) => r.url.includes("/blobs/")).map((r) => `${r.method} ${r.url}`),
      [],
      "no blob requested",
    );
    const root = join(base, "data", "agentrc", "installed");
    assert.deepEqual(
      (await readdir(root)).filter((n) => n.startsWith(".staging-")),
      [],
      "no staging directory left",
    );
  });
});
