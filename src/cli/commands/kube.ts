import { type KubeMode, kubeFragment, kubeYaml } from "../../package/kube.js";
import type { Command } from "../context.js";
import { REGISTRY_OPTIONS, REGISTRY_USAGE, registryOptions } from "../registryFlags.js";

export const kubeCommand: Command = {
  name: "kube",
  summary:
    "Print the pod spec fields (YAML) that mount a package's files into an agent pod, pinned by digest: an ImageVolume or an oras init container.",
  usage: `agentrc kube <ref> [--mode image|artifact] [--mount-path <dir>] [--skills-path <dir>] [--container <name>] [--pull-secret <name>] [--puller-image <image>] ${REGISTRY_USAGE} [--json]`,
  options: {
    mode: {
      type: "string",
      value: "<image|artifact>",
      description:
        "ImageVolume of <tag>-image, or oras pull into an emptyDir (default: image when it exists)",
    },
    "mount-path": {
      type: "string",
      value: "<dir>",
      description: "where the package tree appears (default /agent)",
    },
    "skills-path": {
      type: "string",
      value: "<dir>",
      description: "also mount each skill at <dir>/<name> (subPath), e.g. /home/agent/.claude/skills",
    },
    container: { type: "string", value: "<name>", description: "the agent container's name (default agent)" },
    "pull-secret": {
      type: "string",
      value: "<name>",
      description: "a kubernetes.io/dockerconfigjson Secret for the pod and the oras init container",
    },
    "puller-image": {
      type: "string",
      value: "<image>",
      description: "artifact mode's oras image (default ghcr.io/oras-project/oras:v1.2.0)",
    },
    ...REGISTRY_OPTIONS,
  },
  async run(ctx) {
    const [ref, ...extra] = ctx.positionals;
    if (!ref || extra.length > 0) return ctx.usage("expected one registry reference (host[:port]/repo:tag)");
    const mode = ctx.values.mode;
    if (mode !== undefined && mode !== "image" && mode !== "artifact") {
      return ctx.usage(`--mode must be image or artifact, got "${String(mode)}"`);
    }
    const text = (flag: string) =>
      typeof ctx.values[flag] === "string" ? (ctx.values[flag] as string) : undefined;
    for (const flag of ["mount-path", "skills-path"]) {
      const value = text(flag);
      if (value !== undefined && !value.startsWith("/"))
        return ctx.usage(`--${flag} must be an absolute path`);
    }
    const fragment = await kubeFragment(ref, {
      ...registryOptions(ctx),
      ...(mode === undefined ? {} : { mode: mode as KubeMode }),
      ...(text("mount-path") === undefined ? {} : { mountPath: text("mount-path")! }),
      ...(text("skills-path") === undefined ? {} : { skillsPath: text("skills-path")! }),
      ...(text("container") === undefined ? {} : { container: text("container")! }),
      ...(text("pull-secret") === undefined ? {} : { pullSecret: text("pull-secret")! }),
      ...(text("puller-image") === undefined ? {} : { pullerImage: text("puller-image")! }),
    });
    if (ctx.json) {
      ctx.out(JSON.stringify({ version: 1, ok: true, ...fragment }, null, 2));
      return 0;
    }
    ctx.out(kubeYaml(fragment).trimEnd());
    return 0;
  },
};
