import { dump } from "js-yaml";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { ANNOTATION_IMAGE_PACKAGE_DIGEST, imageReference } from "../oci/image.js";
import { RegistryClient, type RegistryClientOptions } from "../registry/client.js";
import { parseReference, type Reference } from "../registry/reference.js";
import { withPackage } from "./open.js";

/**
 * `agentrc kube <ref>` (docs/image.md#kubernetes): the pod spec fields that put a package's files into an agent's
 * container, pinned by digest. Image mode mounts the package's image as an ImageVolume (`volumes[].image`,
 * Kubernetes 1.31+); artifact mode pulls the package with `oras pull` in an init container into an emptyDir (the
 * Kubernetes operator's pattern), with the image pull secret projected as the puller's docker config.
 */

/** The puller image of artifact mode unless `--puller-image` names another (a mirror, an air-gapped registry). */
export const DEFAULT_PULLER_IMAGE = "ghcr.io/oras-project/oras:v1.2.0";
/** Where the package tree appears in the agent's container unless `--mount-path` says otherwise. */
export const DEFAULT_MOUNT_PATH = "/agent";
/** Where artifact mode's init container finds the docker config it reads credentials from. */
export const PULLER_DOCKER_CONFIG = "/auth/.docker";

export type KubeMode = "image" | "artifact";

export interface KubeOptions extends RegistryClientOptions {
  /** Default: `image` when the reference's `-image` tag holds this package's image, else `artifact`. */
  mode?: KubeMode;
  /** The agent container's name in the fragment (default `agent`). */
  container?: string;
  mountPath?: string;
  /** Also mount each skill at `<skillsPath>/<name>` (`subPath` of the package volume; Kubernetes 1.33+ for images). */
  skillsPath?: string;
  /** A `kubernetes.io/dockerconfigjson` Secret: the pod's imagePullSecrets and, in artifact mode, the puller's auth. */
  pullSecret?: string;
  pullerImage?: string;
}

export interface KubeFragment {
  mode: KubeMode;
  /** The package (artifact) pinned: `registry/repository@sha256:…`. */
  package: string;
  /** Image mode: the image pinned. */
  image?: string;
  skills: string[];
  /** The PodSpec fields to merge into the agent's pod (`spec:` of a Pod, `spec.template.spec` of a Deployment). */
  podSpec: Record<string, unknown>;
}

/** Resolves `ref` in its registry (the package, its skills, its image) and builds the pod spec fragment. */
export async function kubeFragment(ref: string, options: KubeOptions = {}): Promise<KubeFragment> {
  const source = parseReference(ref);
  const { mode, container, mountPath, skillsPath, pullSecret, pullerImage, ...clientOptions } = options;
  const { digest, skills, name } = await withPackage(
    source.toString(),
    { ...clientOptions, remote: true },
    async (pkg) => ({
      digest: pkg.descriptor.digest,
      name: pkg.config.agent.name,
      skills: [...new Set(pkg.config.files.map((f) => /^skills\/([^/]+)\/SKILL\.md$/.exec(f.path)?.[1]))]
        .filter((s): s is string => s !== undefined)
        .sort(),
    }),
  );
  const image =
    mode === "artifact" ? undefined : await findImage(source, digest, clientOptions, mode === "image");
  const pinned = `${source.registry}/${source.repository}@${digest}`;
  const fragment = podSpecFragment({
    mode: image === undefined ? "artifact" : "image",
    name,
    packageRef: pinned,
    ...(image === undefined ? {} : { imageRef: image }),
    skills,
    container: container ?? "agent",
    mountPath: mountPath ?? DEFAULT_MOUNT_PATH,
    ...(skillsPath === undefined ? {} : { skillsPath }),
    ...(pullSecret === undefined ? {} : { pullSecret }),
    pullerImage: pullerImage ?? DEFAULT_PULLER_IMAGE,
    plainHttp: clientOptions.plainHttp ?? source.isLoopback,
  });
  return {
    mode: image === undefined ? "artifact" : "image",
    package: pinned,
    ...(image === undefined ? {} : { image }),
    skills,
    podSpec: fragment,
  };
}

/**
 * The image beside the package (`<tag>-image`, docs/image.md), pinned, when it is this package's image (its
 * `io.agentrc.package.digest` annotation names `digest`); undefined when there is none. `required`: an error
 * instead (`--mode image`).
 */
async function findImage(
  source: Reference,
  digest: string,
  clientOptions: RegistryClientOptions,
  required: boolean,
): Promise<string | undefined> {
  const missing = (why: string) => {
    if (!required) return undefined;
    throw new AgentrcError("KUBE_IMAGE_MISSING", `${source}: ${why}`, {
      hint: "Build and push with `agentrc build --image --push`, or use --mode artifact.",
    });
  };
  if (source.tag === undefined) return missing("a reference by digest has no -image tag beside it");
  const imageRef = parseReference(imageReference(`${source.registry}/${source.repository}:${source.tag}`));
  const client = new RegistryClient(source.registry, clientOptions);
  try {
    const head = await client.headManifest(imageRef.repository, imageRef.target);
    if (head === undefined) return missing(`there is no image at ${imageRef}`);
    const m = await client.getManifest(imageRef.repository, head.digest);
    const annotations = (JSON.parse(m.bytes.toString("utf8")) as { annotations?: Record<string, string> })
      .annotations;
    if (annotations?.[ANNOTATION_IMAGE_PACKAGE_DIGEST] !== digest) {
      return missing(
        `the image at ${imageRef} was made from ${annotations?.[ANNOTATION_IMAGE_PACKAGE_DIGEST] ?? "no agentrc package"}, not from ${digest}`,
      );
    }
    return `${source.registry}/${source.repository}@${m.digest}`;
  } finally {
    await client.close();
  }
}

export interface PodSpecInput {
  mode: KubeMode;
  name: string;
  packageRef: string;
  imageRef?: string;
  skills: readonly string[];
  container: string;
  mountPath: string;
  skillsPath?: string;
  pullSecret?: string;
  pullerImage: string;
  /** Artifact mode: the registry is reached over plain HTTP (`oras pull --plain-http`). */
  plainHttp: boolean;
}

/** The PodSpec fields of a fragment (pure: what `kubeFragment` resolved, as Kubernetes objects). */
export function podSpecFragment(input: PodSpecInput): Record<string, unknown> {
  const volume = `agentrc-${dnsLabel(input.name)}`.slice(0, 63).replace(/-+$/, "");
  const mounts: Array<Record<string, unknown>> = [
    { name: volume, mountPath: input.mountPath, readOnly: true },
  ];
  if (input.skillsPath !== undefined) {
    for (const skill of input.skills) {
      mounts.push({
        name: volume,
        mountPath: `${input.skillsPath.replace(/\/+$/, "")}/${skill}`,
        subPath: `skills/${skill}`,
        readOnly: true,
      });
    }
  }
  const agent = { name: input.container, volumeMounts: mounts };
  const pullSecrets =
    input.pullSecret === undefined ? {} : { imagePullSecrets: [{ name: input.pullSecret }] };
  if (input.mode === "image") {
    return {
      ...pullSecrets,
      containers: [agent],
      volumes: [{ name: volume, image: { reference: input.imageRef, pullPolicy: "IfNotPresent" } }],
    };
  }
  const auth = input.pullSecret === undefined ? undefined : `${volume}-auth`.slice(0, 63);
  return {
    ...pullSecrets,
    initContainers: [
      {
        name: `pull-${volume}`.slice(0, 63).replace(/-+$/, ""),
        image: input.pullerImage,
        args: [
          "pull",
          input.packageRef,
          "--output",
          input.mountPath,
          ...(input.plainHttp ? ["--plain-http"] : []),
        ],
        ...(auth === undefined ? {} : { env: [{ name: "DOCKER_CONFIG", value: PULLER_DOCKER_CONFIG }] }),
        volumeMounts: [
          { name: volume, mountPath: input.mountPath },
          ...(auth === undefined ? [] : [{ name: auth, mountPath: PULLER_DOCKER_CONFIG, readOnly: true }]),
        ],
      },
    ],
    containers: [agent],
    volumes: [
      { name: volume, emptyDir: {} },
      ...(auth === undefined
        ? []
        : [
            {
              name: auth,
              secret: {
                secretName: input.pullSecret,
                items: [{ key: ".dockerconfigjson", path: "config.json" }],
              },
            },
          ]),
    ],
  };
}

/** The fragment as YAML, with a comment naming what it pins. */
export function kubeYaml(fragment: KubeFragment): string {
  const head = [
    `# agentrc kube: ${fragment.mode} mode, package ${fragment.package}`,
    ...(fragment.image === undefined ? [] : [`# image ${fragment.image}`]),
    "# PodSpec fields: merge them into the agent pod's spec (a Deployment's spec.template.spec).",
  ];
  return `${head.join("\n")}\n${dump(fragment.podSpec, { noRefs: true, lineWidth: -1 })}`;
}

/** A name as a DNS-1123 label part: lower case, digits and `-`. */
function dnsLabel(name: string): string {
  return (
    name
      .toLowerCase()
      .replace(/[^a-z0-9-]+/g, "-")
      .replace(/^-+|-+$/g, "") || "agent"
  );
}
