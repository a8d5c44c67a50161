import { resolve } from "node:path";
import { builtinPlugins } from "../plugins/index.js";
import type { Compilation, CompilationMode } from "./compiler/Compilation.js";
import { Compiler } from "./compiler/Compiler.js";
import type { AgentrcPlugin, CompilerOptions } from "./compiler/types.js";
import { configBase, loadConfig } from "./config/loadConfig.js";
import type { AgentrcConfig } from "./config/types.js";
import type { Diagnostic } from "./diagnostics/types.js";
import { defaultCacheDir } from "./fs/fileDigest.js";

export interface RunOptions {
  /** Directory to start from: the build context, or the directory holding the config file. Default: cwd. */
  dir?: string;
  /** Explicit config file (skips discovery). */
  configFile?: string;
  /** Inline configuration merged over the file's (the CLI passes flags this way). */
  config?: AgentrcConfig;
  /** Extra plugins applied after the configured ones. */
  plugins?: AgentrcPlugin[];
  /** Cache directory (file digests, packed layers); default $AGENTRC_CACHE or $XDG_CACHE_HOME/agentrc. */
  cacheDir?: string;
}

/** Loads the configuration and builds the compiler options: defaults ← config file ← inline config. */
export async function resolveOptions(run: RunOptions = {}): Promise<CompilerOptions> {
  const dir = resolve(run.dir ?? ".");
  const loaded = await loadConfig(dir, run.configFile);
  const base = configBase(loaded, dir);
  const file = loaded.config;
  const inline = run.config ?? {};
  const context = resolve(base, inline.context ?? file.context ?? ".");
  return {
    context,
    agentfile: inline.agentfile ?? file.agentfile ?? "Agentfile",
    cacheDir: run.cacheDir ?? defaultCacheDir(),
    plugins: [
      ...builtinPlugins(),
      ...(file.plugins ?? []),
      ...(inline.plugins ?? []),
      ...(run.plugins ?? []),
    ],
    lint: {
      rules: { ...file.lint?.rules, ...inline.lint?.rules },
      allowSecrets: [...(file.lint?.allowSecrets ?? []), ...(inline.lint?.allowSecrets ?? [])],
    },
    build: {
      ...((inline.build?.frozenLockfile ?? file.build?.frozenLockfile) ? { frozenLockfile: true } : {}),
      ...(inline.build?.output === undefined ? {} : { output: resolve(dir, inline.build.output) }),
      ...(inline.build?.outputFormat === undefined ? {} : { outputFormat: inline.build.outputFormat }),
      ...(inline.build?.store === undefined ? {} : { store: inline.build.store }),
      tags: [...(file.build?.tags ?? []), ...(inline.build?.tags ?? [])],
      annotations: { ...file.build?.annotations, ...inline.build?.annotations },
    },
  };
}

/** Creates a compiler with the built-in plugins plus the configured ones. */
export async function createCompiler(run: RunOptions = {}): Promise<Compiler> {
  return new Compiler(await resolveOptions(run));
}

export interface LintResult {
  compilation: Compilation;
  diagnostics: Diagnostic[];
  errorCount: number;
  warningCount: number;
}

/** Parses and checks an agent without packing it. */
export function lint(run: RunOptions = {}): Promise<LintResult> {
  return runMode("lint", run);
}

/** Lints, then resolves and writes agentrc.lock (unless `config.build.frozenLockfile`, which only compares). */
export function lock(run: RunOptions = {}): Promise<LintResult> {
  return runMode("lock", run);
}

/** Builds the package and emits it (local store by default). Diagnostics as for lint; `compilation.package` holds it. */
export function build(run: RunOptions = {}): Promise<LintResult> {
  return runMode("build", run);
}

async function runMode(mode: CompilationMode, run: RunOptions): Promise<LintResult> {
  const compiler = await createCompiler(run);
  const compilation = await compiler.run(mode);
  const diagnostics = compilation.diagnostics;
  return {
    compilation,
    diagnostics,
    errorCount: diagnostics.filter((d) => d.severity === "error").length,
    warningCount: diagnostics.filter((d) => d.severity === "warning").length,
  };
}
