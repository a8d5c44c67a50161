import { createHash } from "node:crypto";
import {
  AsyncParallelHook,
  AsyncSeriesBailHook,
  AsyncSeriesHook,
  AsyncSeriesWaterfallHook,
  SyncHook,
} from "tapable";
import { parseAgentfile } from "../agentfile/parse.js";
import { readAgentfile } from "../agentfile/read.js";
import type { AgentSpec, DirectiveNode } from "../agentfile/types.js";
import { diagnostic, sortDiagnostics } from "../diagnostics/create.js";
import type { Diagnostic, SourceLocation } from "../diagnostics/types.js";
import { type ContextPathResult, resolveContextPath } from "../fs/contextPath.js";
import type { Lockfile } from "../lockfile/types.js";
import type { AttachedArtifact } from "../oci/referrers.js";
import type { ImageManifest } from "../oci/types.js";
import { type PackageKind, packageKind, sealSkillPackage, sealToolsetPackage } from "./artifactPackage.js";
import { buildImage } from "./buildImage.js";
import { buildPackage } from "./buildPackage.js";
import type { Compiler } from "./Compiler.js";
import type { ResolvedBase } from "./inheritance.js";
import { instrumentHooks } from "./instrument.js";
import type {
  BuiltPackage,
  LayerPlan,
  PackageConfig,
  PackedBlob,
  PackProgress,
  PolicyOrigin,
} from "./payloads.js";
import type { CompilerOptions, LayerKey, PackageFile } from "./types.js";

/** `lint` stops after checks; `lock` also resolves the lockfile; `build` goes on to pack and emit. */
export type CompilationMode = "lint" | "lock" | "build";

/** The outcome of the Cedar policy plugin, shared with the packager and lint rules. */
export interface CompiledPolicy {
  /** Canonically formatted Cedar text of the merged policy set. */
  text: string;
  /** `sha256:<hex>` of `text`. */
  hash: string;
  /** Where each policy of `text` was written, in the order of `text`. */
  origins?: PolicyOrigin[];
  /** RATELIMIT directives in source order. Enforced by the runner; never part of `text` (they grant nothing). */
  ratelimits?: Array<{ tool: string; count: number; unit: string }>;
}

/** Sees the bytes of one selected file as it is read; `end` follows the last chunk of a complete read only. */
export interface ContentSink {
  update(chunk: Buffer): void;
  end(): void;
}

/**
 * Offered every selected file that a plugin reads on the others' behalf (in build mode the packer reads each file
 * once, during `check`, to pack it): return a sink to see its bytes, or undefined to pass.
 */
/**
 * Asked before a selected file is read on everyone's behalf; `digest` is its sha256 when the stat-keyed digest cache
 * already knows it (so an observer can skip content it has seen), undefined when it is about to be computed.
 */
export type ContentObserver = (file: PackageFile, digest: string | undefined) => ContentSink | undefined;

/**
 * One run over one agent source tree. Plugins read `spec`, add files and diagnostics, and fill the typed slots
 * (`policy`, …). Hooks run in the order declared below; see docs/hooks.md.
 */
export class Compilation {
  readonly compiler: Compiler;
  readonly mode: CompilationMode;
  readonly options: CompilerOptions;
  readonly hooks = Object.freeze({
    /** The Agentfile parsed and validated (plugin directives included): check or derive from the spec. */
    spec: new AsyncSeriesHook<[AgentSpec, Compilation]>(["spec", "compilation"]),
    /** Resolve what the spec references: lockfile, skills, base package, toolsets, policy. Runs in parallel. */
    resolve: new AsyncParallelHook<[Compilation]>(["compilation"]),
    /** Select the files each layer packs, with `addFile`. Runs in parallel. */
    selectFiles: new AsyncParallelHook<[Compilation]>(["compilation"]),
    /** Everything is resolved and selected: final checks (secret scan, lockfile pins). Lint stops after this hook. */
    check: new AsyncSeriesHook<[Compilation]>(["compilation"]),
    /**
     * lock and build modes, when checks found no error: fill the lockfile. Starts as { version, agentfile_hash };
     * each plugin adds its section. The lockfile plugin compares and writes it at a late stage.
     */
    lock: new AsyncSeriesWaterfallHook<[Lockfile, Compilation]>(["lock", "compilation"]),
    /** Build mode: plan the layers in manifest order. The packager fills the default plan. */
    layers: new AsyncSeriesWaterfallHook<[LayerPlan[], Compilation]>(["layers", "compilation"]),
    /** Produce one layer's blob; the first tap returning a result wins (cache before the packer). Parallel per layer. */
    packLayer: new AsyncSeriesBailHook<[LayerPlan, Compilation], PackedBlob | undefined>([
      "layer",
      "compilation",
    ]),
    /**
     * Called by a packer while a layer's bytes stream (progress display; `isUsed()` lets the packer skip it). Taps
     * must be cheap: it fires once per chunk.
     */
    packProgress: new SyncHook<[PackProgress, Compilation]>(["progress", "compilation"]),
    /** Shape the package config (agent summary, layer digests, file index) before it is serialised. */
    packageConfig: new AsyncSeriesWaterfallHook<[PackageConfig, Compilation]>(["config", "compilation"]),
    /** Manifest annotations. */
    annotations: new AsyncSeriesWaterfallHook<[Record<string, string>, Compilation]>([
      "annotations",
      "compilation",
    ]),
    /**
     * The manifest before it is serialised: set `artifactType`, `subject` or annotations. Config and layers are
     * fixed by now (MANIFEST_HOOK_INVALID when a tap changes them).
     */
    manifest: new AsyncSeriesWaterfallHook<[ImageManifest, Compilation]>(["manifest", "compilation"]),
    /**
     * The package is built (its digest final): add referrers that travel with it — the SLSA provenance, signatures —
     * held in memory until emit and publish copy them beside the package (never inside it).
     */
    attach: new AsyncSeriesWaterfallHook<[AttachedArtifact[], BuiltPackage, Compilation]>([
      "attached",
      "pkg",
      "compilation",
    ]),
  });

  /** What the context builds: an agent (Agentfile), a skill package or a toolset package (docs/package.md). */
  kind: PackageKind = "agent";
  /** The skill's or toolset's name (skill and toolset packages); agents are named by `spec.agent`. */
  packageName: string | undefined;
  /** Set after parsing; plugins run only when parsing produced a spec. */
  spec!: AgentSpec;
  policy: CompiledPolicy | undefined;
  /** The FROM base package, fetched and checked (base-resolver, during `spec`); undefined without one. */
  base: ResolvedBase | undefined;
  /** The lockfile read from the context, when present and valid. */
  lock: Lockfile | undefined;
  /** The lockfile resolved by this run (lock and build modes). */
  resolvedLock: Lockfile | undefined;
  /**
   * What the lockfile plugin did with agentrc.lock: `created`/`updated` (written), `current` (already matched),
   * `stale` (--frozen-lockfile refused to write it); undefined when no lock was resolved (errors, lint mode).
   */
  lockfileStatus: "created" | "updated" | "current" | "stale" | undefined;
  /** The Agentfile as packaged: its text with run-hint directives removed (they stay out of the digest). */
  packagedAgentfile: Buffer | undefined;
  /** The layer plan of this build (build mode), in manifest order. */
  layerPlan: LayerPlan[] = [];
  /** Where emit wrote the package: the store or layout path and the tags. */
  emitted:
    | {
        target: string;
        format: "store" | "oci" | "oci-archive";
        tags: string[];
        /** Image mode: the tags of the package's image (`<tag>-image`, docs/image.md). */
        imageTags?: string[];
      }
    | undefined;
  /** The package, once built (build mode). */
  package: BuiltPackage | undefined;
  /** Milliseconds spent per phase. */
  readonly timings: Record<string, number> = {};
  readonly files = new Map<LayerKey, Map<string, PackageFile>>();
  /** Plugins that need file contents (the secret scan) register here; see `observeContent`. */
  readonly contentObservers: ContentObserver[] = [];
  readonly #diagnostics: Diagnostic[] = [];

  constructor(compiler: Compiler, mode: CompilationMode) {
    this.compiler = compiler;
    this.mode = mode;
    this.options = compiler.options;
    instrumentHooks(this.hooks, "compilation");
  }

  get context(): string {
    return this.options.context;
  }

  /** Records a diagnostic, applying the configured severity overrides (`lint.rules`). */
  report(d: Diagnostic): void {
    const override = this.options.lint.rules[d.code];
    if (override === "off") return;
    this.#diagnostics.push(override ? { ...d, severity: override } : d);
  }

  /** Diagnostics so far, sorted by file, line, column and code. */
  get diagnostics(): Diagnostic[] {
    return sortDiagnostics(this.#diagnostics);
  }

  hasErrors(): boolean {
    return this.#diagnostics.some((d) => d.severity === "error");
  }

  /** Directives of one kind, in source order. */
  directives<Args = Record<string, unknown>>(name: string): DirectiveNode<Args>[] {
    return (this.spec?.directives ?? []).filter((d) => d.directive === name) as DirectiveNode<Args>[];
  }

  /** Location of a directive, or of one of its arguments (JSON pointer into args, e.g. "/path"). */
  locate(node: DirectiveNode, pointer = ""): SourceLocation {
    const pos = node.argLocs[pointer] ?? node.loc;
    return { file: this.spec.file, line: pos.line, column: pos.column };
  }

  /**
   * Resolves a path written in the Agentfile inside the build context, reporting PATH_ESCAPE or FILE_NOT_FOUND
   * at the argument's location. Returns undefined when it reported a problem.
   */
  async resolvePath(
    written: string,
    node: DirectiveNode,
    pointer: string,
    plugin: string,
  ): Promise<Extract<ContextPathResult, { ok: true }> | undefined> {
    const r = await resolveContextPath(this.context, written);
    if (r.ok) return r;
    const code = r.reason === "missing" ? "FILE_NOT_FOUND" : "PATH_ESCAPE";
    this.report(diagnostic(code, `${node.directive}: ${r.detail}`, this.locate(node, pointer), { plugin }));
    return undefined;
  }

  /** Adds a file to a layer. A second file at the same path in the same layer keeps the first. */
  addFile(layer: LayerKey, file: PackageFile): void {
    let entries = this.files.get(layer);
    if (!entries) {
      entries = new Map();
      this.files.set(layer, entries);
    }
    if (!entries.has(file.path)) entries.set(file.path, file);
  }

  /** Every selected file, over all layers. */
  allFiles(): Array<PackageFile & { layer: LayerKey }> {
    const out: Array<PackageFile & { layer: LayerKey }> = [];
    for (const [layer, entries] of this.files) for (const f of entries.values()) out.push({ ...f, layer });
    return out;
  }

  /** Parses the Agentfile and runs the hooks up to where the mode stops. */
  async seal(): Promise<void> {
    this.kind = await packageKind(this.context, this.options.agentfile);
    if (this.kind === "skill") await this.#time("pack", () => sealSkillPackage(this));
    else if (this.kind === "toolset") await this.#time("pack", () => sealToolsetPackage(this));
    else await this.#sealAgent();
    const pkg = this.package;
    if (pkg && this.options.build.image === true && !this.hasErrors()) {
      pkg.image = await this.#time("image", () => buildImage(this, pkg));
    }
  }

  async #sealAgent(): Promise<void> {
    const read = await readAgentfile(this.context, this.options.agentfile);
    if (!read.ok) {
      this.report(read.diagnostic);
      return;
    }
    const parsed = await this.#time("parse", async () =>
      parseAgentfile(read.text, { file: this.options.agentfile, registry: this.compiler.directives }),
    );
    for (const d of parsed.diagnostics) this.report(d);
    this.spec = parsed.spec;
    this.packagedAgentfile = withoutRunHints(read.text, this.spec, this.compiler);
    await this.#time("spec", () => this.hooks.spec.promise(this.spec, this));
    await this.#time("resolve", () => this.hooks.resolve.promise(this));
    await this.#time("selectFiles", () => this.hooks.selectFiles.promise(this));
    await this.#time("check", () => this.hooks.check.promise(this));
    if (this.mode === "lint" || this.hasErrors()) return;
    const agentfileHash = `sha256:${createHash("sha256").update(this.packagedAgentfile).digest("hex")}`;
    this.resolvedLock = await this.#time("lock", () =>
      this.hooks.lock.promise({ version: "agentrc.lock/v1", agentfile_hash: agentfileHash }, this),
    );
    if (this.mode !== "build" || this.hasErrors()) return;
    this.package = await this.#time("pack", () => buildPackage(this));
  }

  async #time<T>(phase: string, run: () => Promise<T>): Promise<T> {
    const start = performance.now();
    try {
      return await run();
    } finally {
      this.timings[phase] = Math.round(performance.now() - start);
    }
  }

  /**
   * For a plugin about to read a selected file: one sink that hands its bytes to every registered observer that
   * wants them, so that nobody needs to read the file again.
   */
  observeContent(file: PackageFile, digest?: string): ContentSink {
    const sinks = this.contentObservers.flatMap((observe) => observe(file, digest) ?? []);
    return {
      update: (chunk) => {
        for (const sink of sinks) sink.update(chunk);
      },
      end: () => {
        for (const sink of sinks) sink.end();
      },
    };
  }

  /** `sha256:<hex>` and size of a selected file, via the compiler's stat-keyed digest cache. */
  fileDigest(file: PackageFile): Promise<{ digest: string; size: number }> {
    return this.compiler.fileDigests.digest(file.source);
  }
}

/** The Agentfile text minus the lines of run-hint directives (IMAGE, ISOLATION, …), which stay out of the digest. */
function withoutRunHints(text: string, spec: AgentSpec, compiler: Compiler): Buffer {
  const drop = new Set<number>();
  for (const d of spec.directives) {
    if (!compiler.directives.get(d.directive)?.runHint) continue;
    for (let line = d.loc.line; line <= d.loc.endLine; line++) drop.add(line);
  }
  if (drop.size === 0) return Buffer.from(text, "utf8");
  const lines = text.split(/(?<=\n)/);
  return Buffer.from(lines.filter((_, i) => !drop.has(i + 1)).join(""), "utf8");
}
