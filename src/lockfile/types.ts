/** agentrc.lock, as schemas/lockfile.schema.json describes it. */
export interface Lockfile {
  version: "agentrc.lock/v1";
  agentfile_hash: string;
  policy_hash?: string;
  base_image?: { ref: string; digest: string };
  tools?: Array<{ name: string; path?: string; digest?: string; spec_digest?: string }>;
  /** Every TOOLSET, keyed by its reference as written: how it was found, its digest (the pin), its tools. */
  toolsets?: Record<
    string,
    { source: string; digest: string; tools: Array<{ name: string; digest: string }> }
  >;
  functions?: Array<{ path: string; symbol: string; digest?: string }>;
  skills?: Array<{ name: string; source: string; digest: string }>;
  credential_names?: string[];
  sops?: Array<{ name: string; digest: string }>;
  layers?: Record<string, string>;
}

export const LOCKFILE_NAME = "agentrc.lock";
