/**
 * Review before run: `policy show`, `policy eval` and `diff` over any package reference. Opening the package is
 * the shared opener's job; this module reads the config and the policy layer (never another layer) and asks the
 * real Cedar engine.
 */
import {
  type CedarSchemaSummary,
  cedarSchemaSummary,
  type DeclaredNames,
  evaluatePolicy,
  type PackedPolicy,
  type PolicyDecision,
  packedPolicies,
  policyHash,
  resolveAction,
  resolveResource,
} from "../plugins/policy/index.js";
import { sourceBuilder } from "./api.js";
import { effectiveDirectives } from "./compiler/inheritance.js";
import type { PackageConfig } from "./compiler/payloads.js";
import { AgentrcError } from "./diagnostics/AgentrcError.js";
import { MEDIA_TYPE_POLICY_CEDAR } from "./oci/mediaTypes.js";
import { diffContents, type PackageContents, type PackageDiff, policyQuestions } from "./package/diff.js";
import { withPackage } from "./package/open.js";
import type { RegistryClientOptions } from "./registry/client.js";

export interface ReviewOptions extends RegistryClientOptions {
  /** Local store directory (default `$AGENTRC_STORE`, else the XDG data dir). */
  store?: string;
  /** Read the registry, never the store. */
  remote?: boolean;
  /** Relative paths are resolved against this (default `process.cwd()`). */
  cwd?: string;
  /** For an agent source directory: its configuration file (default: discovered in the directory). */
  configFile?: string;
}

const MAX_POLICY = 16 * 1024 * 1024;

/**
 * The manifest, config and packed policy text of `target`: any package reference (src/package/open.ts), an agent
 * source directory included (built in memory by `sourceBuilder`: nothing is written to the store, the build cache
 * or the source tree).
 */
export async function readPackageContents(
  target: string,
  options: ReviewOptions = {},
): Promise<PackageContents> {
  const { configFile, ...open } = options;
  return withPackage(target, { ...open, buildSource: sourceBuilder({ configFile }) }, async (pkg) => {
    const layer = pkg.manifest.layers.find((l) => l.mediaType === MEDIA_TYPE_POLICY_CEDAR);
    let policyText = "";
    if (layer) {
      const bytes = await pkg.readBlob(layer, MAX_POLICY);
      try {
        policyText = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
      } catch {
        throw new AgentrcError("PACKAGE_POLICY_INVALID", `the policy layer of ${pkg.ref} is not UTF-8 text`);
      }
    }
    return {
      ref: pkg.ref,
      source: pkg.source,
      digest: pkg.descriptor.digest,
      manifest: pkg.manifest,
      config: pkg.config,
      policyText,
    };
  });
}

export interface PolicyShow {
  ref: string;
  source: string;
  digest: string;
  agent: string;
  /** The packed Cedar text, byte for byte. */
  text: string;
  /** `sha256:` of `text`, and whether it is the hash the package config records. */
  hash: string;
  recordedHash: string | null;
  hashMatches: boolean;
  policies: PackedPolicy[];
  schema: CedarSchemaSummary;
}

/** The packed policy of `target`: text, hash, each policy with its origin line, and the schema. */
export async function showPolicy(target: string, options: ReviewOptions = {}): Promise<PolicyShow> {
  return policyOf(await readPackageContents(target, options));
}

async function policyOf(pkg: PackageContents): Promise<PolicyShow> {
  const hash = policyHash(pkg.policyText);
  const recorded = pkg.config.policyHash ?? null;
  return {
    ref: pkg.ref,
    source: pkg.source,
    digest: pkg.digest,
    agent: pkg.config.agent.name,
    text: pkg.policyText,
    hash,
    recordedHash: recorded,
    hashMatches: recorded === null ? pkg.policyText === "" : recorded === hash,
    policies: await packedPolicies(pkg.policyText, pkg.config.policyOrigins),
    schema: await cedarSchemaSummary(),
  };
}

export interface PolicyEvalRequest {
  /** A shorthand word (`invoke`), an action (`tool.invoke`) or `AgentRC::Action::"…"`. */
  action: string;
  /** `AgentRC::<Type>::"<id>"`, or an id as the Agentfile writes it (a tool's short name, a host or URL, a path). */
  resource: string;
  /** The agent id (default: the package's AGENT). */
  principal?: string;
  context?: Record<string, unknown>;
}

export interface PolicyEval extends PolicyDecision {
  ref: string;
  digest: string;
  request: {
    principal: string;
    action: string;
    resource: { type: string; id: string };
    context: Record<string, unknown>;
  };
  policyHash: string;
}

/** The real Cedar decision on one request under the packed policy of `target`. */
export async function evalPolicy(
  target: string,
  question: PolicyEvalRequest,
  options: ReviewOptions = {},
): Promise<PolicyEval> {
  const pkg = await readPackageContents(target, options);
  const action = resolveAction(question.action);
  if (!action) {
    throw new AgentrcError("USAGE", `unknown action "${question.action}"`, {
      hint: "Use an action of the agentrc Cedar schema (tool.invoke, network.egress, …) or a shorthand word (invoke, egress, read, …).",
    });
  }
  const resource = resolveResource(action, question.resource, declaredNames(pkg.config));
  const request = {
    principal: question.principal ?? pkg.config.agent.name,
    action,
    resource,
    context: question.context ?? {},
  };
  const policies = await packedPolicies(pkg.policyText, pkg.config.policyOrigins);
  const decision = await evaluatePolicy(pkg.policyText, policies, request);
  return { ref: pkg.ref, digest: pkg.digest, request, policyHash: policyHash(pkg.policyText), ...decision };
}

function declaredNames(config: PackageConfig): DeclaredNames {
  // Inherited declarations (FROM) and toolset tools name entities too.
  const refs = (name: string) =>
    effectiveDirectives(config).flatMap((d) =>
      d.directive === name && typeof d.args.ref === "string" ? [d.args.ref] : [],
    );
  const tools = [...new Set([...refs("TOOL"), ...(config.tools ?? []).map((t) => t.ref)])];
  return { tools, functions: refs("FUNCTION") };
}

export interface DiffResult extends PackageDiff {
  a: { ref: string; source: string; digest: string; agent: string };
  b: { ref: string; source: string; digest: string; agent: string };
}

/** The semantic diff of two packages, the policy effect asked of Cedar (see src/package/diff.ts). */
export async function diffPackages(a: string, b: string, options: ReviewOptions = {}): Promise<DiffResult> {
  const [pa, pb] = await Promise.all([readPackageContents(a, options), readPackageContents(b, options)]);
  const [policiesA, policiesB] = await Promise.all([
    packedPolicies(pa.policyText, pa.config.policyOrigins),
    packedPolicies(pb.policyText, pb.config.policyOrigins),
  ]);
  const diff = diffContents(pa, pb, { before: policiesA, after: policiesB });
  // The same manifest digest is the same policy and the same declarations: nothing can flip.
  const questions = diff.identical
    ? []
    : policyQuestions(effectiveDirectives(pa.config), effectiveDirectives(pb.config));
  for (const q of questions) {
    // Each package's own agent asks: a renamed agent is a directive change, not a flip of every request.
    const before = await evaluatePolicy(pa.policyText, policiesA, {
      principal: pa.config.agent.name,
      ...q,
      context: {},
    });
    const after = await evaluatePolicy(pb.policyText, policiesB, {
      principal: pb.config.agent.name,
      ...q,
      context: {},
    });
    if (before.decision === after.decision) continue;
    diff.policy.flips.push({
      ...q,
      before: before.decision,
      after: after.decision,
      determining: after.determining.map(({ id, effect, origin }) => ({ id, effect, origin })),
    });
  }
  diff.policy.requests = questions.length;
  const side = (p: PackageContents) => ({
    ref: p.ref,
    source: p.source,
    digest: p.digest,
    agent: p.config.agent.name,
  });
  return { ...diff, a: side(pa), b: side(pb) };
}
