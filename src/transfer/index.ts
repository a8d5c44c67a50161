/** Moving packages between stores, layouts, archives and registries: one `copy` over small targets. */
export { ArchiveReader, ArchiveWriter } from "./archiveTarget.js";
export { blobSource, type CopyOptions, type CopyResult, copy, DEFAULT_CONCURRENCY } from "./copy.js";
export { type BuiltBlobs, builtPackageSource, FilesSource } from "./filesSource.js";
export { LayoutTarget, type LayoutTargetOptions } from "./layoutTarget.js";
export { copyToRegistry } from "./registryCopy.js";
export { RegistryTarget } from "./registryTarget.js";
export type * from "./types.js";
