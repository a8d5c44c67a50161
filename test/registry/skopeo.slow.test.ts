import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { RegistryClient } from "../../src/registry/client.js";
import {
  makeArtifact,
  plainImage,
  pushArtifact,
  readAll,
  sha256,
  type TestArtifact,
  writeLayout,
} from "../helpers/artifacts.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

const run = promisify(execFile);

/** Runs skopeo without any stored credentials (each call passes --creds). */
function skopeo(args: string[]) {
  const env = { ...process.env, REGISTRY_AUTH_FILE: join(tmpdir(), "agentrc-nonexistent-auth.json") };
  return run("skopeo", args, { env, maxBuffer: 16 * 1024 * 1024, encoding: "buffer" }).catch((err) => {
    throw new Error(`skopeo ${args.join(" ")} failed: ${err.stderr?.toString() ?? err.message}`);
  });
}

async function blobBytes(a: TestArtifact): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for (const b of [a.config, ...a.layers]) out.push(await readAll(b.open()));
  return out;
}

describe("skopeo interoperability (token registry)", () => {
  let registry: TestRegistry;
  let dir: string;
  let client: RegistryClient;
  let creds: string[];
  before(async () => {
    registry = await startRegistry({ mode: "token" });
    dir = await mkdtemp(join(tmpdir(), "agentrc-skopeo-"));
    client = new RegistryClient(registry.host, registry.clientOptions());
    creds = ["--creds", "alice:alice-secret"];
  });
  after(async () => {
    await client?.close();
    await registry?.stop();
    await rm(dir, { recursive: true, force: true });
  });

  test("what we push, skopeo inspect --raw returns byte for byte and skopeo copy keeps the digest", async () => {
    const artifact = await makeArtifact(dir, [5000, 100]);
    await pushArtifact(client, "interop/agent", artifact, "v1");
    const ref = `docker://${registry.host}/interop/agent:v1`;
    const { stdout } = await skopeo(["inspect", "--raw", "--tls-verify=false", ...creds, ref]);
    assert.ok(Buffer.from(stdout).equals(artifact.manifest));

    const layout = join(dir, "copied");
    await skopeo([
      "copy",
      "--preserve-digests",
      "--src-tls-verify=false",
      "--src-creds",
      "alice:alice-secret",
      ref,
      `oci:${layout}:v1`,
    ]);
    const index = JSON.parse(await readFile(join(layout, "index.json"), "utf8"));
    assert.equal(index.manifests[0].digest, artifact.manifestDigest);
    for (const b of [artifact.config, ...artifact.layers]) {
      const copied = await readFile(join(layout, "blobs", "sha256", b.digest.slice(7)));
      assert.equal(sha256(copied), b.digest);
    }
  });

  test("what skopeo pushes (a plain image layout and an agent layout), we pull and verify", async () => {
    const { layer, config, manifest: imageManifest } = plainImage("hello.txt", "hello from skopeo\n");
    const agent = await makeArtifact(dir, [3000]);
    const cases = [
      { name: "image", blobs: [config, layer], manifest: imageManifest },
      { name: "agent", blobs: await blobBytes(agent), manifest: agent.manifest },
    ];
    for (const c of cases) {
      const layout = join(dir, `layout-${c.name}`);
      const digest = await writeLayout(layout, c.blobs, c.manifest, "base");
      await skopeo([
        "copy",
        "--preserve-digests",
        "--dest-tls-verify=false",
        "--dest-creds",
        "alice:alice-secret",
        `oci:${layout}:base`,
        `docker://${registry.host}/interop/${c.name}:base`,
      ]);
      const pulled = await client.getManifest(`interop/${c.name}`, "base");
      assert.equal(pulled.digest, digest, c.name);
      assert.ok(pulled.bytes.equals(c.manifest));
      const m = JSON.parse(pulled.bytes.toString("utf8"));
      for (const d of [m.config, ...m.layers]) {
        const got = await readAll(await client.getBlob(`interop/${c.name}`, d.digest, d.size));
        assert.equal(sha256(got), d.digest);
      }
    }
  });
});
