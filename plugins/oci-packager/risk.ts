import { type Compilation, type DirectiveNode, deriveRiskTier, type RiskTier } from "../../src/core.js";

export { RISK_TIERS, type RiskTier } from "../../src/core.js";

/**
 * `io.agentrc.risk.tier` of the agent being built, with the first directive that decides it (the rules are in
 * src/compiler/risk.ts, shared with verify and inspect).
 */
export function assessRisk(compilation: Compilation): { tier: RiskTier; because?: DirectiveNode } {
  const { tier, because } = deriveRiskTier(compilation.spec.directives);
  return because === undefined ? { tier } : { tier, because };
}

/** The derived tier alone. */
export function riskTier(compilation: Compilation): RiskTier {
  return assessRisk(compilation).tier;
}
