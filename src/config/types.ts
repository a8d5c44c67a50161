import type { AgentrcPlugin, RuleSeverity } from "../compiler/types.js";
import type { TrustPolicyDocument } from "../trust/policy.js";

/** The configuration file's shape; schemas/config.schema.json is the source of truth. */
export interface AgentrcConfig {
  $schema?: string;
  /** Build context, relative to the config file. */
  context?: string;
  /** Agentfile path relative to the context. */
  agentfile?: string;
  plugins?: AgentrcPlugin[];
  /** Built-in plugins switched off by name (`{ "registry-publisher": false }`); replace one by adding your own. */
  builtins?: Record<string, boolean>;
  /** Registry settings for every command and plugin that talks to a registry (flags override them). */
  registry?: {
    plainHttp?: boolean;
    insecure?: boolean;
    /** PEM file of extra CA certificates, relative to the config file. */
    caFile?: string;
    /** Blob transfers in flight at once (1–32, default 4). */
    concurrency?: number;
  };
  /** The project's trust policy: a file path (relative to the config file) or the policy (docs/trust.md). */
  trustPolicy?: string | TrustPolicyDocument;
  lint?: {
    rules?: Record<string, RuleSeverity>;
    allowSecrets?: string[];
  };
  build?: {
    /** Fail when agentrc.lock is missing or stale (CI). */
    frozenLockfile?: boolean;
    /** CLI only (`--output`): a standalone layout or archive instead of the local store. */
    output?: string;
    outputFormat?: "oci" | "oci-archive";
    /** CLI only: local store directory. */
    store?: string;
    tags?: string[];
    annotations?: Record<string, string>;
    /** Also produce the plain OCI image of the package, tagged `<tag>-image` (docs/image.md). */
    image?: boolean;
    /** Shared build caches to read: registry tags written by `cacheTo` (docs/cache.md). */
    cacheFrom?: string[];
    /** The shared build cache to add this build's layers to (a registry tag; docs/cache.md). */
    cacheTo?: string;
  };
}

/** Identity function that gives `agentrc.config.ts` its types. */
export function defineConfig(config: AgentrcConfig): AgentrcConfig {
  return config;
}
