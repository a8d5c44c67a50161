import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { load } from "js-yaml";
import { Pod } from "kubernetes-models/v1/Pod";
import { FIXTURES } from "../helpers/build.js";
import { runCli } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { fileTree } from "../helpers/fileTree.js";
import { oras } from "../helpers/orasClient.js";
import type { TestRegistry } from "../helpers/registry.js";
import { type PushedBuild, type RegistryWorkspace, registryWorkspace } from "../helpers/registryWorkspace.js";

// biome-ignore lint/suspicious/noExplicitAny: the YAML is read back as plain Kubernetes objects
type Json = Record<string, any>;

/** The fragment inside a Pod, validated against the Kubernetes schema kubernetes-models ships (PodSpec with ImageVolumeSource). */
function validatePod(podSpec: Json): void {
  new Pod({ metadata: { name: "agent" }, spec: podSpec as never }).validate();
}

describe("agentrc kube: pod spec fragments, pinned by digest, valid Kubernetes", () => {
  let ws: RegistryWorkspace;
  let registry: TestRegistry;
  let base: string;
  let env: NodeJS.ProcessEnv;
  let ref: string;
  let built: PushedBuild;
  const kube = async (args: string[], code = 0) => {
    const r = await runCli(["kube", ...args], { env });
    assert.equal(r.code, code, r.stdout + r.stderr);
    return r.stdout;
  };
  before(async () => {
    ws = await registryWorkspace({ name: "kube" });
    ({ registry, base, env } = ws);
    ref = `${registry.host}/agents/full:1.0`;
    built = await ws.buildPush(ref, { image: true });
  });
  after(() => ws?.close());

  test("image mode: an ImageVolume of the image, pinned, mounted read-only; each skill by subPath", async () => {
    const yaml = await kube([ref, "--skills-path", "/home/agent/.claude/skills", "--plain-http"]);
    assert.match(yaml, /^# agentrc kube: image mode, package /);
    const spec = load(yaml) as Json;
    validatePod(spec);
    const repo = `${registry.host}/agents/full`;
    assert.deepEqual(spec.volumes, [
      {
        name: "agentrc-full-agent",
        image: { reference: `${repo}@${built.image.digest}`, pullPolicy: "IfNotPresent" },
      },
    ]);
    assert.deepEqual(spec.containers, [
      {
        name: "agent",
        volumeMounts: [
          { name: "agentrc-full-agent", mountPath: "/agent", readOnly: true },
          ...["review", "summarize"].map((s) => ({
            name: "agentrc-full-agent",
            mountPath: `/home/agent/.claude/skills/${s}`,
            subPath: `skills/${s}`,
            readOnly: true,
          })),
        ],
      },
    ]);
    assert.equal(spec.initContainers, undefined);
    const json = JSON.parse(await kube([ref, "--plain-http", "--json"]));
    assert.deepEqual(
      [json.mode, json.package, json.image],
      ["image", `${repo}@${built.digest}`, `${repo}@${built.image.digest}`],
    );
    assert.deepEqual(json.skills, ["review", "summarize"]);
  });

  test("artifact mode: oras pull of the pinned package into an emptyDir, the pull secret wired as its docker config", async () => {
    const yaml = await kube([ref, "--mode", "artifact", "--pull-secret", "regcred", "--plain-http"]);
    const spec = load(yaml) as Json;
    validatePod(spec);
    const pinned = `${registry.host}/agents/full@${built.digest}`;
    assert.deepEqual(spec.imagePullSecrets, [{ name: "regcred" }]);
    assert.deepEqual(spec.initContainers, [
      {
        name: "pull-agentrc-full-agent",
        image: "ghcr.io/oras-project/oras:v1.2.0",
        args: ["pull", pinned, "--output", "/agent", "--plain-http"],
        env: [{ name: "DOCKER_CONFIG", value: "/auth/.docker" }],
        volumeMounts: [
          { name: "agentrc-full-agent", mountPath: "/agent" },
          { name: "agentrc-full-agent-auth", mountPath: "/auth/.docker", readOnly: true },
        ],
      },
    ]);
    assert.deepEqual(spec.volumes, [
      { name: "agentrc-full-agent", emptyDir: {} },
      {
        name: "agentrc-full-agent-auth",
        secret: { secretName: "regcred", items: [{ key: ".dockerconfigjson", path: "config.json" }] },
      },
    ]);
    assert.deepEqual(spec.containers[0].volumeMounts, [
      { name: "agentrc-full-agent", mountPath: "/agent", readOnly: true },
    ]);
    // The init container's reference is what an oras client pulls: the package's files, at the pinned digest.
    const out = join(base, "init-container");
    const initRef = String((spec.initContainers as Json[])[0]!.args[1]);
    assert.equal(await oras(["pull", initRef, out]), built.digest);
    assert.deepEqual(await fileTree(out), await ws.pulledTree(initRef));
  });

  test("the validator is real: a broken fragment fails the Kubernetes schema", () => {
    assert.throws(
      () =>
        validatePod({ containers: [{ name: "agent" }], volumes: [{ name: "v", image: { reference: 5 } }] }),
      /image\/reference must be string/,
    );
  });

  test("--mode image without an image beside the package is KUBE_IMAGE_MISSING; a digest reference defaults to artifact", async () => {
    const agent = join(base, "plain");
    await copyTree(join(FIXTURES, "valid/minimal"), agent);
    const plain = `${registry.host}/agents/plain:1`;
    await ws.buildPush(plain, { agent });
    const out = JSON.parse(await kube([plain, "--mode", "image", "--plain-http", "--json"], 1));
    assert.equal(out.error.code, "KUBE_IMAGE_MISSING");
    assert.match(out.error.message, /there is no image at .*agents\/plain:1-image/);
    const auto = JSON.parse(await kube([plain, "--plain-http", "--json"]));
    assert.equal(auto.mode, "artifact");
    const byDigest = JSON.parse(
      await kube([`${registry.host}/agents/full@${built.digest}`, "--plain-http", "--json"]),
    );
    assert.deepEqual(
      [byDigest.mode, byDigest.package],
      ["artifact", `${registry.host}/agents/full@${built.digest}`],
    );
  });
});
