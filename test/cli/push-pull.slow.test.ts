import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RegistryClient } from "../../src/registry/client.js";
import { FIXTURES } from "../helpers/build.js";
import { runCli } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { type FaultProxy, type SeenRequest, startFaultProxy } from "../helpers/faultProxy.js";
import { type RegistryMode, startRegistry, type TestRegistry } from "../helpers/registry.js";

interface PushJson {
  ok: boolean;
  digest: string;
  reference: string;
  tag?: string;
  blobs: Array<{ digest: string; size: number; status: string }>;
}
interface PullJson extends PushJson {
  output?: { dir: string; files: number; bytes: number };
}

const json = <T>(r: { code: number; stdout: string; stderr: string }): T => {
  assert.equal(r.code, 0, `exit ${r.code}\n${r.stdout}\n${r.stderr}`);
  return JSON.parse(r.stdout) as T;
};

let base: string;
let agent: string;
before(async () => {
  base = await mkdtemp(join(tmpdir(), "agentrc-push-pull-"));
  agent = join(base, "agent");
  await copyTree(join(FIXTURES, "agents/full"), agent);
});
after(() => rm(base, { recursive: true, force: true }));

/** A command environment of its own: store, cache, config (agentrc auth file), HOME, no credentials by default. */
function envFor(name: string, extra: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: join(base, `home-${name}`),
    XDG_CONFIG_HOME: join(base, `config-${name}`),
    AGENTRC_STORE: join(base, `store-${name}`),
    AGENTRC_CACHE: join(base, "cache"),
    ...extra,
  };
}

async function filesUnder(dir: string, rel = ""): Promise<string[]> {
  const out: string[] = [];
  for (const e of await readdir(join(dir, rel), { withFileTypes: true })) {
    const path = rel === "" ? e.name : `${rel}/${e.name}`;
    if (e.isDirectory()) out.push(...(await filesUnder(dir, path)));
    else out.push(path);
  }
  return out.sort();
}

const MODES: RegistryMode[] = ["open", "htpasswd", "token", "tls"];

for (const mode of MODES) {
  describe(`build → push → empty store → pull (${mode} registry)`, () => {
    let registry: TestRegistry;
    before(async () => {
      registry = await startRegistry({ mode });
    });
    after(() => registry?.stop());

    test("the pulled package has the built digest; a second push finds every blob; inspect reads it remotely", async () => {
      const user = registry.users[0]!;
      // htpasswd: credentials from AGENTRC_REGISTRY_*; token: from `agentrc login` (agentrc's auth file).
      const env = envFor(
        mode,
        mode === "htpasswd"
          ? {
              AGENTRC_REGISTRY_HOST: registry.host,
              AGENTRC_REGISTRY_USERNAME: user.name,
              AGENTRC_REGISTRY_PASSWORD: user.password,
            }
          : {},
      );
      const flags = mode === "tls" ? ["--ca-file", registry.caFile!] : [];
      const ref = `${registry.host}/agents/full:1.0`;
      const built = json<{ digest: string }>(await runCli(["build", agent, "-t", ref, "--json"], { env }));

      if (mode === "token") {
        const login = await runCli(["login", registry.host, "-u", user.name, "--password-stdin"], {
          env,
          input: `${user.password}\n`,
        });
        assert.equal(login.code, 0, login.stderr);
        assert.match(login.stderr, /Login succeeded/);
      }

      const pushed = json<PushJson>(await runCli(["push", ref, "--json", ...flags], { env }));
      assert.equal(pushed.digest, built.digest);
      assert.equal(pushed.reference, `${registry.host}/agents/full@${built.digest}`);
      assert.equal(pushed.tag, "1.0");
      assert.ok(pushed.blobs.length >= 5, "config and layers");
      assert.deepEqual(
        pushed.blobs.map((b) => b.status),
        pushed.blobs.map(() => "uploaded"),
      );

      const again = json<PushJson>(await runCli(["push", ref, "--json", ...flags], { env }));
      assert.equal(again.digest, built.digest);
      assert.deepEqual(
        again.blobs.map((b) => b.status),
        again.blobs.map(() => "exists"),
        "an unchanged package uploads nothing",
      );

      const remote = json<{ descriptor: { digest: string }; source: string; summary: { name: string } }>(
        await runCli(["inspect", ref, "--remote", "--json", ...flags], { env }),
      );
      assert.equal(remote.descriptor.digest, built.digest);
      assert.equal(remote.summary.name, "full-agent");

      await rm(env.AGENTRC_STORE!, { recursive: true, force: true });
      const out = join(base, `out-${mode}`);
      const pulled = json<PullJson>(await runCli(["pull", ref, "-o", out, "--json", ...flags], { env }));
      assert.equal(pulled.digest, built.digest);
      assert.equal(pulled.tag, ref);
      assert.deepEqual(
        pulled.blobs.map((b) => b.status),
        pulled.blobs.map(() => "downloaded"),
      );
      // The store now has it under the reference: local inspect works without the registry.
      const local = json<{
        descriptor: { digest: string };
        source: string;
        config: { files: Array<{ path: string; sha256: string; size: number; mode: number }> };
      }>(await runCli(["inspect", ref, "--json"], { env }));
      assert.equal(local.descriptor.digest, built.digest);
      assert.equal(local.source, env.AGENTRC_STORE);
      // The unpacked tree is exactly the package's file index: paths, contents and modes.
      const files = await filesUnder(out);
      assert.deepEqual(files, local.config.files.map((f) => f.path).sort());
      assert.equal(pulled.output?.files, files.length);
      for (const f of local.config.files) {
        const bytes = await readFile(join(out, f.path));
        assert.equal(
          createHash("sha256").update(bytes).digest("hex"),
          f.sha256.replace(/^sha256:/, ""),
          f.path,
        );
        assert.equal((await stat(join(out, f.path))).mode & 0o777, f.mode, f.path);
      }
      assert.deepEqual(await readFile(join(out, "Agentfile")), await readFile(join(agent, "Agentfile")));
    });
  });
}

describe("push and build --push against an htpasswd registry", () => {
  let registry: TestRegistry;
  let proxy: FaultProxy;
  before(async () => {
    registry = await startRegistry({ mode: "htpasswd" });
    proxy = await startFaultProxy(registry.port);
  });
  after(async () => {
    await proxy?.stop();
    await registry?.stop();
  });
  const credentials = (host: string) => ({
    AGENTRC_REGISTRY_HOST: host,
    AGENTRC_REGISTRY_USERNAME: registry.users[0]!.name,
    AGENTRC_REGISTRY_PASSWORD: registry.users[0]!.password,
  });

  test("build --push pushes every -t reference after emit (the second repository mounts)", async () => {
    const env = envFor("build-push", credentials(registry.host));
    const refs = [`${registry.host}/team/a:1`, `${registry.host}/team/b:1`];
    const r = json<{ digest: string; pushed: PushJson[] }>(
      await runCli(["build", agent, "-t", refs[0]!, "-t", refs[1]!, "--push", "--json"], { env }),
    );
    assert.equal(r.pushed.length, 2);
    for (const p of r.pushed) assert.equal(p.digest, r.digest);
    assert.ok(r.pushed[0]!.blobs.every((b) => b.status === "uploaded" || b.status === "exists"));
    assert.ok(
      r.pushed[1]!.blobs.every((b) => b.status === "mounted"),
      "blobs of the second repository are mounted from the first",
    );
    const client = new RegistryClient(registry.host, registry.clientOptions());
    try {
      for (const ref of ["team/a", "team/b"]) {
        const m = await client.getManifest(ref, "1");
        assert.equal(m.digest, r.digest);
      }
    } finally {
      await client.close();
    }
  });

  test("build --push without -t is a usage error", async () => {
    const r = await runCli(["build", agent, "--push"], { env: envFor("build-push") });
    assert.equal(r.code, 2);
    assert.match(r.stderr, /--push needs at least one -t/);
  });

  test("push of a reference that is not in the store fails with OCI_REF_NOT_FOUND", async () => {
    const r = await runCli(["push", `${registry.host}/nothing/here:1`, "--json"], { env: envFor("empty") });
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    assert.equal(out.error.code, "OCI_REF_NOT_FOUND");
    assert.match(out.error.message, /is not in the local store/);
  });

  test("a push through 429 + Retry-After, 5xx and resets mid-upload completes; the registry is consistent", async () => {
    const env = envFor("faults", credentials(proxy.host));
    const ref = `${proxy.host}/faults/full:1`;
    const built = json<{ digest: string }>(await runCli(["build", agent, "-t", ref, "--json"], { env }));
    const is = (method: string, path: RegExp) => (r: SeenRequest) => r.method === method && path.test(r.url);
    proxy.rules([
      {
        match: is("HEAD", /\/blobs\//),
        action: { kind: "status", status: 429, headers: { "retry-after": "1" } },
      },
      { match: is("POST", /\/blobs\/uploads\/$/), action: { kind: "status", status: 503 } },
      { match: is("PUT", /\/blobs\/uploads\//), times: 2, action: { kind: "reset", afterBytes: 64 } },
      { match: is("PUT", /\/blobs\/uploads\//), action: { kind: "status", status: 500 } },
      { match: is("PUT", /\/manifests\//), action: { kind: "status", status: 502 } },
    ]);
    const started = Date.now();
    const pushed = json<PushJson>(await runCli(["push", ref, "--json"], { env }));
    assert.equal(pushed.digest, built.digest);
    assert.equal(proxy.fired.length, 6, "every fault fired");
    assert.ok(Date.now() - started >= 1000, "Retry-After: 1 was honoured");

    // Consistent: straight from the registry (no proxy), every blob is there with its digest and the tag points at
    // the built manifest; a pull into an empty store verifies all of it.
    const client = new RegistryClient(registry.host, registry.clientOptions());
    try {
      for (const b of pushed.blobs) {
        const stream = await client.getBlob("faults/full", b.digest, b.size);
        const hash = createHash("sha256");
        for await (const c of stream) hash.update(c as Buffer);
        assert.equal(`sha256:${hash.digest("hex")}`, b.digest);
      }
      assert.equal((await client.getManifest("faults/full", "1")).digest, built.digest);
    } finally {
      await client.close();
    }
    const pullEnv = envFor("faults-pull", credentials(registry.host));
    const pulled = json<PullJson>(
      await runCli(["pull", `${registry.host}/faults/full:1`, "--json"], { env: pullEnv }),
    );
    assert.equal(pulled.digest, built.digest);
  });

  test("inspect of a remote reference fetches only the manifest, the config and the policy", async () => {
    const env = envFor("inspect", credentials(proxy.host));
    const ref = `${proxy.host}/inspect/full:1`;
    const built = json<{ digest: string }>(
      await runCli(["build", agent, "-t", ref, "--push", "--json"], { env }),
    );
    proxy.rules([]);
    // Not in this (empty) store and the reference names a host: inspect goes to the registry.
    const view = json<{
      descriptor: { digest: string };
      manifest: { config: { digest: string }; layers: Array<{ digest: string; mediaType: string }> };
    }>(
      await runCli(["inspect", ref, "--json"], {
        env: { ...env, AGENTRC_STORE: join(base, "store-inspect-empty") },
      }),
    );
    assert.equal(view.descriptor.digest, built.digest);
    const blobGets = proxy.seen.filter((r) => r.method === "GET" && /\/blobs\//.test(r.url));
    const policy = view.manifest.layers.find(
      (l) => l.mediaType === "application/vnd.agentrc.agent.policy.cedar.v1+text",
    );
    assert.ok(policy);
    // Of the package's blobs only the config and the policy are fetched (no layer); beside them, the blob of the
    // build's provenance referrer, which inspect summarises.
    const fetched = blobGets.map((r) => r.url.split("/blobs/")[1]!);
    const ofPackage = new Set([view.manifest.config.digest, ...view.manifest.layers.map((l) => l.digest)]);
    assert.deepEqual(
      fetched.filter((d) => ofPackage.has(d)),
      [view.manifest.config.digest, policy.digest],
      "only the config and policy blobs of the package are fetched",
    );
    assert.equal(fetched.filter((d) => !ofPackage.has(d)).length, 1, "and the provenance statement");
    // A host the local store already has packages from is a local miss, with a hint to use --remote.
    const miss = await runCli(["inspect", `${proxy.host}/inspect/other:1`, "--json"], { env });
    assert.equal(miss.code, 1);
    const error = JSON.parse(miss.stdout) as {
      error: { code: string };
      diagnostics: Array<{ hint?: string }>;
    };
    assert.equal(error.error.code, "OCI_REF_NOT_FOUND");
    assert.match(error.diagnostics[0]?.hint ?? "", /pass --remote/);
  });
});
