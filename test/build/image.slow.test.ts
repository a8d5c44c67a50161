import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { FIXTURES } from "../helpers/build.js";
import { runCli } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { oras } from "../helpers/orasClient.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

const run = promisify(execFile);
const sha256 = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;

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

/** Every regular file below `root`, relative path → sha256 of its bytes. */
async function tree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(dir: string): Promise<void> {
    for (const entry of await readdir(dir, { withFileTypes: true })) {
      const path = join(dir, entry.name);
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) out[relative(root, path)] = sha256(await readFile(path));
      else throw new Error(`unexpected entry ${path}`);
    }
  }
  await walk(root);
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

describe("image mode: podman, umoci and the artifact's consumers (open registry)", () => {
  let registry: TestRegistry;
  let base: string;
  let env: NodeJS.ProcessEnv;
  let ref: string;
  let built: {
    digest: string;
    image: { digest: string; config: { digest: string } };
    output: { tags: string[]; imageTags: string[] };
    pushed: Array<{ digest: string; reference: string; tag: string }>;
  };
  /** The package as `agentrc pull -o` writes it: the tree the image must hold. */
  let expected: Record<string, string>;
  before(async () => {
    registry = await startRegistry({ mode: "open" });
    base = await mkdtemp(join(tmpdir(), "agentrc-image-"));
    authFile = join(base, "auth.json");
    await writeFile(authFile, "{}");
    const agent = join(base, "agent");
    await copyTree(join(FIXTURES, "agents/full"), agent);
    env = { PATH: process.env.PATH, HOME: join(base, "home"), AGENTRC_STORE: join(base, "store") };
    env.AGENTRC_CACHE = join(base, "cache");
    ref = `${registry.host}/agents/full:1.0`;
    const result = await runCli(["build", agent, "--image", "-t", ref, "--push", "--plain-http", "--json"], {
      env,
    });
    assert.equal(result.code, 0, result.stdout + result.stderr);
    built = JSON.parse(result.stdout);
    const out = join(base, "pulled");
    const pulled = await runCli(["pull", ref, "-o", out, "--plain-http", "--json"], {
      env: { ...env, AGENTRC_STORE: join(base, "store2") },
    });
    assert.equal(pulled.code, 0, pulled.stdout + pulled.stderr);
    expected = await tree(out);
  });
  after(async () => {
    await registry?.stop();
    await rm(base, { recursive: true, force: true });
  });

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
      assert.deepEqual(await tree(mount), expected);
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
    assert.deepEqual(await tree(join(bundle, "rootfs")), expected);
  });

  test("the artifact's consumers keep working at the tag: agentrc pull, oras-go, skopeo", async () => {
    const raw = await run("skopeo", ["inspect", "--raw", "--tls-verify=false", `docker://${ref}`], {
      encoding: "buffer",
      env: { ...process.env, REGISTRY_AUTH_FILE: authFile },
    });
    assert.equal(sha256(raw.stdout), built.digest);
    const orasOut = join(base, "oras");
    assert.equal(await oras(["pull", ref, orasOut]), built.digest);
    assert.deepEqual(await tree(orasOut), expected);
    const verified = await runCli(["verify", ref, "--plain-http", "--json"], { env });
    assert.equal(verified.code, 0, verified.stdout + verified.stderr);
  });
});
