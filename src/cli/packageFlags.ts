import { resolve } from "node:path";
import type { ReviewOptions } from "../review.js";
import { type CommandContext, type Flags, STORE_FLAG, storePath } from "./context.js";
import { REGISTRY_OPTIONS, REGISTRY_USAGE, registryOptions } from "./registryFlags.js";

/** Flags every command that reads a package shares: where to look for it. */
export const PACKAGE_SOURCE_OPTIONS = {
  store: STORE_FLAG,
  remote: {
    type: "boolean",
    description: "read the registry, not the local store",
  },
} as const satisfies Flags;

/** Flags of the commands that read a package from any reference (store, registry, layout, archive, source directory). */
export const PACKAGE_OPTIONS = {
  ...PACKAGE_SOURCE_OPTIONS,
  remote: {
    type: "boolean",
    description: "read the registry, not the local store (manifest, config and policy only)",
  },
  ...REGISTRY_OPTIONS,
} as const satisfies Flags;

export const PACKAGE_USAGE = `[--remote] [--store <dir>] ${REGISTRY_USAGE}`;

/** How to open the packages named on the command line. */
export function packageOptions(ctx: CommandContext): ReviewOptions {
  return {
    ...registryOptions(ctx),
    store: storePath(ctx),
    cwd: ctx.io.cwd,
    ...(ctx.values.remote === true ? { remote: true } : {}),
    ...(typeof ctx.values.config === "string" ? { configFile: resolve(ctx.io.cwd, ctx.values.config) } : {}),
  };
}
