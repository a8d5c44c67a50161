import assert from "node:assert/strict";
import { mkdtemp, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { agentrcAuthPath } from "../../src/registry/authFile.js";
import { RegistryClient } from "../../src/registry/client.js";
import { login, logout } from "../../src/registry/login.js";
import { mapLimit } from "../../src/util/mapLimit.js";
import { assertConsistent, makeArtifact, pushArtifact } from "../helpers/artifacts.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

const isCode = (code: string, message: RegExp) => (err: Error & { code?: string }) => {
  assert.equal(err.code, code);
  assert.match(err.message, message);
  return true;
};

describe("token auth (test issuer, ES256)", () => {
  let registry: TestRegistry;
  let dir: string;
  before(async () => {
    registry = await startRegistry({ mode: "token" });
    dir = await mkdtemp(join(tmpdir(), "agentrc-auth-"));
  });
  after(async () => {
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("one token per scope set, reused from the cache", async () => {
    const issuer = registry.issuer!;
    issuer.requests.length = 0;
    const client = new RegistryClient(registry.host, registry.clientOptions());
    try {
      const artifact = await makeArtifact(dir, [1000, 2000, 3000, 4000]);
      // concurrent requests needing one scope set share a single token request
      await mapLimit([artifact.config, ...artifact.layers], 5, (b) => client.pushBlob("cache/app", b));
      await pushArtifact(client, "cache/app", artifact, "v1");
      await assertConsistent(client, "cache/app", artifact, "v1");
      const scopes = issuer.requests.map((r) => r.scopes.join(" "));
      assert.deepEqual(scopes, ["repository:cache/app:pull,push", "repository:cache/app:pull"]);
      assert.ok(issuer.requests.every((r) => r.user === "alice" && r.grantType === "basic"));
      assert.equal(client.http.auth.stats.tokenRequests, 2);
    } finally {
      await client.close();
    }
  });

  test("expires_in is honoured and a token rejected mid-push is renewed once", async () => {
    const issuer = registry.issuer!;
    issuer.requests.length = 0;
    issuer.expiresIn = 1;
    const client = new RegistryClient(registry.host, registry.clientOptions());
    try {
      const artifact = await makeArtifact(dir, [1000, 2000]);
      await client.pushBlob("expiry/app", artifact.config);
      assert.equal(issuer.requests.length, 1);
      await sleep(1100);
      // The tokens from here on live long: a 1 s token could expire again during a push on a loaded machine, and a
      // third renewal would be counted (this checks one renewal for the expiry and one for the rejection).
      issuer.expiresIn = 300;
      // the next token the client fetches is already expired: the registry answers 401, the client re-fetches
      issuer.poisonNext = 1;
      await pushArtifact(client, "expiry/app", artifact, "v1");
      assert.equal(issuer.requests.length, 3);
      assert.equal(issuer.poisonNext, 0);
      await assertConsistent(client, "expiry/app", artifact, "v1");
    } finally {
      issuer.expiresIn = 300;
      await client.close();
    }
  });

  test("a user without push rights is denied; pull still works", async () => {
    const alice = new RegistryClient(registry.host, registry.clientOptions());
    const reader = new RegistryClient(
      registry.host,
      registry.clientOptions({ credentials: { username: "reader", password: "reader-secret" } }),
    );
    try {
      const artifact = await makeArtifact(dir, [500]);
      await pushArtifact(alice, "denied/app", artifact, "v1");
      await assertConsistent(reader, "denied/app", artifact, "v1");
      await assert.rejects(
        reader.putManifest(
          "denied/app",
          "v2",
          artifact.manifest,
          "application/vnd.oci.image.manifest.v1+json",
        ),
        isCode("REGISTRY_DENIED", /PUT manifest denied\/app:v2: registry answered 401/),
      );
    } finally {
      await alice.close();
      await reader.close();
    }
  });

  test("a wrong password fails at the token service", async () => {
    const client = new RegistryClient(
      registry.host,
      registry.clientOptions({ credentials: { username: "alice", password: "wrong" } }),
    );
    try {
      await assert.rejects(
        client.headBlob("x/y", `sha256:${"0".repeat(64)}`),
        isCode("REGISTRY_TOKEN_FAILED", /401/),
      );
    } finally {
      await client.close();
    }
  });

  test("an identity token is exchanged with grant_type=refresh_token (POST)", async () => {
    const issuer = registry.issuer!;
    issuer.requests.length = 0;
    const client = new RegistryClient(
      registry.host,
      registry.clientOptions({ credentials: { identityToken: issuer.refreshTokenFor("alice") } }),
    );
    try {
      const artifact = await makeArtifact(dir, [100]);
      await pushArtifact(client, "refresh/app", artifact, "v1");
      assert.ok(issuer.requests.length > 0);
      assert.ok(issuer.requests.every((r) => r.method === "POST" && r.grantType === "refresh_token"));
      assert.equal(client.http.auth.stats.refreshRequests, issuer.requests.length);
    } finally {
      await client.close();
    }
  });

  test("AGENTRC_REGISTRY_TOKEN is sent as a bearer token without any token request", async () => {
    const issuer = registry.issuer!;
    const env = {
      AGENTRC_REGISTRY_HOST: registry.host,
      AGENTRC_REGISTRY_TOKEN: issuer.tokenFor("alice", "envtoken/app", ["pull", "push"]),
    };
    issuer.requests.length = 0;
    const { credentials: _none, ...options } = registry.clientOptions({ env });
    const client = new RegistryClient(registry.host, options);
    try {
      const artifact = await makeArtifact(dir, [100]);
      await pushArtifact(client, "envtoken/app", artifact, "v1");
      await assertConsistent(client, "envtoken/app", artifact, "v1");
      assert.equal(issuer.requests.length, 0);
    } finally {
      await client.close();
    }
  });

  test("AGENTRC_REGISTRY_* credentials scoped to another host are not used", async () => {
    const issuer = registry.issuer!;
    const env = {
      AGENTRC_REGISTRY_HOST: "127.0.0.1:1",
      AGENTRC_REGISTRY_USERNAME: "alice",
      AGENTRC_REGISTRY_PASSWORD: "alice-secret",
    };
    issuer.requests.length = 0;
    const { credentials: _none, ...options } = registry.clientOptions({ env });
    const client = new RegistryClient(registry.host, options);
    try {
      const artifact = await makeArtifact(dir, [100]);
      await assert.rejects(client.pushBlob("scoped/app", artifact.config), isCode("REGISTRY_DENIED", /401/));
      assert.ok(issuer.requests.length > 0);
      assert.ok(issuer.requests.every((r) => !r.hadAuthorization && r.user === undefined));
    } finally {
      await client.close();
    }
  });

  test("login verifies against the token service, stores 0600, and the stored credentials work", async () => {
    const config = await mkdtemp(join(tmpdir(), "agentrc-login-"));
    const env = { XDG_CONFIG_HOME: config, HOME: config };
    try {
      await assert.rejects(
        login(registry.host, "alice", "wrong", { env, proxy: false }),
        isCode("REGISTRY_LOGIN_FAILED", /login to 127\.0\.0\.1:\d+ failed/),
      );
      await assert.rejects(stat(agentrcAuthPath(env)), /ENOENT/);

      const { path } = await login(registry.host, "alice", "alice-secret", { env, proxy: false });
      assert.equal(path, join(config, "agentrc", "auth.json"));
      assert.equal((await stat(path)).mode & 0o777, 0o600);
      assert.equal((await stat(join(config, "agentrc"))).mode & 0o777, 0o700);
      const stored = JSON.parse(await readFile(path, "utf8"));
      assert.deepEqual(Object.keys(stored.auths), [registry.host]);

      const { credentials: _none, ...options } = registry.clientOptions({ env });
      const client = new RegistryClient(registry.host, options);
      try {
        const artifact = await makeArtifact(dir, [100]);
        await pushArtifact(client, "login/app", artifact, "v1");
      } finally {
        await client.close();
      }
      assert.equal(await logout(registry.host, { env }), true);
      assert.equal(await logout(registry.host, { env }), false);
      assert.deepEqual(JSON.parse(await readFile(path, "utf8")).auths, {});
    } finally {
      await rm(config, { recursive: true, force: true });
    }
  });
});

describe("token auth (RS256) and Basic auth", () => {
  test("RS256-signed tokens are accepted by the registry", async () => {
    const registry = await startRegistry({ mode: "token", alg: "RS256" });
    const dir = await mkdtemp(join(tmpdir(), "agentrc-rs256-"));
    const client = new RegistryClient(registry.host, registry.clientOptions());
    try {
      const artifact = await makeArtifact(dir, [100]);
      await pushArtifact(client, "rs/app", artifact, "v1");
      await assertConsistent(client, "rs/app", artifact, "v1");
    } finally {
      await client.close();
      await registry.stop();
      await rm(dir, { recursive: true, force: true });
    }
  });

  test("htpasswd: a wrong password or no credentials give REGISTRY_UNAUTHORIZED; login stores nothing", async () => {
    const registry = await startRegistry({ mode: "htpasswd" });
    const config = await mkdtemp(join(tmpdir(), "agentrc-login-"));
    const env = { XDG_CONFIG_HOME: config, HOME: config };
    const wrong = new RegistryClient(
      registry.host,
      registry.clientOptions({ credentials: { username: "alice", password: "nope" } }),
    );
    const { credentials: _none, ...anonymous } = registry.clientOptions();
    const none = new RegistryClient(registry.host, anonymous);
    try {
      await assert.rejects(
        wrong.ping(),
        isCode("REGISTRY_UNAUTHORIZED", /ping 127\.0\.0\.1:\d+: registry answered 401/),
      );
      await assert.rejects(none.listTags("a/b"), isCode("REGISTRY_UNAUTHORIZED", /list tags of a\/b/));
      assert.equal(wrong.http.auth.scheme, "basic");
      await assert.rejects(
        login(registry.host, "alice", "nope", { env, proxy: false }),
        isCode("REGISTRY_LOGIN_FAILED", /401/),
      );
      await assert.rejects(stat(agentrcAuthPath(env)), /ENOENT/);
      await login(registry.host, "alice", "alice-secret", { env, proxy: false });
      assert.equal((await stat(agentrcAuthPath(env))).mode & 0o777, 0o600);
    } finally {
      await wrong.close();
      await none.close();
      await registry.stop();
      await rm(config, { recursive: true, force: true });
    }
  });
});
