import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { fileTree, sha256 } from "../helpers/fileTree.js";
import { oras } from "../helpers/orasClient.js";
import { type PushedBuild, type RegistryWorkspace, registryWorkspace } from "../helpers/registryWorkspace.js";

const run = promisify(execFile);

/** An empty auth file: podman, skopeo reach the open registry anonymously, whatever the machine has stored. */
let authFile = "";

async function tool(bin: string, args: string[]): Promise<string> {
  const env = { ...process.env, REGISTRY_AUTH_FILE: authFile };
  try {
    const { stdout } = await run(bin, args, { env, maxBuffer: 64 * 1024 * 1024 });
    return stdout;
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`${bin} ${args.join(" ")} failed: ${e.stderr ?? e.message}`);
  }
}

describe("image mode: podman, umoci and the artifact's consumers (open registry)", () => {
  let ws: RegistryWorkspace;
  let base: string;
  let ref: string;
  let built: PushedBuild;
  /** The package as `agentrc pull -o` writes it: the tree the image must hold. */
  let expected: Record<string, string>;
  before(async () => {
    ws = await registryWorkspace({ name: "image" });
    base = ws.base;
    authFile = join(base, "auth.json");
    await writeFile(authFile, "{}");
    ref = `${ws.registry.host}/agents/full:1.0`;
    built = await ws.buildPush(ref, { image: true });
    expected = await ws.pulledTree(ref, { AGENTRC_STORE: join(base, "store2") });
  });
  after(() => ws?.close());

  test("build --image pushes the artifact at the tag and the image at <tag>-image", () => {
    assert.deepEqual(built.output.tags, [ref]);
    assert.deepEqual(built.output.imageTags, [`${ref}-image`]);
    assert.deepEqual(
      built.pushed.map((p) => [p.tag, p.digest]),
      [
        ["1.0", built.digest],
        ["1.0-image", built.image.digest],
      ],
    );
    assert.ok(expected["skills/summarize/SKILL.md"] && expected.Agentfile && expected["agentrc.lock"]);
  });

  test("podman pulls the image; podman image mount shows the package's files, byte for byte", async () => {
    const root = join(base, "podman");
    const podman = (args: string[]) =>
      tool("podman", [
        "--root",
        join(root, "root"),
        "--runroot",
        join(root, "run"),
        "--storage-driver",
        "vfs",
        ...args,
      ]);
    await podman(["pull", "--quiet", "--tls-verify=false", `${ref}-image`]);
    const id = (await podman(["image", "inspect", "--format", "{{.Id}}", `${ref}-image`])).trim();
    assert.equal(`sha256:${id}`, built.image.config.digest, "podman's image id is our config digest");
    const digest = (await podman(["image", "inspect", "--format", "{{.Digest}}", `${ref}-image`])).trim();
    assert.equal(digest, built.image.digest);
    const mount = (await podman(["image", "mount", `${ref}-image`])).trim();
    try {
      assert.deepEqual(await fileTree(mount), expected);
      assert.equal((await stat(join(mount, "tools/lint.sh"))).mode & 0o777, 0o755);
    } finally {
      await podman(["image", "unmount", `${ref}-image`]);
    }
  });

  test("umoci unpacks the image (copied by skopeo) into the same tree", async () => {
    const layout = join(base, "skopeo-layout");
    await tool("skopeo", [
      "copy",
      "--quiet",
      "--src-tls-verify=false",
      `docker://${ref}-image`,
      `oci:${layout}:img`,
    ]);
    const bundle = join(base, "bundle");
    await tool("umoci", ["unpack", "--rootless", "--image", `${layout}:img`, bundle]);
    assert.deepEqual(await fileTree(join(bundle, "rootfs")), expected);
  });

  test("the artifact's consumers keep working at the tag: agentrc pull, oras-go, skopeo", async () => {
    const raw = await run("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${ref}`], {
      encoding: "buffer",
      env: { ...process.env, REGISTRY_AUTH_FILE: authFile },
    });
    assert.equal(sha256(raw.stdout), built.digest);
    const orasOut = join(base, "oras");
    assert.equal(await oras(["pull", ref, orasOut]), built.digest);
    assert.deepEqual(await fileTree(orasOut), expected);
    await ws.cli(["verify", ref, "--plain-http"]);
  });
});
