import type { BlobProgress, PushImageResult } from "../transfer/types.js";

/**
 * The second argument of `compiler.hooks.publish`: where to push the package a build just emitted. `agentrc build
 * --push` fills it from the `-t` references (the registry settings are `compilation.options.registry`); the built-in registry-publisher plugin pushes to
 * every reference and appends one result per reference, in order.
 */
export interface PublishRequest {
  /** References to push to (`host[:port]/repo:tag`), as given to `-t`. */
  readonly references: readonly string[];
  /** Progress of each blob of each reference. */
  readonly onProgress?: (event: BlobProgress, reference: string) => void;
  /** Filled by the publisher: one entry per reference, in the order of `references` (image mode: each followed by
   * its image's, at `<tag>-image`). */
  readonly results: PushImageResult[];
}
