import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { FIXTURES } from "../helpers/build.js";
import { runBin, runCli } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

describe("login, logout and credential helpers (htpasswd registry)", () => {
  let registry: TestRegistry;
  let base: string;
  let agent: string;
  before(async () => {
    registry = await startRegistry({ mode: "htpasswd" });
    base = await mkdtemp(join(tmpdir(), "agentrc-login-"));
    agent = join(base, "agent");
    await copyTree(join(FIXTURES, "valid/minimal"), agent);
  });
  after(async () => {
    await registry?.stop();
    await rm(base, { recursive: true, force: true });
  });

  const env = (name: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv => ({
    PATH: process.env.PATH,
    HOME: join(base, `home-${name}`),
    XDG_CONFIG_HOME: join(base, `config-${name}`),
    DOCKER_CONFIG: join(base, `docker-${name}`),
    AGENTRC_STORE: join(base, `store-${name}`),
    AGENTRC_CACHE: join(base, "cache"),
    ...extra,
  });

  test("login --password-stdin stores verified credentials with mode 0600; logout removes them", async () => {
    const e = env("cli");
    const user = registry.users[0]!;
    const authFile = join(e.XDG_CONFIG_HOME!, "agentrc", "auth.json");

    const wrong = runBin(["login", registry.host, "-u", user.name, "--password-stdin"], {
      env: e,
      input: "not-the-password\n",
    });
    assert.equal(wrong.code, 1);
    assert.match(wrong.stderr, /REGISTRY_LOGIN_FAILED/);
    assert.match(wrong.stderr, new RegExp(`login to ${registry.host.replace(/\./g, "\\.")} failed`));
    await assert.rejects(stat(authFile), { code: "ENOENT" }, "nothing is stored after a refused login");

    const ok = runBin(["login", registry.host, "-u", user.name, "--password-stdin"], {
      env: e,
      input: `${user.password}\n`,
    });
    assert.equal(ok.code, 0, ok.stderr);
    assert.match(ok.stderr, /Login succeeded/);
    assert.equal((await stat(authFile)).mode & 0o777, 0o600);
    assert.equal((await stat(join(e.XDG_CONFIG_HOME!, "agentrc"))).mode & 0o777, 0o700);
    const stored = JSON.parse(await readFile(authFile, "utf8")) as {
      auths: Record<string, { auth: string }>;
    };
    assert.equal(
      Buffer.from(stored.auths[registry.host]!.auth, "base64").toString(),
      `${user.name}:${user.password}`,
    );
    assert.ok(
      !ok.stdout.includes(user.password) && !ok.stderr.includes(user.password),
      "the password is never printed",
    );

    // The stored credentials are used: build, push and pull work without any other source.
    const ref = `${registry.host}/login/minimal:1`;
    const built = runBin(["build", agent, "-t", ref, "--json"], { env: e });
    assert.equal(built.code, 0, built.stderr);
    const pushed = runBin(["push", ref, "--json"], { env: e });
    assert.equal(pushed.code, 0, pushed.stderr);
    assert.equal(
      (JSON.parse(pushed.stdout) as { digest: string }).digest,
      (JSON.parse(built.stdout) as { digest: string }).digest,
    );

    const out = runBin(["logout", registry.host], { env: e });
    assert.equal(out.code, 0, out.stderr);
    assert.match(out.stderr, /Removed credentials/);
    assert.equal((await stat(authFile)).mode & 0o777, 0o600);
    const after = JSON.parse(await readFile(authFile, "utf8")) as { auths: Record<string, unknown> };
    assert.deepEqual(after.auths, {});
    const again = runBin(["logout", registry.host], { env: e });
    assert.equal(again.code, 0);
    assert.match(again.stderr, /No stored credentials/);

    // Logged out: the registry refuses the push.
    const refused = runBin(["push", ref, "--json"], { env: e });
    assert.equal(refused.code, 1);
    assert.equal(
      (JSON.parse(refused.stdout) as { error: { code: string } }).error.code,
      "REGISTRY_UNAUTHORIZED",
    );
  });

  test("login without --password-stdin on a non-terminal, or without -u, is a usage error", async () => {
    const noStdin = await runCli(["login", registry.host, "-u", "alice"], { env: env("usage") });
    assert.equal(noStdin.code, 2);
    assert.match(noStdin.stderr, /pass the password with --password-stdin/);
    const noUser = await runCli(["login", registry.host, "--password-stdin"], {
      env: env("usage"),
      input: "x\n",
    });
    assert.equal(noUser.code, 2);
    assert.match(noUser.stderr, /-u <user>/);
  });

  /** A docker-credential-<name> script that answers for the registry and logs each call. */
  async function helper(name: string): Promise<{ bin: string; log: string }> {
    const bin = join(base, `bin-${name}`);
    const log = join(base, `${name}.log`);
    await mkdir(bin, { recursive: true });
    const user = registry.users[0]!;
    const script = [
      "#!/bin/sh",
      "read server",
      `echo "$1 $server" >> "${log}"`,
      `if [ "$1" = get ] && [ "$server" = "${registry.host}" ]; then`,
      `  printf '{"ServerURL":"%s","Username":"${user.name}","Secret":"${user.password}"}' "$server"`,
      "  exit 0",
      "fi",
      'echo "credentials not found in native keychain"',
      "exit 1",
      "",
    ].join("\n");
    const path = join(bin, `docker-credential-${name}`);
    await writeFile(path, script);
    await chmod(path, 0o755);
    return { bin, log };
  }

  for (const kind of ["credHelpers", "credsStore"] as const) {
    test(`a docker credential helper on PATH (${kind}) supplies the credentials`, async () => {
      const { bin, log } = await helper(`agentrc${kind.toLowerCase()}`);
      const e = env(kind, { PATH: `${bin}:${process.env.PATH}` });
      const config =
        kind === "credHelpers"
          ? { credHelpers: { [registry.host]: `agentrc${kind.toLowerCase()}` } }
          : { credsStore: `agentrc${kind.toLowerCase()}` };
      await mkdir(e.DOCKER_CONFIG!, { recursive: true });
      await writeFile(join(e.DOCKER_CONFIG!, "config.json"), JSON.stringify(config));
      const ref = `${registry.host}/helper/${kind.toLowerCase()}:1`;
      const built = await runCli(["build", agent, "-t", ref, "--push", "--json"], { env: e });
      assert.equal(built.code, 0, built.stdout);
      const digest = (JSON.parse(built.stdout) as { digest: string }).digest;
      await rm(e.AGENTRC_STORE!, { recursive: true, force: true });
      const pulled = await runCli(["pull", ref, "--json"], { env: e });
      assert.equal(pulled.code, 0, pulled.stdout);
      assert.equal((JSON.parse(pulled.stdout) as { digest: string }).digest, digest);
      assert.match(
        await readFile(log, "utf8"),
        new RegExp(`^get ${registry.host.replace(/\./g, "\\.")}$`, "m"),
      );
    });
  }

  test("a failing credential helper is reported as REGISTRY_CRED_HELPER_FAILED", async () => {
    const bin = join(base, "bin-broken");
    await mkdir(bin, { recursive: true });
    await writeFile(join(bin, "docker-credential-broken"), "#!/bin/sh\necho 'keychain locked' >&2\nexit 3\n");
    await chmod(join(bin, "docker-credential-broken"), 0o755);
    const e = env("broken", { PATH: `${bin}:${process.env.PATH}` });
    await mkdir(e.DOCKER_CONFIG!, { recursive: true });
    await writeFile(join(e.DOCKER_CONFIG!, "config.json"), JSON.stringify({ credsStore: "broken" }));
    const r = await runCli(["pull", `${registry.host}/helper/none:1`, "--json"], { env: e });
    assert.equal(r.code, 1);
    const error = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, "REGISTRY_CRED_HELPER_FAILED");
    assert.match(error.message, /docker-credential-broken get failed \(exit 3\): keychain locked/);
  });
});
