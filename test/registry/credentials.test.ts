import assert from "node:assert/strict";
import { chmod, mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RegistryClient } from "../../src/registry/client.js";
import { resolveCredentials } from "../../src/registry/credentials.js";
import { assertConsistent, makeArtifact, pushArtifact } from "../helpers/artifacts.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

const b64 = (s: string) => Buffer.from(s).toString("base64");
const isCode = (code: string, message: RegExp) => (err: Error & { code?: string }) => {
  assert.equal(err.code, code);
  assert.match(err.message, message);
  return true;
};

/** A `docker-credential-test` helper: logs the server URL it was asked for and answers for two servers. */
const HELPER = `#!/bin/sh
read server
echo "$server" >> "$HELPER_LOG"
case "$server" in
  "$HELPER_SERVER") printf '{"ServerURL":"%s","Username":"alice","Secret":"alice-secret"}' "$server" ;;
  https://index.docker.io/v1/) printf '{"ServerURL":"%s","Username":"<token>","Secret":"hub-refresh"}' "$server" ;;
  *) echo "credentials not found in native keychain"; exit 1 ;;
esac
`;

describe("credential resolution", () => {
  let home: string;
  let bin: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    home = await mkdtemp(join(tmpdir(), "agentrc-creds-"));
    bin = join(home, "bin");
    await mkdir(bin);
    await writeFile(join(bin, "docker-credential-test"), HELPER);
    await chmod(join(bin, "docker-credential-test"), 0o755);
  });
  after(() => rm(home, { recursive: true, force: true }));

  const fresh = async (name: string) => {
    const root = join(home, name);
    await mkdir(join(root, ".docker"), { recursive: true });
    env = {
      HOME: root,
      XDG_CONFIG_HOME: join(root, ".config"),
      PATH: `${bin}:${process.env.PATH}`,
      HELPER_LOG: join(root, "helper.log"),
      HELPER_SERVER: "registry.example:5000",
    };
    return root;
  };
  const dockerConfig = (root: string, config: unknown) =>
    writeFile(join(root, ".docker", "config.json"), JSON.stringify(config));

  test("docker config: base64 auth under a legacy https://host/v1/ key, identitytoken", async () => {
    const root = await fresh("auths");
    await dockerConfig(root, {
      auths: {
        "https://registry.example:5000/v1/": { auth: b64("bob:pa:ss") },
        "other.example": { identitytoken: "refresh-me" },
      },
    });
    assert.deepEqual(await resolveCredentials("registry.example:5000", { env }), {
      username: "bob",
      password: "pa:ss",
      source: `docker (${join(root, ".docker", "config.json")})`,
    });
    const other = await resolveCredentials("other.example", { env });
    assert.equal(other?.identityToken, "refresh-me");
    assert.equal(await resolveCredentials("registry.example", { env }), undefined);
  });

  test("credHelpers runs docker-credential-<name> get with the server on stdin", async () => {
    const root = await fresh("helpers");
    await dockerConfig(root, {
      credHelpers: { "registry.example:5000": "test", "docker.io": "test" },
      auths: { "registry.example:5000": { auth: b64("ignored:ignored") } },
    });
    const found = await resolveCredentials("registry.example:5000", { env });
    assert.equal(found?.username, "alice");
    assert.equal(found?.password, "alice-secret");
    const hub = await resolveCredentials("docker.io", { env });
    assert.deepEqual(hub?.identityToken, "hub-refresh");
    assert.equal(
      await readFile(env.HELPER_LOG!, "utf8"),
      "registry.example:5000\nhttps://index.docker.io/v1/\n",
    );
  });

  test("credsStore: not-found falls back to auths; a missing helper is a clear error", async () => {
    const root = await fresh("store");
    await dockerConfig(root, { credsStore: "test", auths: { "plain.example": { auth: b64("u:p") } } });
    assert.equal((await resolveCredentials("registry.example:5000", { env }))?.username, "alice");
    assert.equal((await resolveCredentials("plain.example", { env }))?.username, "u");
    await dockerConfig(root, { credsStore: "absent" });
    await assert.rejects(
      resolveCredentials("plain.example", { env }),
      isCode("REGISTRY_CRED_HELPER_FAILED", /docker-credential-absent is not on PATH/),
    );
  });

  test("precedence: AGENTRC_REGISTRY_* (exact host only) > agentrc > REGISTRY_AUTH_FILE > docker", async () => {
    const root = await fresh("order");
    await dockerConfig(root, { auths: { "r.example": { auth: b64("docker:d") } } });
    assert.equal((await resolveCredentials("r.example", { env }))?.username, "docker");

    const podman = join(root, "podman-auth.json");
    await writeFile(podman, JSON.stringify({ auths: { "r.example": { auth: b64("podman:p") } } }));
    env.REGISTRY_AUTH_FILE = podman;
    assert.equal((await resolveCredentials("r.example", { env }))?.username, "podman");

    await mkdir(join(root, ".config", "agentrc"), { recursive: true });
    await writeFile(
      join(root, ".config", "agentrc", "auth.json"),
      JSON.stringify({ auths: { "r.example": { auth: b64("agentrc:a") } } }),
    );
    assert.equal((await resolveCredentials("r.example", { env }))?.username, "agentrc");

    env.AGENTRC_REGISTRY_HOST = "r.example:443";
    env.AGENTRC_REGISTRY_USERNAME = "envuser";
    env.AGENTRC_REGISTRY_PASSWORD = "envpass";
    assert.equal((await resolveCredentials("r.example", { env }))?.username, "agentrc");
    assert.equal((await resolveCredentials("r.example:443", { env }))?.username, "envuser");
    env.AGENTRC_REGISTRY_HOST = "r.example";
    const fromEnv = await resolveCredentials("r.example", { env });
    assert.deepEqual(fromEnv, {
      username: "envuser",
      password: "envpass",
      source: "environment (AGENTRC_REGISTRY_*)",
    });
  });

  test("podman's $XDG_RUNTIME_DIR/containers/auth.json is read", async () => {
    const root = await fresh("runtime");
    await mkdir(join(root, "run", "containers"), { recursive: true });
    await writeFile(
      join(root, "run", "containers", "auth.json"),
      JSON.stringify({ auths: { "quay.example": { auth: b64("rt:x") } } }),
    );
    env.XDG_RUNTIME_DIR = join(root, "run");
    assert.equal((await resolveCredentials("quay.example", { env }))?.username, "rt");
  });

  test("malformed files and variables are reported with their location", async () => {
    const root = await fresh("bad");
    await writeFile(join(root, ".docker", "config.json"), "{not json");
    await assert.rejects(
      resolveCredentials("x.example", { env }),
      isCode("REGISTRY_CREDENTIALS_INVALID", /config\.json is not valid JSON/),
    );
    await dockerConfig(root, { auths: { "x.example": { auth: b64("no-colon") } } });
    await assert.rejects(
      resolveCredentials("x.example", { env }),
      isCode("REGISTRY_CREDENTIALS_INVALID", /auths\["x\.example"\]: "auth" is not base64 of user:password/),
    );
    env.AGENTRC_REGISTRY_HOST = "x.example";
    await assert.rejects(
      resolveCredentials("x.example", { env }),
      isCode("REGISTRY_CREDENTIALS_INVALID", /AGENTRC_REGISTRY_HOST is set but neither/),
    );
  });
});

describe("credential helper against the real registry (htpasswd)", () => {
  let registry: TestRegistry;
  let home: string;
  before(async () => {
    registry = await startRegistry({ mode: "htpasswd" });
    home = await mkdtemp(join(tmpdir(), "agentrc-helper-"));
  });
  after(async () => {
    await registry?.stop();
    await rm(home, { recursive: true, force: true });
  });

  test("a docker-credential-test helper on PATH supplies the credentials for a push", async () => {
    const bin = join(home, "bin");
    await mkdir(bin);
    await mkdir(join(home, ".docker"));
    await writeFile(join(bin, "docker-credential-test"), HELPER);
    await chmod(join(bin, "docker-credential-test"), 0o755);
    await writeFile(
      join(home, ".docker", "config.json"),
      JSON.stringify({ credHelpers: { [registry.host]: "test" } }),
    );
    const env = {
      HOME: home,
      PATH: `${bin}:${process.env.PATH}`,
      HELPER_LOG: join(home, "helper.log"),
      HELPER_SERVER: registry.host,
    };
    const { credentials: _none, ...options } = registry.clientOptions({ env });
    const client = new RegistryClient(registry.host, options);
    try {
      const artifact = await makeArtifact(home, [1000]);
      await pushArtifact(client, "helper/app", artifact, "v1");
      await assertConsistent(client, "helper/app", artifact, "v1");
      assert.equal(await readFile(env.HELPER_LOG, "utf8"), `${registry.host}\n`);
    } finally {
      await client.close();
    }
  });
});
