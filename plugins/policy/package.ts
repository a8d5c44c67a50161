import { type Compilation, type LayerPlan, oci } from "../../src/core.js";

/**
 * What the compiled policy puts into the package, all from `compilation.policy` (left unset when the policy has
 * a problem): the lock's `policy_hash`, the `policy/agent.cedar` layer (placed after the Agentfile and lock layers,
 * before the directory layers; left out when the policy is empty), the config's `policyHash` and the
 * `io.agentrc.policy.hash` annotation.
 */
export function tapPolicyPackaging(compilation: Compilation, plugin: string): void {
  const { hooks } = compilation;
  hooks.lock.tap(plugin, (lock) =>
    compilation.policy ? { ...lock, policy_hash: compilation.policy.hash } : lock,
  );
  hooks.layers.tap(plugin, (plan) => {
    const policy = compilation.policy;
    if (!policy || policy.text.trim() === "") return plan;
    const layer: LayerPlan = {
      kind: "blob",
      key: "policy",
      title: oci.TITLE_POLICY,
      mediaType: oci.MEDIA_TYPE_POLICY_CEDAR,
      bytes: Buffer.from(policy.text),
    };
    const firstDirectory = plan.findIndex((l) => l.kind === "tar");
    const at = firstDirectory < 0 ? plan.length : firstDirectory;
    return [...plan.slice(0, at), layer, ...plan.slice(at)];
  });
  hooks.packageConfig.tap(plugin, (config) =>
    compilation.policy ? { ...config, policyHash: compilation.policy.hash } : config,
  );
  hooks.annotations.tap(plugin, (annotations) =>
    compilation.policy
      ? { ...annotations, [oci.ANNOTATION_POLICY_HASH]: compilation.policy.hash }
      : annotations,
  );
}
