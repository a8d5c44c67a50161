import { type Compilation, type DirectiveNode, deriveRiskTier, type RiskTier } from "../../src/core.js";

export { RISK_TIERS, type RiskTier } from "../../src/core.js";

/**
 * `io.agentrc.risk.tier` of the agent being built, with the first directive that decides it (the rules are in
 * src/compiler/risk.ts, shared with verify and inspect).
 */
export function assessRisk(compilation: Compilation): { tier: RiskTier; because?: DirectiveNode } {
  // Inherited declarations count (a base's shell tool makes the child high risk); the first deciding directive
  // is reported only when it is the agent's own (inherited ones have no line in this Agentfile).
  const own = compilation.spec.directives;
  const { tier, because } = deriveRiskTier([...own, ...(compilation.base?.section.directives ?? [])]);
  return because === undefined || !own.includes(because as DirectiveNode)
    ? { tier }
    : { tier, because: because as DirectiveNode };
}

/** The derived tier alone. */
export function riskTier(compilation: Compilation): RiskTier {
  return assessRisk(compilation).tier;
}
