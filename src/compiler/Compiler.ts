import { AsyncSeriesHook, SyncHook } from "tapable";
import { DirectiveRegistry } from "../agentfile/registry.js";
import type { DirectiveDefinition } from "../agentfile/types.js";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { defaultCacheDir, FileDigestCache } from "../fs/fileDigest.js";
import { Compilation, type CompilationMode } from "./Compilation.js";
import { instrumentHooks } from "./instrument.js";
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
    /** The run finished (also after errors); diagnostics are final. */
    done: new AsyncSeriesHook<[Compilation]>(["compilation"]),
    /** The run threw; clean-up hooks go here. */
    failed: new SyncHook<[Error]>(["error"]),
  });

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

  /** Adds a directive to the Agentfile dialect; its `schema` validates the parsed `args`. */
  registerDirective(definition: DirectiveDefinition, plugin: AgentrcPlugin | string): void {
    this.directives.register(definition, typeof plugin === "string" ? plugin : plugin.name);
  }

  /** Runs one compilation: `lint` stops after file checks, `build` goes on to pack and emit. */
  async run(mode: CompilationMode): Promise<Compilation> {
    const compilation = new Compilation(this, mode);
    this.hooks.compilation.call(compilation);
    try {
      await compilation.seal();
      if (mode === "build" && !compilation.hasErrors()) await this.hooks.emit.promise(compilation);
      await this.fileDigests.save();
      await this.hooks.done.promise(compilation);
      return compilation;
    } catch (e) {
      this.hooks.failed.call(e as Error);
      throw e;
    }
  }
}

function describePlugin(p: unknown): string {
  if (p && typeof p === "object" && "name" in p) return String((p as { name: unknown }).name);
  return typeof p;
}
