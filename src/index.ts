/** agentrc's programmatic API. The CLI (src/cli) is a thin layer over these functions. */

export {
  type BuildPushOptions,
  build,
  createCompiler,
  inspectRemote,
  type LintResult,
  lint,
  lock,
  type PullOptions,
  type PullResult,
  type PushOptions,
  pull,
  push,
  type RunOptions,
  resolveOptions,
  type TransferOptions,
} from "./api.js";
export { type LoadedConfig, loadConfig, validateConfig } from "./config/loadConfig.js";
export { type AgentrcConfig, defineConfig } from "./config/types.js";
export * from "./core.js";
export {
  defaultInstallPath,
  findInstalled,
  type InstalledPackage,
  type InstallOptions,
  type InstallResult,
  installPackage,
  listInstalled,
  type UninstallResult,
  type UpdateResult,
  uninstallPackage,
  updateInstalled,
} from "./package/install.js";
export type { BlobProgress, BlobResult, BlobStatus, PushImageResult } from "./transfer/types.js";
