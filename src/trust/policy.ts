import { readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, isAbsolute, join, resolve } from "node:path";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { DOCKER_HUB, parseReference, parseRegistryHost } from "../registry/reference.js";
import { schemaValidator } from "../schema/validate.js";
import { loadPublicKey, type PublicKeyInfo, parsePublicKey } from "./keys.js";

/**
 * The trust policy (schemas/trust-policy.schema.json, docs/trust.md): per registry or repository scope, which keys
 * must have signed what enters from there. Where it comes from: `--trust-policy <file>`, else the project's
 * `agentrc.config.*` (`trustPolicy`: a file path or the policy itself); and, in addition to either, the user's
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
  /**
   * Most specific (longest `name`) first. `scope` is as written; `name` is its normalised `registry[/repository]`,
   * the form references are matched in (a scope may stand for two names, see `scopeNames`).
   */
  scopes: Array<{ scope: string; name: string; requirement: TrustRequirement }>;
  /**
   * Policies that must hold as well (the user's policy file under a project's or `--trust-policy`'s): content enters
   * only when every one of them accepts it.
   */
  alsoRequired?: TrustPolicy[];
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

/**
 * The policy in force. The flag's file replaces the project's `trustPolicy`; neither replaces the user's policy
 * file: when it exists it is required as well (`alsoRequired`), so a cloned repository's configuration can add
 * requirements but never relax the user's. Undefined when there is no policy at all.
 */
export async function resolveTrustPolicy(sources: TrustPolicySources): Promise<TrustPolicy | undefined> {
  const chosen = await chosenTrustPolicy(sources);
  const user = await userTrustPolicy(sources.env);
  if (chosen === undefined) return user;
  if (user === undefined || user.source === chosen.source) return chosen;
  return { ...chosen, alsoRequired: [user] };
}

/** `--trust-policy`'s file, else the project's `trustPolicy`. */
async function chosenTrustPolicy(sources: TrustPolicySources): Promise<TrustPolicy | undefined> {
  const cwd = sources.cwd ?? process.cwd();
  if (sources.file !== undefined) return loadTrustPolicyFile(resolve(cwd, sources.file));
  if (typeof sources.config === "string") {
    return loadTrustPolicyFile(resolve(sources.configDir ?? cwd, sources.config));
  }
  if (sources.config === undefined) return undefined;
  const base = sources.configDir ?? cwd;
  return parseTrustPolicy(sources.config, {
    source: `${join(base, "agentrc.config")} (trustPolicy)`,
    baseDir: base,
  });
}

/** The user's `$XDG_CONFIG_HOME/agentrc/trust-policy.json`, when there is one. */
async function userTrustPolicy(
  env: Readonly<Record<string, string | undefined>> | undefined,
): Promise<TrustPolicy | undefined> {
  const user = resolve(userTrustPolicyPath(env));
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
  if (doc.default !== undefined && doc.scopes?.["*"] !== undefined) {
    throw policyError(
      where.source,
      'has both `default` and a `"*"` scope, which mean the same thing: keep one of them',
    );
  }
  const written = Object.entries(doc.scopes ?? {});
  const named = new Map<string, string>();
  const scopes: TrustPolicy["scopes"] = [];
  for (const [scope, r] of written) {
    if (scope === "*") continue;
    const req = await requirement(r, `/scopes/${scope}`);
    for (const name of scopeNames(scope, where.source)) {
      const other = named.get(name);
      if (other !== undefined) {
        throw policyError(
          where.source,
          `scopes "${other}" and "${scope}" both name ${name}: keep one of them`,
        );
      }
      named.set(name, scope);
      scopes.push({ scope, name, requirement: req });
    }
  }
  const star = doc.scopes?.["*"];
  const fallback = doc.default ?? star;
  return {
    source: where.source,
    default:
      fallback !== undefined
        ? await requirement(fallback, doc.default !== undefined ? "/default" : "/scopes/*")
        : { require: "none", keys: [], mode: "all" },
    scopes: scopes.sort((a, b) => b.name.length - a.name.length),
  };
}

/**
 * The normalised names a scope stands for, normalised the way references are (src/registry/reference.ts): the
 * registry in lower case with Docker Hub's aliases folded into `docker.io`, so `GHCR.io/acme` matches what
 * `ghcr.io/acme/app` parses to. A one-component Docker Hub path stands for both what docker reads it as
 * (`docker.io/ubuntu` = `docker.io/library/ubuntu`) and the namespace of that name (`docker.io/ubuntu/...`), so it
 * protects whichever the writer meant. A registry part a reference could never parse to (`ubuntu`, `acme/app`: no
 * `.`, no port, not localhost) is refused rather than left to match nothing.
 */
export function scopeNames(scope: string, source: string): string[] {
  const slash = scope.indexOf("/");
  const host = slash === -1 ? scope : scope.slice(0, slash);
  const path = slash === -1 ? undefined : scope.slice(slash + 1);
  const refuse = (why: string, cause?: unknown) => policyError(source, `scope "${scope}" ${why}`, cause);
  if (!(/[.:]/.test(host) || host === "localhost" || host !== host.toLowerCase())) {
    throw refuse(
      `does not start with a registry host (one with a "." or a port, or localhost), so no reference can match it; for Docker Hub write "docker.io/${scope}"`,
    );
  }
  let registry: string;
  try {
    registry = parseRegistryHost(host);
  } catch (err) {
    throw refuse(`cannot be normalised: ${(err as Error).message}`, err);
  }
  if (path === undefined) return [registry];
  try {
    parseReference(`${registry}/${path}`);
  } catch (err) {
    throw refuse(`cannot be normalised: ${(err as Error).message}`, err);
  }
  if (registry === DOCKER_HUB && !path.includes("/") && path !== "library") {
    return [`${registry}/library/${path}`, `${registry}/${path}`];
  }
  return [`${registry}/${path}`];
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
    if (name === s.name || name.startsWith(`${s.name}/`)) return s;
  }
  return { scope: "default", requirement: policy.default };
}

function policyError(source: string, detail: string, cause?: unknown): AgentrcError {
  return new AgentrcError("TRUST_POLICY_INVALID", `trust policy ${source} ${detail}`, {
    hint: "Fix the policy (schemas/trust-policy.schema.json, docs/trust.md); key paths are relative to the policy file.",
    ...(cause === undefined ? {} : { cause }),
  });
}
