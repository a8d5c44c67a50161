import type { AttachedArtifact } from "../oci/referrers.js";
import type { TarEntry } from "../oci/tar.js";
import type { Descriptor, ImageManifest } from "../oci/types.js";
import type { LayerKey } from "./types.js";

/** One layer to produce, in manifest order. `blob` layers are single files; `tar` layers are directories. */
export type LayerPlan =
  | {
      kind: "blob";
      /** Stable key (`agentfile`, `lock`, `policy`). */
      key: string;
      mediaType: string;
      title: string;
      bytes: Buffer;
    }
  | {
      kind: "tar";
      key: LayerKey;
      mediaType: string;
      title: string;
      /** Tar entries with their package paths (prefixed by the title) and content sources. */
      entries: Array<TarEntry & { path: string; digest: string; sourcePath: string; size: number }>;
    };

/** A produced blob: its descriptor, and where its bytes are on disk until they are emitted. */
export interface PackedBlob {
  descriptor: Descriptor;
  /** Absolute path of the bytes (in the blob cache). */
  path: string;
  /** For tar layers: the uncompressed digest and size (diffID). */
  diffId?: string;
  uncompressedSize?: number;
  /** True when the layer came from the cache without packing. */
  cached?: boolean;
}

/** A layer being packed: uncompressed tar bytes written so far, of an estimated total (`compilation.hooks.packProgress`). */
export interface PackProgress {
  /** The layer's title (org.opencontainers.image.title). */
  title: string;
  bytes: number;
  /** Estimated tar size (headers, contents, padding); `bytes` may end slightly above it. */
  total: number;
  /**
   * Set on the last report of a layer packed ahead during `check` (build mode): it is finished, and its `packLayer`
   * call will only claim it.
   */
  done?: boolean;
}

/** One file of the package, as listed in the package config (verify and diff work from this). */
export interface PackageFileIndexEntry {
  path: string;
  sha256: string;
  size: number;
  mode: number;
  layer: string;
}

/** The Agentfile or `policy/*.cedar` line a packed policy was written on (for a shorthand: its directive's line). */
export interface PolicyOrigin {
  file: string;
  line: number;
}

/**
 * One TOOL as the package config records it: the reference and its parts, the risk tier, and from the tool spec
 * (whatever its format: MCP, OpenAI, Anthropic, UTCP, plain) the description and the input and output schemas.
 */
export interface PackageToolMetadata {
  ref: string;
  namespace: string;
  name: string;
  /** The MCP server, for `mcp:<server>.<name>`. */
  server?: string;
  riskTier: "high" | "medium";
  /** sha256 of the tool file; for a tool directory, of the canonical JSON list of its files ({path, sha256}). */
  digest?: string;
  /** The format the tool spec was written in. */
  specFormat?: "mcp" | "openai" | "anthropic" | "utcp" | "plain";
  description?: string;
  inputSchema?: unknown;
  outputSchema?: unknown;
  /** A tool the agent did not declare itself: `<base ref>@<digest>` (inherited with FROM) or `TOOLSET <ref>`. */
  origin?: string;
}

/** A base's declaration the agent keeps (FROM), with the base (`<ref>@<digest>`) that declared it. */
export interface InheritedDirective {
  directive: string;
  args: Record<string, unknown>;
  origin: string;
}

/** What an agent built `FROM` an agentrc package inherits; see docs/agentfile.md#inheritance. */
export interface InheritedSection {
  base: { ref: string; digest: string };
  /** The base and its own bases, nearest first. */
  chain: Array<{ ref: string; digest: string }>;
  directives: InheritedDirective[];
  /** The bases' declarations replaced by the agent's own of the same name (`SKILL review`, `TOOL utcp:shell`). */
  overridden: Array<{ directive: string; name: string; origin: string }>;
}

/** The config blob (`application/vnd.agentrc.agent.config.v1+json`); see schemas/package-config.schema.json. */
export interface PackageConfig {
  formatVersion: string;
  agentfileVersion: string;
  agent: {
    name: string;
    directives: Array<{ directive: string; args: Record<string, unknown> }>;
  };
  policyHash?: string;
  /**
   * Where each policy of the packed Cedar text was written, in the order of that text (Cedar numbers them
   * `policy0`, `policy1`, …); present with `policyHash`. Kept beside the Cedar, not in it, so the packed policy and
   * its hash stay what the compiler formatted (docs/policy.md).
   */
  policyOrigins?: PolicyOrigin[];
  layers: Array<{
    title: string;
    mediaType: string;
    digest: string;
    size: number;
    uncompressedDigest: string;
    uncompressedSize: number;
  }>;
  files: PackageFileIndexEntry[];
  /** Every TOOL, in Agentfile order (absent when the agent declares none); inherited tools follow. */
  tools?: PackageToolMetadata[];
  /** FROM an agentrc package: what is inherited (absent otherwise). */
  inherited?: InheritedSection;
  builder: { name: string; version: string; formatVersion: string; compression: string };
}

/** The plain OCI image of a package (image mode, docs/image.md): same shape as the package's blobs. */
export interface BuiltImage {
  manifest: ImageManifest;
  manifestBytes: Buffer;
  descriptor: Descriptor;
  config: PackedBlob;
  layers: PackedBlob[];
}

/** What a build produced, before and after emit. */
export interface BuiltPackage {
  manifest: ImageManifest;
  manifestBytes: Buffer;
  descriptor: Descriptor;
  config: PackedBlob;
  layers: PackedBlob[];
  /** Run hints (IMAGE, ISOLATION, …): recorded beside the package, never in its digest. */
  runHints: Array<{ directive: string; values: string[] }>;
  /** With `build.image` (`--image`): the package as a plain OCI image, emitted and pushed beside it. */
  image?: BuiltImage;
  /**
   * Referrers of the package made by the build (its SLSA provenance, signatures): emitted and pushed with it, outside
   * its manifest and digest (`compilation.hooks.attach`).
   */
  attached: AttachedArtifact[];
}
