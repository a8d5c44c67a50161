import { type Compilation, type DirectiveNode, toolRiskTier } from "../../src/core.js";

export type RiskTier = "low" | "medium" | "high";

/** Tiers in rising order; a tier may be raised after it is derived, never lowered. */
export const RISK_TIERS: readonly RiskTier[] = ["low", "medium", "high"];

/**
 * `io.agentrc.risk.tier`, derived from what the agent declares (docs/package.md), with the first directive that
 * decides it:
 * high — a high-risk tool, or a read-write MOUNT, or a BIND in direct/rw mode;
 * medium — any tool, egress (URL, SERVER, MCP) or credential;
 * low — none of these.
 */
export function assessRisk(compilation: Compilation): { tier: RiskTier; because?: DirectiveNode } {
  const tools = compilation.directives<{ ref: string }>("TOOL");
  const high =
    compilation.directives<{ mode: string }>("MOUNT").find((m) => m.args.mode === "rw") ??
    compilation
      .directives<{ mode: string }>("BIND")
      .find((b) => b.args.mode === "rw" || b.args.mode === "direct") ??
    tools.find((t) => toolRiskTier(t.args.ref) === "high");
  if (high) return { tier: "high", because: high as DirectiveNode };
  const medium =
    tools[0] ??
    ["URL", "SERVER", "MCP", "CRED", "TOOLSET"].map((d) => compilation.directives(d)[0]).find(Boolean);
  return medium ? { tier: "medium", because: medium as DirectiveNode } : { tier: "low" };
}

/** The derived tier alone. */
export function riskTier(compilation: Compilation): RiskTier {
  return assessRisk(compilation).tier;
}
