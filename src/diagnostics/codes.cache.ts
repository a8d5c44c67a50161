import type { CodeInfo } from "./codes.js";

/** Codes of the shared build cache on a registry (`build --cache-from/--cache-to`, docs/cache.md). Merged into CODES. */
export const CACHE_CODES = {
  BUILD_CACHE_REF_INVALID: {
    severity: "error",
    summary:
      "A --cache-from or --cache-to reference names a digest: a shared build cache is a tag that writers move.",
    hint: "Name the cache by tag, e.g. registry.example.com/team/agent:buildcache.",
  },
  BUILD_CACHE_INVALID: {
    severity: "error",
    summary:
      "The reference of a shared build cache names something that is not an agentrc build cache, or its index is not valid (schemas/build-cache-index.schema.json).",
    hint: "Give the cache a tag of its own; to start it afresh, delete the tag and build with --cache-to.",
  },
  BUILD_CACHE_UNAVAILABLE: {
    severity: "warning",
    summary:
      "A shared build cache given with --cache-from cannot be read (registry error, invalid index); the build packs its layers itself.",
    hint: "Check the reference, the registry and the credentials (`agentrc login`); the package is the same either way.",
  },
  BUILD_CACHE_ENTRY_REJECTED: {
    severity: "warning",
    summary:
      "An entry of a shared build cache does not match this build's files (another diffID, a blob that is missing or unpacks to other bytes): the layer was packed locally and the package is what its sources make it.",
    hint: "The cache was written by another agentrc, or tampered with: rewrite it with --cache-to from a trusted build.",
  },
  BUILD_CACHE_CONTENDED: {
    severity: "error",
    summary:
      "The shared build cache's tag kept moving while this build merged its entries into it (too many writers at once); the package itself was built and emitted.",
    hint: "Give each branch or pipeline its own cache tag, or build again.",
  },
} as const satisfies Record<string, CodeInfo>;
