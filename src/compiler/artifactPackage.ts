import { createReadStream } from "node:fs";
import { lstat } from "node:fs/promises";
import { join } from "node:path";
import { diagnostic } from "../diagnostics/create.js";
import { loadIgnoreFile } from "../fs/ignore.js";
import { walkDirectory } from "../fs/walk.js";
import {
  ANNOTATION_TITLE,
  ARTIFACT_TYPE_SKILL,
  ARTIFACT_TYPE_TOOLSET,
  MEDIA_TYPE_OCI_MANIFEST,
  MEDIA_TYPE_SKILL_CONFIG,
  MEDIA_TYPE_SKILL_LAYER,
  MEDIA_TYPE_TOOLSET_CONFIG,
  MEDIA_TYPE_TOOLSET_LAYER,
} from "../oci/mediaTypes.js";
import type { ImageManifest } from "../oci/types.js";
import { readSkillMetadata } from "../skills/skillMd.js";
import { readToolset, type ToolsetTool } from "../tools/toolset.js";
import { canonicalJson } from "../util/canonicalJson.js";
import { agentrcVersion } from "../util/packageRoot.js";
import { PACKAGE_FORMAT_VERSION } from "./buildPackage.js";
import type { Compilation } from "./Compilation.js";
import type { BuiltPackage, LayerPlan, PackedBlob } from "./payloads.js";
import type { LayerKey } from "./types.js";

/** What a build context builds: an agent (an Agentfile), a skill package (SKILL.md, no Agentfile), or a toolset. */
export type PackageKind = "agent" | "skill" | "toolset";

/** The toolset manifest at the root of a toolset directory. */
export const TOOLSET_MANIFEST = "toolset.json";

/**
 * The kind of package a context holds: the Agentfile decides first (an agent that keeps a SKILL.md at its root is
 * still an agent); without one, a SKILL.md at the root makes a skill package and a toolset.json a toolset. Neither
 * is an agent, so that the missing Agentfile is reported.
 */
export async function packageKind(context: string, agentfile: string): Promise<PackageKind> {
  const exists = async (p: string) => (await lstat(join(context, p)).catch(() => undefined)) !== undefined;
  if (await exists(agentfile)) return "agent";
  if (await exists("SKILL.md")) return "skill";
  if (await exists(TOOLSET_MANIFEST)) return "toolset";
  return "agent";
}

/** The config of a skill package (`application/vnd.agentrc.skill.config.v1+json`). */
export interface SkillPackageConfig {
  formatVersion: "agentrc.skill/v1";
  name: string;
  description: string;
  version?: string;
  /** The layer's title: the skill's name, so `oras pull -o <out>` writes `<out>/<name>/SKILL.md`. */
  layer: { title: string; digest: string; uncompressedDigest: string };
  files: Array<{ path: string; sha256: string; size: number; mode: number }>;
  builder: { name: string; version: string; formatVersion: string };
}

/**
 * A skill directory (SKILL.md at the root, no Agentfile): lint checks SKILL.md's frontmatter (and the SkillCard
 * `skill.yaml` beside it, which may give the name and the version); build packs the directory, `.agentrcignore`
 * applied, into one directory layer titled with the skill's name (the skill layer media type, oras's unpack
 * annotations), under an artifact of its own type (`application/vnd.agentrc.skill.v1`). Emit and publish then
 * write and push it like an agent package.
 */
export async function sealSkillPackage(compilation: Compilation): Promise<void> {
  const context = compilation.context;
  const meta = await readSkillMetadata(context);
  for (const p of meta.problems) {
    compilation.report(
      diagnostic("SKILL_FRONTMATTER_INVALID", `${p.file} ${p.message}`, {
        file: p.file,
        line: p.line,
        column: 1,
      }),
    );
  }
  if (meta.name === undefined || meta.description === undefined || compilation.hasErrors()) return;
  const name = meta.name;
  compilation.packageName = name;
  const selected = await selectAndCheck(compilation, `skill:${name}`, name);
  if (!selected || compilation.mode !== "build") return;
  const packed = await packDirectory(compilation, `skill:${name}`, MEDIA_TYPE_SKILL_LAYER, name, selected);
  if (!packed) return;
  const { layer, entries } = packed;
  const config: SkillPackageConfig = {
    formatVersion: "agentrc.skill/v1",
    name,
    description: meta.description,
    ...(meta.version === undefined ? {} : { version: meta.version }),
    layer: {
      title: name,
      digest: layer.descriptor.digest,
      uncompressedDigest: layer.diffId ?? layer.descriptor.digest,
    },
    files: entries.map((e) => ({
      path: e.path,
      sha256: e.digest,
      size: e.size,
      mode: e.executable ? 0o755 : 0o644,
    })),
    builder: { name: "agentrc", version: agentrcVersion(), formatVersion: PACKAGE_FORMAT_VERSION },
  };
  await finishArtifact(compilation, ARTIFACT_TYPE_SKILL, MEDIA_TYPE_SKILL_CONFIG, config, [layer], {
    [ANNOTATION_TITLE]: name,
    "org.opencontainers.image.description": meta.description.slice(0, 256),
    ...(meta.version === undefined ? {} : { "org.opencontainers.image.version": meta.version }),
  });
}

type TarEntries = Extract<LayerPlan, { kind: "tar" }>["entries"];

/**
 * Selects the context directory (`.agentrcignore` applied) as the entries of one layer titled `title`, adds them to
 * the compilation's files and runs the `check` hook over them (the secret scan among its taps), as for an agent.
 * Undefined when a path escapes or a check reports an error.
 */
async function selectAndCheck(
  compilation: Compilation,
  key: LayerKey,
  title: string,
): Promise<TarEntries | undefined> {
  const context = compilation.context;
  const walked = await walkDirectory(context, "", { ignore: await loadIgnoreFile(context) });
  if (!walked.ok) {
    compilation.report(diagnostic("PATH_ESCAPE", `the package directory: ${walked.detail}`));
    return undefined;
  }
  for (const p of walked.problems) {
    compilation.report(
      diagnostic("PATH_ESCAPE", `${p.path}: ${p.detail}`, { file: p.path, line: 1, column: 1 }),
    );
  }
  if (compilation.hasErrors()) return undefined;
  const entries: TarEntries = [];
  for (const f of walked.files) {
    const file = { path: f.path, source: f.absolute, size: f.size, executable: f.executable };
    compilation.addFile(key, file);
    const { digest, size } = await compilation.fileDigest(file);
    entries.push({
      path: `${title}/${f.path}`,
      kind: "file",
      executable: f.executable,
      size,
      digest,
      sourcePath: f.absolute,
      content: () => createReadStream(f.absolute),
    });
  }
  entries.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  await compilation.hooks.check.promise(compilation);
  return compilation.hasErrors() ? undefined : entries;
}

/** The selected entries as one directory layer titled `title`, through `packLayer`. */
async function packDirectory(
  compilation: Compilation,
  key: LayerKey,
  mediaType: string,
  title: string,
  entries: TarEntries,
): Promise<{ layer: PackedBlob; entries: TarEntries } | undefined> {
  const plan: LayerPlan = { kind: "tar", key, mediaType, title, entries };
  compilation.layerPlan = [plan];
  const layer = await compilation.hooks.packLayer.promise(plan, compilation);
  if (!layer) throw new Error(`no plugin packed the layer ${title}`);
  return { layer, entries };
}

/** The config of a toolset package (`application/vnd.agentrc.toolset.config.v1+json`). */
export interface ToolsetPackageConfig {
  formatVersion: "agentrc.toolset/v1";
  name: string;
  version?: string;
  description?: string;
  /** Every tool, in manifest order, normalised (what `TOOLSET` resolves to, without downloading the layer). */
  tools: ToolsetTool[];
  layer: { title: string; digest: string; uncompressedDigest: string };
  builder: { name: string; version: string; formatVersion: string };
}

/**
 * A toolset directory (toolset.json at the root, no Agentfile): lint checks the manifest and every tool spec it
 * names; build packs the directory into one layer titled with the toolset's name under an artifact of its own type
 * (`application/vnd.agentrc.toolset.v1`), the normalised tools in the config.
 */
export async function sealToolsetPackage(compilation: Compilation): Promise<void> {
  const context = compilation.context;
  const { toolset, problems } = await readToolset(context, join(context, TOOLSET_MANIFEST));
  for (const p of problems) {
    compilation.report(diagnostic(p.code, p.message, { file: p.file, line: p.line, column: p.column }));
  }
  if (!toolset || compilation.hasErrors()) return;
  compilation.packageName = toolset.name;
  const selected = await selectAndCheck(compilation, "tools", toolset.name);
  if (!selected || compilation.mode !== "build") return;
  const packed = await packDirectory(compilation, "tools", MEDIA_TYPE_TOOLSET_LAYER, toolset.name, selected);
  if (!packed) return;
  const { layer } = packed;
  const config: ToolsetPackageConfig = {
    formatVersion: "agentrc.toolset/v1",
    name: toolset.name,
    ...(toolset.version === undefined ? {} : { version: toolset.version }),
    ...(toolset.description === undefined ? {} : { description: toolset.description }),
    tools: toolset.tools,
    layer: {
      title: toolset.name,
      digest: layer.descriptor.digest,
      uncompressedDigest: layer.diffId ?? layer.descriptor.digest,
    },
    builder: { name: "agentrc", version: agentrcVersion(), formatVersion: PACKAGE_FORMAT_VERSION },
  };
  await finishArtifact(compilation, ARTIFACT_TYPE_TOOLSET, MEDIA_TYPE_TOOLSET_CONFIG, config, [layer], {
    [ANNOTATION_TITLE]: toolset.name,
    ...(toolset.version === undefined ? {} : { "org.opencontainers.image.version": toolset.version }),
  });
}

/** Config blob, manifest (canonical JSON, annotations of the configuration under the derived ones) → the package. */
export async function finishArtifact(
  compilation: Compilation,
  artifactType: string,
  configMediaType: string,
  config: unknown,
  layers: PackedBlob[],
  annotations: Record<string, string>,
): Promise<void> {
  const configBlob = await compilation.compiler.putBlob(Buffer.from(canonicalJson(config)), configMediaType);
  const all = { ...compilation.options.build.annotations, ...annotations };
  const manifest: ImageManifest = {
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_OCI_MANIFEST,
    artifactType,
    config: configBlob.descriptor,
    layers: layers.map((l) => l.descriptor),
    ...(Object.keys(all).length > 0 ? { annotations: all } : {}),
  };
  const manifestBytes = Buffer.from(canonicalJson(manifest));
  const manifestBlob = await compilation.compiler.putBlob(manifestBytes, MEDIA_TYPE_OCI_MANIFEST);
  const built: BuiltPackage = {
    manifest,
    manifestBytes,
    descriptor: { ...manifestBlob.descriptor, artifactType },
    config: configBlob,
    layers,
    runHints: [],
    attached: [],
  };
  built.attached = await compilation.hooks.attach.promise([], built, compilation);
  compilation.package = built;
}
