import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { parseReference } from "../registry/reference.js";
import { schemaValidator } from "../schema/validate.js";
import { loadPublicKey, type PublicKeyInfo, parsePublicKey } from "./keys.js";

/**
 * The trust policy (schemas/trust-policy.schema.json, docs/trust.md): per registry or repository scope, which keys
 * must have signed what enters from there. Where it comes from, first found wins: `--trust-policy <file>`, the
 * project's `agentrc.config.*` (`trustPolicy`: a file path or the policy itself), the user's
 * `$XDG_CONFIG_HOME/agentrc/trust-policy.json`. Without any, nothing is required.
 */
export type RequirementKind = "signature" | "none" | "reject";

/** The policy as written (the schema's shape). */
export interface TrustPolicyDocument {
  $schema?: string;
  version: 1;
  default?: RequirementDocument;
  scopes?: Record<string, RequirementDocument>;
}

export interface RequirementDocument {
  require: RequirementKind;
  keys?: string[];
  mode?: "all" | "any";
}

export interface TrustRequirement {
  require: RequirementKind;
  /** The keys of a `signature` requirement, read. */
  keys: PublicKeyInfo[];
  mode: "all" | "any";
}

export interface TrustPolicy {
  /** Where the policy came from (a file path, `agentrc.config` inline). */
  source: string;
  /** Applies where no scope matches; `none` when the policy has no default. */
  default: TrustRequirement;
  /** Most specific first. */
  scopes: Array<{ scope: string; requirement: TrustRequirement }>;
}

/** Where the user's own policy lives: `$XDG_CONFIG_HOME/agentrc/trust-policy.json`. */
export function userTrustPolicyPath(env: Readonly<Record<string, string | undefined>> = process.env): string {
  const config = env.XDG_CONFIG_HOME || join(env.HOME || homedir(), ".config");
  return join(config, "agentrc", "trust-policy.json");
}

export interface TrustPolicySources {
  /** `--trust-policy <file>` (relative to `cwd`). */
  file?: string | undefined;
  /** The project's `trustPolicy` setting: a path relative to `configDir`, or the policy. */
  config?: string | TrustPolicyDocument | undefined;
  /** Directory of the project's config file. */
  configDir?: string | undefined;
  cwd?: string;
  env?: Readonly<Record<string, string | undefined>>;
}

/** The policy in force: the flag's file, else the project's, else the user's; undefined when there is none. */
export async function resolveTrustPolicy(sources: TrustPolicySources): Promise<TrustPolicy | undefined> {
  const cwd = sources.cwd ?? process.cwd();
  if (sources.file !== undefined) return loadTrustPolicyFile(resolve(cwd, sources.file));
  if (typeof sources.config === "string") {
    return loadTrustPolicyFile(resolve(sources.configDir ?? cwd, sources.config));
  }
  if (sources.config !== undefined) {
    const base = sources.configDir ?? cwd;
    return parseTrustPolicy(sources.config, {
      source: `${join(base, "agentrc.config")} (trustPolicy)`,
      baseDir: base,
    });
  }
  const user = userTrustPolicyPath(sources.env);
  const text = await readFile(user, "utf8").catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT" || err.code === "ENOTDIR") return undefined;
    throw policyError(user, `cannot be read: ${err.message}`);
  });
  return text === undefined ? undefined : parsePolicyText(text, user);
}

/** Reads a policy file; TRUST_POLICY_INVALID when it is missing, not JSON, off-schema, or names an unreadable key. */
export async function loadTrustPolicyFile(path: string): Promise<TrustPolicy> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    throw policyError(path, `cannot be read: ${(err as Error).message}`);
  }
  return parsePolicyText(text, path);
}

async function parsePolicyText(text: string, path: string): Promise<TrustPolicy> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (err) {
    throw policyError(path, `is not JSON: ${(err as Error).message}`);
  }
  return parseTrustPolicy(json, { source: path, baseDir: dirname(path) });
}

/** Checks a policy document against its schema and reads its keys (paths relative to `baseDir`). */
export async function parseTrustPolicy(
  json: unknown,
  where: { source: string; baseDir: string },
): Promise<TrustPolicy> {
  const validate = schemaValidator("trust-policy.schema.json");
  if (!validate(json)) {
    const first = validate.errors?.[0];
    const at = first?.instancePath ? `${first.instancePath}: ` : "";
    throw policyError(
      where.source,
      `does not match schemas/trust-policy.schema.json: ${at}${first?.message ?? "invalid"}`,
    );
  }
  const doc = json as TrustPolicyDocument;
  const requirement = async (r: RequirementDocument, at: string): Promise<TrustRequirement> => ({
    require: r.require,
    mode: r.mode ?? "all",
    keys: await Promise.all((r.keys ?? []).map((k, i) => readPolicyKey(k, where, `${at}/keys/${i}`))),
  });
  const scopes = await Promise.all(
    Object.entries(doc.scopes ?? {}).map(async ([scope, r]) => ({
      scope,
      requirement: await requirement(r, `/scopes/${scope}`),
    })),
  );
  const star = scopes.find((s) => s.scope === "*");
  return {
    source: where.source,
    default:
      doc.default !== undefined
        ? await requirement(doc.default, "/default")
        : (star?.requirement ?? { require: "none", keys: [], mode: "all" }),
    scopes: scopes.filter((s) => s.scope !== "*").sort((a, b) => b.scope.length - a.scope.length),
  };
}

async function readPolicyKey(
  key: string,
  where: { source: string; baseDir: string },
  at: string,
): Promise<PublicKeyInfo> {
  try {
    if (key.trimStart().startsWith("-----BEGIN")) return parsePublicKey(key, `${where.source}#${at}`);
    return await loadPublicKey(isAbsolute(key) ? key : resolve(where.baseDir, key));
  } catch (err) {
    throw policyError(where.source, `${at}: ${(err as Error).message}`, err);
  }
}

/** `registry/repository` of a reference, the name scopes match against. */
export function scopeName(reference: string): string {
  const ref = parseReference(reference);
  return `${ref.registry}/${ref.repository}`;
}

/** The most specific scope matching `reference` (at a path boundary), else the default (`scope` "default"). */
export function requirementFor(
  policy: TrustPolicy,
  reference: string,
): { scope: string; requirement: TrustRequirement } {
  const name = scopeName(reference);
  for (const s of policy.scopes) {
    if (name === s.scope || name.startsWith(`${s.scope}/`)) return s;
  }
  return { scope: "default", requirement: policy.default };
}

function policyError(source: string, detail: string, cause?: unknown): AgentrcError {
  return new AgentrcError("TRUST_POLICY_INVALID", `trust policy ${source} ${detail}`, {
    hint: "Fix the policy (schemas/trust-policy.schema.json, docs/trust.md); key paths are relative to the policy file.",
    ...(cause === undefined ? {} : { cause }),
  });
}
