import type { RegistryClientOptions } from "../registry/client.js";
import type { TrustPolicy } from "../trust/policy.js";
import type { Compiler } from "./Compiler.js";

/** A plugin: a name and an `apply` that taps hooks. Built-ins have exactly this shape. */
export interface AgentrcPlugin {
  name: string;
  apply(compiler: Compiler): void;
}

export type RuleSeverity = "off" | "warning" | "error";

/**
 * The registry settings of a run: every plugin that talks to a registry (FROM pinning, `SKILL oci://`, `build --push`,
 * a third party's) reads them from `compilation.options.registry`, so `--plain-http`, `--insecure`, `--ca-file`,
 * credentials, proxies, tracing and concurrency apply to all of them, in every command.
 */
export interface RegistrySettings extends RegistryClientOptions {
  /** Blob transfers in flight at once per copy (default 4). */
  concurrency?: number;
  /**
   * The trust policy dependencies fetched with these settings must satisfy (`deps.checkDependencyTrust`, called by
   * every dependency fetch: FROM, SKILL oci://, TOOLSET); the same policy as `CompilerOptions.trustPolicy`.
   */
  trustPolicy?: TrustPolicy;
}

/** Options a compiler runs with, after the config file and CLI flags are merged (see schemas/config.schema.json). */
export interface CompilerOptions {
  /** Absolute path of the build context (the agent source tree). */
  context: string;
  /** Agentfile path relative to the context. */
  agentfile: string;
  plugins: AgentrcPlugin[];
  /** Directory for advisory caches (file digests, packed layers); undefined keeps them in memory. */
  cacheDir?: string;
  /** Registry client settings (config `registry`, CLI flags, API `RunOptions.registry`). */
  registry: RegistrySettings;
  /**
   * The environment the run sees: key passphrases (`AGENTRC_KEY_PASSPHRASE`), `SOURCE_DATE_EPOCH`. The CLI passes
   * its own; a library caller may pass one (`RunOptions.env`). Plugins read this, not `process.env`.
   */
  env: Readonly<Record<string, string | undefined>>;
  /**
   * The trust policy in force (`--trust-policy`, config `trustPolicy`, the user's file), read once per run; every
   * plugin that fetches a dependency (FROM, SKILL oci://) passes it to `trust.checkTrust` before writing anything.
   */
  trustPolicy?: TrustPolicy;
  lint: {
    /** Per-code severity overrides, like eslint rules: `{ AUDIT_MISSING: "off" }`. */
    rules: Record<string, RuleSeverity>;
    /** Globs (relative to the context) of files the secret scan accepts. */
    allowSecrets: string[];
  };
  build: {
    /**
     * `agentrc lock --update [name…]`: re-resolve the tags of pinned dependencies (FROM, `SKILL oci://`, TOOLSET)
     * instead of keeping their pins; an empty list re-resolves all of them, names select by the reference as written
     * (or, for skills, the skill's name).
     */
    update?: string[];
    /** Fail when agentrc.lock is missing or stale instead of rewriting it (CI). */
    frozenLockfile?: boolean;
    /**
     * Resolve agentrc.lock as a build would, package the result, but never write the file (a lock that would change
     * is `lockfileStatus: "stale"`, not an error). For builds that must leave the source tree untouched: opening a
     * source directory as a package, `verify --rebuild`.
     */
    readOnlyLockfile?: boolean;
    /** Write a standalone OCI layout (or oci-archive tar) here instead of the local store. */
    output?: string;
    outputFormat?: "oci" | "oci-archive";
    /** Local store directory; default $AGENTRC_STORE or $XDG_DATA_HOME/agentrc/store. */
    store?: string;
    tags: string[];
    annotations: Record<string, string>;
    /** Sign the package (and its provenance) with this private key file (`build --sign-key`; signer hook). */
    signKey?: string;
    /** Also produce the plain OCI image of the package (`--image`, config `build.image`; docs/image.md). */
    image?: boolean;
    /**
     * Shared build caches on registries to read layers from (`--cache-from`, config `build.cacheFrom`): a layer
     * whose inputs match a verified entry is fetched instead of packed (docs/cache.md).
     */
    cacheFrom?: string[];
    /** The shared build cache to write this build's layers to (`--cache-to`, config `build.cacheTo`). */
    cacheTo?: string;
  };
}

/** Where a file in the package comes from. */
export interface PackageFile {
  /** Path inside the layer, relative, `/` separators. */
  path: string;
  /** Absolute path on disk. */
  source: string;
  size: number;
  executable: boolean;
  /** The directive that selected it (for diagnostics). */
  origin?: { directive: string; line: number; column: number };
}

/** A layer the packager will write. `skill:<name>` keys give one layer per skill. */
export type LayerKey = "source" | "tools" | "data" | `skill:${string}`;
