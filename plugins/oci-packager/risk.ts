import { type Compilation, deriveRiskTier } from "../../src/core.js";

/** `io.agentrc.risk.tier` of the agent being built (the rules are in src/compiler/risk.ts, shared with verify). */
export function riskTier(compilation: Compilation): "low" | "medium" | "high" {
  return deriveRiskTier(compilation.spec.directives).tier;
}
