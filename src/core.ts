/**
 * The public plugin API: everything a plugin (built-in or third-party) may use. Built-in plugins import only
 * this module (enforced by the linter), so they have no more power than a user's plugin.
 */
export { AGENTFILE_VERSION, BUILTIN_DIRECTIVES } from "./agentfile/directives.js";
export { type ParseOptions, type ParseResult, parseAgentfile } from "./agentfile/parse.js";
export { positional } from "./agentfile/positional.js";
export { DirectiveRegistry } from "./agentfile/registry.js";
export type {
  AgentSpec,
  DirectiveDefinition,
  DirectiveInput,
  DirectiveNode,
  ParsedArgs,
  Position,
} from "./agentfile/types.js";
export { BlobCache, type CachedLayer } from "./cache/BlobCache.js";
export {
  ARTIFACT_TYPE_BUILD_CACHE,
  MEDIA_TYPE_BUILD_CACHE_INDEX,
  RegistryLayerCache,
  type RejectedEntry,
  type SharedCacheEntry,
  type SharedCacheOffer,
} from "./cache/RegistryCache.js";
export { ResultCache } from "./cache/ResultCache.js";
export { PACKAGE_FORMAT_VERSION } from "./compiler/buildPackage.js";
export {
  Compilation,
  type CompilationMode,
  type CompiledPolicy,
  type ContentObserver,
  type ContentSink,
} from "./compiler/Compilation.js";
export { Compiler } from "./compiler/Compiler.js";
export {
  effectiveDirectives,
  INHERITED_DIRECTIVES,
  inheritanceName,
  itemLabel,
  type ResolvedBase,
} from "./compiler/inheritance.js";
export { layerInputDigest, layerInputDigests } from "./compiler/layerInputs.js";
export type {
  BuiltImage,
  BuiltPackage,
  InheritedDirective,
  InheritedSection,
  LayerPlan,
  PackageConfig,
  PackageFileIndexEntry,
  PackageToolMetadata,
  PackedBlob,
  PackProgress,
  PolicyOrigin,
} from "./compiler/payloads.js";
export type { PublishRequest } from "./compiler/publish.js";
export {
  type DeclaredDirective,
  deriveRiskTier,
  RISK_TIERS,
  type RiskTier,
} from "./compiler/risk.js";
export {
  addSelectedFiles,
  type DirectiveSelection,
  directiveHasErrors,
  selectForDirective,
  selectGlobArguments,
} from "./compiler/select.js";
export type { Signer, SignerRequest } from "./compiler/signing.js";
export { SKILL_NAME, type SkillTarget, skillName, skillTarget } from "./compiler/skillName.js";
export { STAGE } from "./compiler/stages.js";
export type {
  AgentrcPlugin,
  CompilerOptions,
  LayerKey,
  PackageFile,
  RegistrySettings,
  RuleSeverity,
} from "./compiler/types.js";
export * as deps from "./deps/index.js";
export { AgentrcError, isAgentrcError } from "./diagnostics/AgentrcError.js";
export { type BuiltinCode, CODES, type CodeInfo } from "./diagnostics/codes.js";
export { diagnostic, sortDiagnostics } from "./diagnostics/create.js";
export type { Diagnostic, Severity, SourceLocation } from "./diagnostics/types.js";
export { isInside, normaliseRelative, resolveContextPath } from "./fs/contextPath.js";
export { FileDigestCache, hashFile } from "./fs/fileDigest.js";
export { IGNORE_FILE, IgnoreMatcher, loadIgnoreFile } from "./fs/ignore.js";
export {
  checkJsonSchema,
  type JsonPosition,
  type JsonSchemaDraft,
  type JsonSourceResult,
  parseJsonSource,
  type SchemaCheckResult,
  schemaDraft,
} from "./fs/jsonSource.js";
export {
  comparePathBytes,
  contextRelative,
  type GlobOptions,
  type PatternResult,
  type SelectedFile,
  type SelectProblem,
  type SelectResult,
  selectPattern,
  walkDirectory,
} from "./fs/walk.js";
export {
  type DependencyMove,
  dependencyMoves,
  type PinnedDependency,
  pinnedDependencies,
  selectedForUpdate,
} from "./lockfile/moves.js";
export { LOCKFILE_NAME, type Lockfile } from "./lockfile/types.js";
export * as oci from "./oci/index.js";
export * as registry from "./registry/index.js";
export { ajv, objectValidator, schemaValidator } from "./schema/validate.js";
export { parseSkillMd, type SkillMetadata, type SkillMetadataProblem } from "./skills/skillMd.js";
export { toolRiskTier } from "./tools/risk.js";
export { type ToolRefParts, toolRefParts, toolShortNames } from "./tools/toolRef.js";
export {
  type NormalisedToolSpec,
  normaliseToolSpec,
  TOOL_SPEC_FORMATS,
  type ToolSpecFormat,
  type ToolSpecProblem,
  type ToolSpecResult,
} from "./tools/toolSpec.js";
export { readToolset, type Toolset, type ToolsetProblem, type ToolsetTool } from "./tools/toolset.js";
export * as transfer from "./transfer/index.js";
export * as trust from "./trust/index.js";
export { canonicalJson, canonicalJsonPretty } from "./util/canonicalJson.js";
export { mapLimit } from "./util/mapLimit.js";
export { agentrcVersion, packageRoot } from "./util/packageRoot.js";
export { trimEnd } from "./util/trimEnd.js";
