import { dirname, resolve } from "node:path";
import { cosmiconfig, type Loader } from "cosmiconfig";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import type { Diagnostic } from "../diagnostics/types.js";
import { describeError, relevantErrors, schemaValidator } from "../schema/validate.js";
import type { AgentrcConfig } from "./types.js";

export interface LoadedConfig {
  config: AgentrcConfig;
  /** Absolute path of the file, undefined when no configuration exists. */
  filepath: string | undefined;
}

/**
 * cosmiconfig's own TypeScript loader needs the TypeScript 5 compiler API, which TypeScript 7 no longer ships and
 * users may not have installed at all. jiti transpiles with its bundled Babel-based transform, so a `.ts` config
 * loads on a machine with no TypeScript.
 */
const loadTs: Loader = async (filepath) => {
  // Loaded only when there is a TypeScript config to transpile.
  const { createJiti } = await import("jiti");
  const jiti = createJiti(filepath, { interopDefault: true, moduleCache: false, fsCache: false });
  return jiti.import(filepath, { default: true });
};

const SEARCH_PLACES = [
  "package.json",
  ".agentrcrc",
  ".agentrcrc.json",
  ".agentrcrc.yaml",
  ".agentrcrc.yml",
  "agentrc.config.ts",
  "agentrc.config.mts",
  "agentrc.config.mjs",
  "agentrc.config.js",
  "agentrc.config.cjs",
  "agentrc.config.json",
  "agentrc.config.yaml",
  "agentrc.config.yml",
];

function explorer() {
  return cosmiconfig("agentrc", {
    searchPlaces: SEARCH_PLACES,
    loaders: { ".ts": loadTs, ".mts": loadTs, ".cts": loadTs },
    // Look only in the given directory, never in parents or the home directory: a build must not change
    // because of a file outside the agent's tree.
    searchStrategy: "none",
  });
}

/** Finds and loads the configuration in `dir` (or the explicit `file`), validated against the config schema. */
export async function loadConfig(dir: string, file?: string): Promise<LoadedConfig> {
  let result: { config: unknown; filepath: string; isEmpty?: boolean } | null;
  try {
    result = file ? await explorer().load(resolve(file)) : await explorer().search(resolve(dir));
  } catch (e) {
    throw new AgentrcError("CONFIG_LOAD_FAILED", `cannot load configuration: ${(e as Error).message}`, {
      cause: e,
      ...(file ? { location: { file, line: 1, column: 1 } } : {}),
    });
  }
  if (!result || result.isEmpty) return { config: {}, filepath: result?.filepath };
  const config = unwrapDefault(result.config);
  validateConfig(config, result.filepath);
  return { config: config as AgentrcConfig, filepath: result.filepath };
}

function unwrapDefault(value: unknown): unknown {
  if (value && typeof value === "object" && "default" in value && Object.keys(value).length === 1) {
    return (value as { default: unknown }).default;
  }
  return value ?? {};
}

/** Throws CONFIG_INVALID listing every schema error, or PLUGIN_INVALID for a plugin without apply(). */
export function validateConfig(config: unknown, filepath: string): void {
  const validate = schemaValidator("config.schema.json");
  if (!validate(config)) {
    const diagnostics: Diagnostic[] = relevantErrors(validate.errors).map((e) => ({
      code: "CONFIG_INVALID",
      severity: "error",
      message: describeError(e),
      hint: "See schemas/config.schema.json for the accepted keys.",
      location: { file: filepath, line: 1, column: 1 },
    }));
    throw new AgentrcError(
      "CONFIG_INVALID",
      `invalid configuration in ${filepath}: ${diagnostics.map((d) => d.message).join("; ")}`,
      { diagnostics, location: { file: filepath, line: 1, column: 1 } },
    );
  }
  const plugins = (config as AgentrcConfig).plugins ?? [];
  plugins.forEach((p, i) => {
    if (typeof (p as { apply?: unknown }).apply !== "function") {
      throw new AgentrcError(
        "PLUGIN_INVALID",
        `plugins[${i}] (${p.name}) in ${filepath} has no apply(compiler) function`,
        {
          location: { file: filepath, line: 1, column: 1 },
        },
      );
    }
  });
}

/** The directory a config file's relative paths are relative to. */
export const configBase = (loaded: LoadedConfig, fallback: string): string =>
  loaded.filepath ? dirname(loaded.filepath) : fallback;
