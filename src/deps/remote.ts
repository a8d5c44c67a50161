import type { RegistrySettings } from "../compiler/types.js";
import { RegistryClient } from "../registry/client.js";
import type { Reference } from "../registry/reference.js";
import { resolveManifestDigest } from "../registry/resolveTag.js";
import { RegistryTarget } from "../transfer/registryTarget.js";
import type { ResolvedManifest } from "../transfer/types.js";
import { checkRegistryTrust } from "../trust/check.js";

/** What an agent depends on from a registry: its `FROM` base, an `oci://` skill, a `TOOLSET`. */
export type DependencyKind = "base" | "skill" | "toolset";

/** One dependency as the Agentfile names it. */
export interface Dependency {
  kind: DependencyKind;
  /** The reference as written (`FROM host/org/base:1`, `oci://…`): what the lock pins it under. */
  written: string;
  reference: Reference;
}

/**
 * The one place a dependency's tag becomes a manifest digest (HEAD, GET when HEAD gives none): `agentrc lock`,
 * `lock --update` and first builds. A pinned dependency is never resolved again (the callers check the lock first).
 */
export async function resolveDependency(dependency: Dependency, settings: RegistrySettings): Promise<string> {
  if (dependency.reference.digest !== undefined) return dependency.reference.digest;
  const { concurrency: _concurrency, trustPolicy: _trust, ...client } = settings;
  return resolveManifestDigest(dependency.reference, client);
}

/** A dependency's manifest read by digest from its registry, with the repository to read its blobs from. */
export interface OpenedDependency {
  target: RegistryTarget;
  manifest: ResolvedManifest;
  close(): Promise<void>;
}

/**
 * The one place a dependency's content is read from a registry: its manifest by digest (the client checks the
 * bytes against it), and a repository target for its blobs. Every fetch of a base, a skill or a toolset starts here,
 * so a check of what may be depended on (a trust policy) belongs here too.
 */
export async function openDependency(
  dependency: Dependency,
  digest: string,
  settings: RegistrySettings,
): Promise<OpenedDependency> {
  const { concurrency: _concurrency, trustPolicy: _trust, ...options } = settings;
  const client = new RegistryClient(dependency.reference.registry, options);
  try {
    const target = new RegistryTarget(client, dependency.reference.repository);
    const manifest = await target.resolve(digest);
    return { target, manifest, close: () => client.close() };
  } catch (e) {
    await client.close();
    throw e;
  }
}

/**
 * The trust check of a dependency (`settings.trustPolicy`; none: accepted): the signatures attached to `digest` in
 * its repository must satisfy the policy's scope for it, else TRUST_POLICY_VIOLATION naming the scope and the
 * reason. Every fetch calls it before anything is written (cached dependencies too: a policy may change).
 */
export async function checkDependencyTrust(
  dependency: Dependency,
  digest: string,
  settings: RegistrySettings,
): Promise<void> {
  const { concurrency: _concurrency, trustPolicy, ...client } = settings;
  if (trustPolicy === undefined) return;
  await checkRegistryTrust(dependency.reference.toString(), digest, client, trustPolicy);
}
