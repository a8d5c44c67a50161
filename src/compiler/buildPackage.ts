import { availableParallelism } from "node:os";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { ARTIFACT_TYPE_AGENT, MEDIA_TYPE_AGENT_CONFIG, MEDIA_TYPE_OCI_MANIFEST } from "../oci/mediaTypes.js";
import type { ImageManifest } from "../oci/types.js";
import { canonicalJson } from "../util/canonicalJson.js";
import { mapLimit } from "../util/mapLimit.js";
import { agentrcVersion } from "../util/packageRoot.js";
import type { Compilation } from "./Compilation.js";
import type { BuiltPackage, PackageConfig } from "./payloads.js";

/** Version of the package format: tar rules, compressor, config shape. Bumped whenever digests would change. */
export const PACKAGE_FORMAT_VERSION = "agentrc.package/v3";

/**
 * Runs the packing half of the pipeline: plan layers → pack them (in parallel, each through the `packLayer` bail
 * hook) → package config → annotations → manifest. Blobs land in the compiler's blob cache; nothing is written to
 * a store or layout here (that is `compiler.hooks.emit`).
 */
export async function buildPackage(compilation: Compilation): Promise<BuiltPackage> {
  const plan = await compilation.hooks.layers.promise([], compilation);
  compilation.layerPlan = plan;
  const layers = await mapLimit(plan, Math.max(2, Math.min(4, availableParallelism())), async (layer) => {
    const packed = await compilation.hooks.packLayer.promise(layer, compilation);
    if (!packed) {
      throw new AgentrcError("PACK_NO_PACKER", `no plugin packed layer ${layer.title}`, {
        hint: "A packLayer tap must return a blob for every planned layer.",
      });
    }
    return packed;
  });
  const baseConfig: PackageConfig = {
    formatVersion: PACKAGE_FORMAT_VERSION,
    agentfileVersion: compilation.spec.agentfileVersion,
    agent: {
      name: compilation.spec.agent ?? "",
      directives: compilation.spec.directives
        .filter((d) => !compilation.compiler.directives.get(d.directive)?.runHint)
        .map((d) => ({ directive: d.directive, args: d.args })),
    },
    layers: layers.map((l, i) => ({
      title: plan[i]!.title,
      mediaType: l.descriptor.mediaType,
      digest: l.descriptor.digest,
      size: l.descriptor.size,
      uncompressedDigest: l.diffId ?? l.descriptor.digest,
      uncompressedSize: l.uncompressedSize ?? l.descriptor.size,
    })),
    files: [],
    builder: {
      name: "agentrc",
      version: agentrcVersion(),
      formatVersion: PACKAGE_FORMAT_VERSION,
      compression: "",
    },
  };
  const config = await compilation.hooks.packageConfig.promise(baseConfig, compilation);
  const configBlob = await compilation.compiler.putBlob(
    Buffer.from(canonicalJson(config)),
    MEDIA_TYPE_AGENT_CONFIG,
  );
  const annotations = await compilation.hooks.annotations.promise(
    { ...compilation.options.build.annotations },
    compilation,
  );
  const assembled: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_OCI_MANIFEST,
    artifactType: ARTIFACT_TYPE_AGENT,
    config: configBlob.descriptor,
    layers: layers.map((l) => l.descriptor),
    ...(Object.keys(annotations).length > 0 ? { annotations } : {}),
  };
  const manifest = await compilation.hooks.manifest.promise(assembled, compilation);
  const manifestBytes = Buffer.from(checkManifestShape(manifest, assembled));
  const manifestBlob = await compilation.compiler.putBlob(manifestBytes, MEDIA_TYPE_OCI_MANIFEST);
  const built: BuiltPackage = {
    manifest,
    manifestBytes,
    descriptor: {
      ...manifestBlob.descriptor,
      ...(manifest.artifactType === undefined ? {} : { artifactType: manifest.artifactType }),
    },
    config: configBlob,
    layers,
    runHints: compilation.spec.directives
      .filter((d) => compilation.compiler.directives.get(d.directive)?.runHint)
      .map((d) => ({ directive: d.directive, values: (d.args.values as string[] | undefined) ?? [] })),
    attached: [],
  };
  built.attached = await compilation.hooks.attach.promise([], built, compilation);
  return built;
}

/**
 * The manifest's canonical JSON, once it is clear the manifest hook changed nothing it may not: the packed content
 * and the manifest's own type.
 */
function checkManifestShape(manifest: ImageManifest, assembled: ImageManifest): string {
  let text: string;
  try {
    text = canonicalJson(manifest);
  } catch (e) {
    throw new AgentrcError(
      "MANIFEST_HOOK_INVALID",
      `a manifest tap left a value JSON cannot hold: ${(e as Error).message}`,
    );
  }
  const changed = [
    manifest?.schemaVersion !== 2 ? "schemaVersion" : "",
    manifest?.mediaType !== assembled.mediaType ? "mediaType" : "",
    canonicalJson(manifest?.config ?? null) !== canonicalJson(assembled.config) ? "config" : "",
    canonicalJson(manifest?.layers ?? null) !== canonicalJson(assembled.layers) ? "layers" : "",
  ].filter((field) => field !== "");
  if (changed.length > 0) {
    throw new AgentrcError("MANIFEST_HOOK_INVALID", `a manifest tap changed ${changed.join(", ")}`);
  }
  return text;
}
