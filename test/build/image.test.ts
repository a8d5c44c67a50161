import assert from "node:assert/strict";
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { promisify } from "node:util";
import { build } from "../../src/index.js";
import { imageReference, imageTagOf } from "../../src/oci/image.js";
import { buildCopy } from "../helpers/build.js";
import { fileTree, sha256 } from "../helpers/fileTree.js";
import { testdir } from "../helpers/testdir.js";

const run = promisify(execFile);

/** umoci unpacks `<layout>:<tag>` (rootless) and returns the rootfs tree. */
async function umoci(layout: string, tag: string, bundle: string): Promise<Record<string, string>> {
  await run("umoci", ["unpack", "--rootless", "--image", `${layout}:${tag}`, bundle]);
  return fileTree(join(bundle, "rootfs"));
}

describe("image mode in layouts (build --image --output)", () => {
  it("the layout holds the package at its tag and the image at <tag>-image; umoci unpacks the package tree", async () => {
    const built = await buildCopy("agents/full", {
      run: { config: { build: { tags: ["localhost/full:1.0"], image: true } } },
    });
    assert.equal(built.result.errorCount, 0, JSON.stringify(built.result.diagnostics));
    const index = JSON.parse(await readFile(join(built.layout, "index.json"), "utf8"));
    const pkg = built.result.compilation.package!;
    // Tagged entries (the untagged ones are referrers: the build's provenance).
    assert.deepEqual(
      index.manifests
        .filter(
          (m: { annotations?: Record<string, string> }) =>
            m.annotations?.["org.opencontainers.image.ref.name"],
        )
        .map((m: { annotations: Record<string, string>; digest: string }) => [
          m.annotations["org.opencontainers.image.ref.name"],
          m.digest,
        ]),
      [
        ["1.0", pkg.descriptor.digest],
        ["1.0-image", pkg.image!.descriptor.digest],
      ],
    );
    const config = JSON.parse(await readFile(pkg.image!.config.path, "utf8"));
    assert.deepEqual(Object.keys(config).sort(), ["architecture", "config", "os", "rootfs"]);
    assert.equal(config.rootfs.diff_ids.length, pkg.image!.layers.length);
    assert.deepEqual(
      pkg.image!.manifest.layers.map((l) => l.mediaType),
      pkg.image!.layers.map(() => "application/vnd.oci.image.layer.v1.tar+gzip"),
    );
    // The directory layers are the package's own blobs.
    assert.deepEqual(
      pkg.image!.layers.slice(1).map((l) => l.descriptor.digest),
      pkg.layers.filter((l) => l.diffId !== undefined).map((l) => l.descriptor.digest),
    );
    const base = await testdir();
    const rootfs = await umoci(built.layout, "1.0-image", join(base, "bundle"));
    assert.deepEqual(Object.keys(rootfs), [
      "Agentfile",
      "agentrc.lock",
      "data/docs/guides/triage.md",
      "data/docs/index.md",
      "data/samples/issue-1.json",
      "data/samples/issue-2.json",
      "data/schemas/answer.json",
      "data/workspace/README.txt",
      "policy/agent.cedar",
      "skills/review/SKILL.md",
      "skills/summarize/SKILL.md",
      "skills/summarize/notes.md",
      "src/functions/triage.py",
      "tools/lint.sh",
    ]);
    assert.equal(
      rootfs["skills/summarize/SKILL.md"],
      sha256(await readFile(join(built.dir, "skills/summarize/SKILL.md"))),
    );
    assert.equal(rootfs.Agentfile, sha256(await readFile(pkg.layers[0]!.path)), "the packaged Agentfile");
  });

  it("an oci-archive holds both, and a skill package's image holds <name>/SKILL.md", async () => {
    const root = await testdir({
      "skill/SKILL.md": "---\nname: pr-review\ndescription: Reviews a pull request.\n---\n\n# PR review\n",
      "skill/references/checklist.md": "- tests\n",
    });
    const layout = join(root, "layout");
    const built = await build({
      dir: join(root, "skill"),
      cacheDir: join(root, "cache"),
      config: { build: { tags: ["localhost/pr-review:1"], output: layout, image: true } },
    });
    assert.deepEqual(built.diagnostics, []);
    const image = built.compilation.package!.image!;
    assert.equal(image.layers.length, 1, "a skill package has no single-file layer to add");
    assert.deepEqual(Object.keys(await umoci(layout, "1-image", join(root, "bundle"))), [
      "pr-review/SKILL.md",
      "pr-review/references/checklist.md",
    ]);
    const archive = join(root, "agent.tar");
    const a = await build({
      dir: join(root, "skill"),
      cacheDir: join(root, "cache"),
      config: {
        build: { tags: ["localhost/pr-review:1"], output: archive, outputFormat: "oci-archive", image: true },
      },
    });
    assert.deepEqual(a.compilation.emitted?.imageTags, ["1-image"]);
    const { stdout } = await run("skopeo", ["inspect", "--raw", `oci-archive:${archive}:1-image`]);
    assert.equal(sha256(Buffer.from(stdout)), image.descriptor.digest);
  });

  it("image tags: <tag>-image; a digest reference or a tag too long for -image is REFERENCE_INVALID", () => {
    assert.equal(imageTagOf("1.0"), "1.0-image");
    assert.equal(imageReference("localhost:5000/a/b:1.0"), "localhost:5000/a/b:1.0-image");
    assert.equal(imageReference("localhost:5000/a/b"), "localhost:5000/a/b:latest-image");
    assert.throws(
      () => imageReference(`localhost/a@sha256:${"0".repeat(64)}`),
      (e: { code: string; message: string }) =>
        e.code === "REFERENCE_INVALID" && /is a digest reference: it has no image tag/.test(e.message),
    );
    assert.throws(
      () => imageTagOf("x".repeat(123)),
      (e: { code: string; message: string }) =>
        e.code === "REFERENCE_INVALID" && /is longer than 128 characters/.test(e.message),
    );
  });
});
