import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { MEDIA_TYPES } from "../../src/registry/manifests.js";
import { canonicalJson } from "../../src/util/canonicalJson.js";
import { plainImage } from "../helpers/artifacts.js";
import { runCli } from "../helpers/cli.js";
import { sha256 } from "../helpers/fileTree.js";
import type { TestRegistry } from "../helpers/registry.js";
import { type RegistryWorkspace, registryWorkspace } from "../helpers/registryWorkspace.js";

const run = promisify(execFile);

/** skopeo against the plain-HTTP test registry, without any stored credentials. */
async function skopeo(args: string[]): Promise<Buffer> {
  const env = { ...process.env, REGISTRY_AUTH_FILE: join(tmpdir(), "agentrc-nonexistent-auth.json") };
  try {
    const { stdout } = await run("skopeo", args, { env, maxBuffer: 64 * 1024 * 1024, encoding: "buffer" });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: Buffer; message: string };
    throw new Error(`skopeo ${args.join(" ")} failed: ${e.stderr?.toString() ?? e.message}`);
  }
}

describe("skopeo interoperability at the CLI level (open registry)", () => {
  let ws: RegistryWorkspace;
  let registry: TestRegistry;
  let base: string;
  let agent: string;
  let env: NodeJS.ProcessEnv;
  before(async () => {
    ws = await registryWorkspace({ name: "push-skopeo" });
    ({ registry, base, agent, env } = ws);
  });
  after(() => ws?.close());

  test("what agentrc push pushed, skopeo reads byte for byte and copies to a layout with the same digest", async () => {
    const ref = `${registry.host}/interop/pushed:1.0`;
    const built = await runCli(["build", agent, "-t", ref, "--json"], { env });
    assert.equal(built.code, 0, built.stdout);
    const pushed = await runCli(["push", ref, "--json"], { env });
    assert.equal(pushed.code, 0, pushed.stdout);
    const { digest } = JSON.parse(pushed.stdout) as { digest: string };

    const raw = await skopeo(["inspect", "--raw", "--tls-verify=false", `docker://${ref}`]);
    assert.equal(sha256(raw), digest, "skopeo sees our manifest bytes unchanged");
    const layout = join(base, "skopeo-copy");
    await skopeo(["copy", "--quiet", "--src-tls-verify=false", `docker://${ref}`, `oci:${layout}:1.0`]);
    const copied = await skopeo(["inspect", "--raw", `oci:${layout}:1.0`]);
    assert.equal(sha256(copied), digest);
    for (const name of await readdir(join(layout, "blobs", "sha256"))) {
      assert.equal(sha256(await readFile(join(layout, "blobs", "sha256", name))), `sha256:${name}`);
    }
  });

  test("a package layout skopeo pushed, agentrc pull pulls, verifies and unpacks", async () => {
    const layout = join(base, "built-layout");
    const built = await runCli(["build", agent, "-t", "interop:2.0", "--output", layout, "--json"], { env });
    assert.equal(built.code, 0, built.stdout);
    const { digest } = JSON.parse(built.stdout) as { digest: string };
    const ref = `${registry.host}/interop/by-skopeo:2.0`;
    await skopeo(["copy", "--quiet", "--dest-tls-verify=false", `oci:${layout}:2.0`, `docker://${ref}`]);

    const out = join(base, "unpacked");
    const pulled = await runCli(["pull", ref, "-o", out, "--json"], {
      env: { ...env, AGENTRC_STORE: join(base, "s2") },
    });
    assert.equal(pulled.code, 0, pulled.stdout);
    const result = JSON.parse(pulled.stdout) as { digest: string; blobs: Array<{ status: string }> };
    assert.equal(result.digest, digest, "skopeo kept the manifest and agentrc pulled the same digest");
    assert.ok(result.blobs.every((b) => b.status === "downloaded"));
    assert.deepEqual(await readFile(join(out, "Agentfile")), await readFile(join(agent, "Agentfile")));
  });

  test("a plain image skopeo pushed is pulled into the store and verified; -o refuses it as not a package", async () => {
    const dir = join(base, "plain-layout");
    await mkdir(join(dir, "blobs", "sha256"), { recursive: true });
    const { layer, config, manifest } = plainImage("hello.txt", "hello\n");
    for (const b of [layer, config, manifest])
      await writeFile(join(dir, "blobs", "sha256", sha256(b).slice(7)), b);
    await writeFile(join(dir, "oci-layout"), canonicalJson({ imageLayoutVersion: "1.0.0" }));
    await writeFile(
      join(dir, "index.json"),
      canonicalJson({
        schemaVersion: 2,
        manifests: [
          {
            mediaType: MEDIA_TYPES.ociManifest,
            digest: sha256(manifest),
            size: manifest.length,
            annotations: { "org.opencontainers.image.ref.name": "1" },
          },
        ],
      }),
    );
    const ref = `${registry.host}/interop/plain:1`;
    await skopeo(["copy", "--quiet", "--dest-tls-verify=false", `oci:${dir}:1`, `docker://${ref}`]);
    const storeEnv = { ...env, AGENTRC_STORE: join(base, "s3") };
    const pulled = await runCli(["pull", ref, "--json"], { env: storeEnv });
    assert.equal(pulled.code, 0, pulled.stdout);
    assert.equal((JSON.parse(pulled.stdout) as { digest: string }).digest, sha256(manifest));
    // The store's copy is a valid layout skopeo reads back with the same digest.
    const back = await skopeo(["inspect", "--raw", `oci:${storeEnv.AGENTRC_STORE}:${ref}`]);
    assert.equal(sha256(back), sha256(manifest));

    const refused = await runCli(["pull", ref, "-o", join(base, "plain-out"), "--json"], { env: storeEnv });
    assert.equal(refused.code, 1);
    const error = (JSON.parse(refused.stdout) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, "NOT_AN_AGENT_PACKAGE");
    assert.match(error.message, /application\/vnd\.oci\.image\.config\.v1\+json/);
    await assert.rejects(readdir(join(base, "plain-out")), { code: "ENOENT" });
  });
});
