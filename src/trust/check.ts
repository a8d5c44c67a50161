import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { RegistryClient, type RegistryClientOptions } from "../registry/client.js";
import { parseReference } from "../registry/reference.js";
import { RegistryTarget } from "../transfer/registryTarget.js";
import type { ReadTarget } from "../transfer/types.js";
import type { PublicKeyInfo } from "./keys.js";
import { requirementFor, type TrustPolicy, type TrustRequirement } from "./policy.js";
import { type AttachmentReport, checkAttachments, signatureFailures, type TrustFailure } from "./verify.js";

export interface TrustDecision {
  /** The policy scope that decided (`default` when none matched); undefined without a policy. */
  scope: string | undefined;
  requirement: TrustRequirement["require"] | undefined;
  /** Where the policy came from. */
  policy: string | undefined;
  /** The keys whose signatures were verified. */
  signers: string[];
  report: AttachmentReport | undefined;
}

/**
 * The one trust check for content entering from `source` (pull, pull -o, FROM, SKILL oci://, install, verify): the
 * requirement of the most specific scope of `policy` matching `reference`, applied to the signatures attached to
 * `manifestDigest`; then the same for each of `policy.alsoRequired` (the user's policy file), so content enters only
 * when every policy accepts it. Without a policy everything is accepted. A violation throws TRUST_POLICY_VIOLATION
 * naming the policy, the scope and the reason, before the caller writes anything: call it on the manifest digest,
 * before any blob moves. `scoped: false` (an OCI layout or archive, which has no registry scope): the policy's
 * `default` decides, as podman's `default` does for transports its policy has no scope for.
 */
export async function checkTrust(
  reference: string,
  manifestDigest: string,
  source: ReadTarget,
  policy: TrustPolicy | undefined,
  options: { scoped?: boolean } = {},
): Promise<TrustDecision> {
  if (policy === undefined) {
    return { scope: undefined, requirement: undefined, policy: undefined, signers: [], report: undefined };
  }
  const decision = await checkOnePolicy(reference, manifestDigest, source, policy, options.scoped ?? true);
  for (const also of policy.alsoRequired ?? []) {
    const more = await checkOnePolicy(reference, manifestDigest, source, also, options.scoped ?? true);
    decision.signers = [...new Set([...decision.signers, ...more.signers])];
  }
  return decision;
}

async function checkOnePolicy(
  reference: string,
  manifestDigest: string,
  source: ReadTarget,
  policy: TrustPolicy,
  scoped: boolean,
): Promise<TrustDecision> {
  const { scope, requirement } = scoped
    ? requirementFor(policy, reference)
    : { scope: "default", requirement: policy.default };
  const decided = { scope, requirement: requirement.require, policy: policy.source };
  if (requirement.require === "none") return { ...decided, signers: [], report: undefined };
  if (requirement.require === "reject") {
    throw violation(
      reference,
      scope,
      policy,
      "the policy rejects everything from this scope",
      "TRUST_POLICY_VIOLATION",
    );
  }
  const report = await checkAttachments(source, manifestDigest, requirement.keys);
  const failures = signatureFailures(report, requirement.keys, requirement.mode);
  if (failures.length > 0) {
    throw violation(
      reference,
      scope,
      policy,
      describe(failures, requirement.keys, requirement.mode),
      failures[0]!.code,
    );
  }
  const signers = report.bundles
    .filter((b) => b.status === "verified" && b.kind === "signature")
    .map((b) => b.signer!);
  return { ...decided, signers: [...new Set(signers)], report };
}

function describe(failures: TrustFailure[], keys: readonly PublicKeyInfo[], mode: "all" | "any"): string {
  const need = `${mode === "any" && keys.length > 1 ? "a signature by one of" : "signatures by"} ${keys.map((k) => k.source).join(", ")}`;
  return `it requires ${need}: ${failures.map((f) => `${f.code} ${f.message}`).join("; ")}`;
}

/** TRUST_POLICY_VIOLATION, with the scope that decided and the code of the first reason. */
export class TrustPolicyViolation extends AgentrcError {
  readonly scope: string;
  readonly reason: string;
  constructor(message: string, scope: string, reason: string, hint: string) {
    super("TRUST_POLICY_VIOLATION", message, { hint });
    this.scope = scope;
    this.reason = reason;
  }
}

function violation(
  reference: string,
  scope: string,
  policy: TrustPolicy,
  reason: string,
  cause: string,
): TrustPolicyViolation {
  return new TrustPolicyViolation(
    `${reference} is refused by the trust policy ${policy.source}, scope "${scope}": ${reason}`,
    scope,
    cause,
    cause === "TRUST_POLICY_VIOLATION"
      ? "Change the policy for this scope if this content is to be trusted."
      : "Use a package signed with a key the policy names (agentrc sign), or change the policy for this scope.",
  );
}

/**
 * `checkTrust` against a registry repository (FROM, SKILL oci://, install): one client, closed afterwards. Nothing is
 * fetched but the referrers of `manifestDigest` and their bundles.
 */
export async function checkRegistryTrust(
  reference: string,
  manifestDigest: string,
  clientOptions: RegistryClientOptions,
  policy: TrustPolicy | undefined,
): Promise<TrustDecision> {
  if (policy === undefined) return checkTrust(reference, manifestDigest, NO_SOURCE, policy);
  const ref = parseReference(reference);
  const client = new RegistryClient(ref.registry, clientOptions);
  try {
    return await checkTrust(
      ref.toString(),
      manifestDigest,
      new RegistryTarget(client, ref.repository),
      policy,
    );
  } finally {
    await client.close();
  }
}

const NO_SOURCE: ReadTarget = {
  description: "nothing",
  manifestErrorCode: "OCI_MANIFEST_INVALID",
  resolve: () => Promise.reject(new Error("no source")),
  fetch: () => Promise.reject(new Error("no source")),
};
