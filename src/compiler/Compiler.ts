import { AsyncSeriesBailHook, AsyncSeriesHook, SyncHook } from "tapable";
import { DirectiveRegistry } from "../agentfile/registry.js";
import type { DirectiveDefinition } from "../agentfile/types.js";
import { BlobCache } from "../cache/BlobCache.js";
import { RegistryLayerCache } from "../cache/RegistryCache.js";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { FileDigestCache } from "../fs/fileDigest.js";
import { Compilation, type CompilationMode } from "./Compilation.js";
import { instrumentHooks } from "./instrument.js";
import type { PackedBlob } from "./payloads.js";
import type { PublishRequest } from "./publish.js";
import type { Signer, SignerRequest } from "./signing.js";
import type { AgentrcPlugin, CompilerOptions } from "./types.js";

/**
 * Owns the options, the plugins and the directive registry, and runs compilations. Its hooks are the process-level
 * half of the hook table (docs/hooks.md); `Compilation` holds the per-build half.
 */
export class Compiler {
  readonly options: CompilerOptions;
  readonly directives = new DirectiveRegistry();
  /** Content digests of source files, persisted in the cache directory between runs. */
  readonly fileDigests: FileDigestCache;
  readonly hooks = Object.freeze({
    /** All plugins are applied; validate plugin options here. */
    initialize: new SyncHook<[]>([]),
    /** A compilation was created: tap its hooks here. */
    compilation: new SyncHook<[Compilation]>(["compilation"]),
    /** Build mode only, after a compilation without errors: write the package (store, layout, archive). */
    emit: new AsyncSeriesHook<[Compilation]>(["compilation"]),
    /**
     * Build mode only, after a successful emit, when the caller asked to publish (`agentrc build --push`): push the
     * package to the request's references and append one result per reference to `request.results`.
     */
    publish: new AsyncSeriesHook<[Compilation, PublishRequest]>(["compilation", "request"]),
    /**
     * Asked for a signer (`build --sign-key`, `agentrc sign`): the first tap returning one wins. The built-in
     * key-signer loads `request.keyFile`; a KMS or keyless signer plugin taps before it (docs/trust.md).
     */
    signer: new AsyncSeriesBailHook<[SignerRequest], Signer | undefined>(["request"]),
    /** The run finished (also after errors); diagnostics are final. */
    done: new AsyncSeriesHook<[Compilation]>(["compilation"]),
    /** The run threw; clean-up hooks go here. */
    failed: new SyncHook<[Error]>(["error"]),
  });

  #blobCache: Promise<BlobCache> | undefined;
  #sharedCaches: RegistryLayerCache[] | undefined;

  /**
   * The shared build caches this run reads (`build.cacheFrom`, docs/cache.md), in order, each opened once with the
   * run's registry settings; [] without any.
   */
  sharedCaches(): RegistryLayerCache[] {
    this.#sharedCaches ??= (this.options.build.cacheFrom ?? []).map((ref) =>
      RegistryLayerCache.open(ref, this.options.registry),
    );
    return this.#sharedCaches;
  }

  /** The content-addressed cache packed blobs are written to before emit (see src/cache/BlobCache.ts). */
  blobCache(): Promise<BlobCache> {
    this.#blobCache ??= BlobCache.open(this.options.cacheDir);
    return this.#blobCache;
  }

  /** Stores a small blob (config, manifest, Agentfile) in the blob cache and returns its descriptor and path. */
  async putBlob(bytes: Buffer, mediaType: string): Promise<PackedBlob> {
    const cache = await this.blobCache();
    const info = await cache.putBlob(bytes);
    return {
      descriptor: { mediaType, digest: info.digest, size: info.size },
      path: cache.blobPath(info.digest),
    };
  }

  constructor(options: CompilerOptions) {
    this.options = options;
    this.fileDigests = new FileDigestCache(options.cacheDir);
    instrumentHooks(this.hooks, "compiler");
    for (const plugin of options.plugins) {
      if (!plugin || typeof plugin.name !== "string" || typeof plugin.apply !== "function") {
        throw new AgentrcError(
          "PLUGIN_INVALID",
          `plugin ${describePlugin(plugin)} has no name or no apply(compiler)`,
        );
      }
      plugin.apply(this);
    }
    this.hooks.initialize.call();
  }

  async #closeSharedCaches(): Promise<void> {
    const caches = this.#sharedCaches ?? [];
    this.#sharedCaches = undefined;
    await Promise.all(caches.map((c) => c.close()));
  }

  /** Adds a directive to the Agentfile dialect; its `schema` validates the parsed `args`. */
  registerDirective(definition: DirectiveDefinition, plugin: AgentrcPlugin | string): void {
    this.directives.register(definition, typeof plugin === "string" ? plugin : plugin.name);
  }

  /**
   * Runs one compilation: `lint` stops after file checks, `build` goes on to pack and emit, then publishes when
   * `publish` names references.
   */
  async run(mode: CompilationMode, extra: { publish?: PublishRequest } = {}): Promise<Compilation> {
    const compilation = new Compilation(this, mode);
    this.hooks.compilation.call(compilation);
    try {
      await compilation.seal();
      if (mode === "build" && !compilation.hasErrors()) {
        await this.hooks.emit.promise(compilation);
        const publish = extra.publish;
        if (publish && publish.references.length > 0 && compilation.package) {
          await this.hooks.publish.promise(compilation, publish);
          if (publish.results.length < publish.references.length) {
            throw new AgentrcError(
              "PUBLISH_INCOMPLETE",
              `asked to push to ${publish.references.length} reference(s), ${publish.results.length} pushed`,
            );
          }
        }
      }
      await this.fileDigests.save();
      await this.hooks.done.promise(compilation);
      if (this.#blobCache) await (await this.#blobCache).dispose();
      await this.#closeSharedCaches();
      return compilation;
    } catch (e) {
      this.hooks.failed.call(e as Error);
      this.fileDigests.endRun();
      await this.#closeSharedCaches().catch(() => {});
      // Releases the cache lease, so a failed build in a long-lived process does not keep its blobs from prune.
      if (this.#blobCache) await (await this.#blobCache).dispose().catch(() => {});
      throw e;
    }
  }
}

function describePlugin(p: unknown): string {
  if (p && typeof p === "object" && "name" in p) return String((p as { name: unknown }).name);
  return typeof p;
}
