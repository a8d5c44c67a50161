/** agentrc's programmatic API. The CLI (src/cli) is a thin layer over these functions. */

export {
  build,
  createCompiler,
  type LintResult,
  lint,
  lock,
  type RunOptions,
  resolveOptions,
} from "./api.js";
export { type LoadedConfig, loadConfig, validateConfig } from "./config/loadConfig.js";
export { type AgentrcConfig, defineConfig } from "./config/types.js";
export * from "./core.js";
