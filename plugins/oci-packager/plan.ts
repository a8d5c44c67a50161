import { createReadStream } from "node:fs";
import {
  AgentrcError,
  type Compilation,
  canonicalJsonPretty,
  type LayerKey,
  type LayerPlan,
  oci,
} from "../../src/core.js";

const TAR_LAYERS: Array<{ key: "source" | "tools" | "data"; title: string; mediaType: string }> = [
  { key: "source", title: oci.TITLE_SOURCE, mediaType: oci.MEDIA_TYPE_SOURCE_LAYER },
  { key: "tools", title: oci.TITLE_TOOLS, mediaType: oci.MEDIA_TYPE_TOOL_LAYER },
  { key: "data", title: oci.TITLE_DATA, mediaType: oci.MEDIA_TYPE_DATA_LAYER },
];

/**
 * The default layer plan (docs/package.md): Agentfile, lockfile, then source, tools, one layer per skill (by name)
 * and data; the policy plugin inserts its layer after the lockfile. Empty layers are left out. Inside a directory layer every path lives under the layer's
 * title (`tools/…`, `skills/<name>/…`, `data/…`), which is what `oras pull` requires to unpack it.
 */
export async function planLayers(compilation: Compilation): Promise<LayerPlan[]> {
  const plan: LayerPlan[] = [];
  plan.push({
    kind: "blob",
    key: "agentfile",
    title: oci.TITLE_AGENTFILE,
    mediaType: oci.MEDIA_TYPE_AGENTFILE,
    bytes: compilation.packagedAgentfile ?? Buffer.alloc(0),
  });
  if (compilation.resolvedLock) {
    plan.push({
      kind: "blob",
      key: "lock",
      title: oci.TITLE_LOCK,
      mediaType: oci.MEDIA_TYPE_LOCK,
      bytes: Buffer.from(canonicalJsonPretty(compilation.resolvedLock)),
    });
  }
  const skillKeys = [...compilation.files.keys()]
    .filter((k): k is `skill:${string}` => k.startsWith("skill:"))
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const layers = [
    ...TAR_LAYERS.slice(0, 2),
    ...skillKeys.map((key) => ({
      key,
      title: oci.skillLayerTitle(key.slice("skill:".length)),
      mediaType: oci.MEDIA_TYPE_SKILL_LAYER,
    })),
    TAR_LAYERS[2]!,
  ];
  for (const layer of layers) {
    const files = compilation.files.get(layer.key as LayerKey);
    if (!files || files.size === 0) continue;
    const entries: Extract<LayerPlan, { kind: "tar" }>["entries"] = [];
    const seen = new Map<string, string>();
    for (const file of files.values()) {
      const path = file.path.startsWith(`${layer.title}/`) ? file.path : `${layer.title}/${file.path}`;
      const clash = seen.get(path);
      if (clash !== undefined) {
        throw new AgentrcError(
          "PACKAGE_PATH_COLLISION",
          `${clash} and ${file.path} would both be packed as ${path} in layer ${layer.title}`,
        );
      }
      seen.set(path, file.path);
      const { digest, size } = await compilation.fileDigest(file);
      entries.push({
        path,
        kind: "file",
        executable: file.executable,
        size,
        digest,
        sourcePath: file.source,
        content: () => createReadStream(file.source),
      });
    }
    entries.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
    plan.push({
      kind: "tar",
      key: layer.key as LayerKey,
      title: layer.title,
      mediaType: layer.mediaType,
      entries,
    });
  }
  return plan;
}
