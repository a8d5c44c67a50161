import type { CodeInfo } from "./codes.js";

/**
 * Codes of opening a package from any source and of `agentrc verify` (one code per check, docs/review.md). Merged
 * into CODES (codes.ts).
 */
export const PACKAGE_CODES = {
  // --- opening a package reference ----------------------------------------------------------
  PACKAGE_SOURCE_NOT_FOUND: {
    severity: "error",
    summary: "A path given as a package (layout, archive or agent directory) does not exist.",
    hint: "Pass an existing OCI layout, oci-archive or agent directory, or a package reference.",
  },
  PACKAGE_SOURCE_UNSUPPORTED: {
    severity: "error",
    summary:
      "The path is a directory that is neither an OCI layout nor an agent source tree, or an agent source tree given to a command that needs a built package.",
    hint: "Pass an OCI layout (oci:<dir>), an oci-archive, a store or registry reference, or build the agent first.",
  },
  PACKAGE_SOURCE_BUILD_FAILED: {
    severity: "error",
    summary:
      "An agent source directory given as a package does not build (with its lockfile frozen); the build's diagnostics follow.",
    hint: "Run `agentrc lock` and `agentrc build` in the directory and fix what they report.",
  },
  // --- verify: blobs ------------------------------------------------------------------------
  PACKAGE_BLOB_MISSING: {
    severity: "error",
    summary: "A blob the manifest lists (config or layer) is not where the package is.",
    hint: "Pull or copy the package again; a layout missing blobs is incomplete.",
  },
  PACKAGE_BLOB_DIGEST_MISMATCH: {
    severity: "error",
    summary: "A blob (manifest, config or layer) does not hash to the digest that names it.",
    hint: "The package was damaged or altered after it was built; do not run it. Pull or rebuild it.",
  },
  PACKAGE_BLOB_SIZE_MISMATCH: {
    severity: "error",
    summary: "A blob does not have the size its descriptor declares.",
    hint: "The package was damaged or altered after it was built; do not run it. Pull or rebuild it.",
  },
  // --- verify: config against layers ----------------------------------------------------------
  PACKAGE_LAYER_MISMATCH: {
    severity: "error",
    summary:
      "The package config's layer list (title, media type, digest, size) disagrees with the manifest's layers.",
    hint: "The config or the manifest was altered after the build; rebuild the package.",
  },
  PACKAGE_LAYER_UNCOMPRESSED_MISMATCH: {
    severity: "error",
    summary:
      "A layer's uncompressed content does not hash to (or have the size of) the uncompressed digest in the config and the layer's io.deis.oras.content.digest annotation.",
    hint: "The layer or the config was altered after the build; rebuild the package.",
  },
  PACKAGE_LAYER_UNREADABLE: {
    severity: "error",
    summary: "A directory layer is not a readable gzip-compressed tar.",
    hint: "The layer is damaged; pull or rebuild the package.",
  },
  // --- verify and pull: the file index ------------------------------------------------------------
  PACKAGE_FILE_MISMATCH: {
    severity: "error",
    summary:
      "A file in a layer differs from its file index entry in the package config (sha256, size, mode or layer).",
    hint: "The package's file index lies about its content; do not run it. Rebuild it from source.",
  },
  PACKAGE_FILE_MISSING: {
    severity: "error",
    summary: "The file index lists a file that no layer of the package holds.",
    hint: "The package's file index lies about its content; do not run it. Rebuild it from source.",
  },
  PACKAGE_FILE_UNLISTED: {
    severity: "error",
    summary:
      "A layer holds a file (or a link, device or other entry) that the package config's file index does not list.",
    hint: "The package carries content its file index hides; do not run it. Rebuild it from source.",
  },
  // --- verify: policy, lock, annotations -----------------------------------------------------------
  PACKAGE_POLICY_HASH_MISMATCH: {
    severity: "error",
    summary:
      "The policy layer does not hash to the config's policyHash, or the io.agentrc.policy.hash annotation disagrees with it.",
    hint: "The policy was altered after the build; do not run the package. Rebuild it from source.",
  },
  PACKAGE_LOCK_MISMATCH: {
    severity: "error",
    summary:
      "The lockfile layer is not a valid agentrc.lock or disagrees with the package config (policy hash, base, tools, functions, skills, credential names, SOPs).",
    hint: "The lockfile or the config was altered after the build; rebuild the package from its source and lockfile.",
  },
  PACKAGE_ANNOTATION_MISMATCH: {
    severity: "error",
    summary:
      "A manifest annotation derived from the inputs (agent name, Agentfile version, title, base digest) disagrees with the package config or lock.",
    hint: "The manifest was altered after the build; rebuild the package.",
  },
  PACKAGE_RISK_TIER_MISMATCH: {
    severity: "error",
    summary:
      "The io.agentrc.risk.tier annotation is missing or lower than the tier re-derived from the agent's declared tools, egress, credentials and mounts (a plugin may raise it, never lower it).",
    hint: "The manifest understates (or misstates) what the agent may do; rebuild the package.",
  },
  // --- verify --rebuild ------------------------------------------------------------------------------
  PACKAGE_REBUILD_DIFFERS: {
    severity: "error",
    summary:
      "Rebuilding the source tree with its lockfile gives another manifest digest; the message names the layers and files that differ.",
    hint: "Build from the exact source and lockfile the package was made from (same agentrc version), or find out who changed it.",
  },
} as const satisfies Record<string, CodeInfo>;
