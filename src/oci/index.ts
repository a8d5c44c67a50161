/** The OCI library: media types, digests, deterministic tar/gzip, layer packing, image layouts, store, archives. */
export * from "./archive.js";
export * from "./deflatePool.js";
export * from "./digest.js";
export * from "./extract.js";
export * from "./gzip.js";
export * from "./image.js";
export * from "./layout.js";
export * from "./lease.js";
export * from "./lock.js";
export * from "./manifest.js";
export * from "./mediaTypes.js";
export * from "./mergeTree.js";
export * from "./pack.js";
export * from "./prune.js";
export * from "./referrers.js";
export * from "./store.js";
export * from "./tar.js";
export type * from "./types.js";
