import { toolRiskTier } from "../tools/risk.js";

/** A directive as the package config records it (no positions). */
export interface DeclaredDirective {
  directive: string;
  args: Record<string, unknown>;
}

export type RiskTier = "low" | "medium" | "high";

/** Tiers in rising order; a tier may be raised after it is derived, never lowered. */
export const RISK_TIERS: readonly RiskTier[] = ["low", "medium", "high"];

/** Directives that let the agent reach beyond its sandbox (egress or secrets). */
const REACHING = ["URL", "SERVER", "MCP", "CRED", "TOOLSET"];

/**
 * `io.agentrc.risk.tier` derived from what the agent declares (docs/package.md), with every reason and the first
 * directive that decides it: high — a read-write MOUNT, a BIND in direct/rw mode or a high-risk tool; medium — any
 * tool, egress (URL, SERVER, MCP, TOOLSET) or credential; low — none of these. The build (the annotation and its
 * floor) and `verify`/`inspect` (re-derived from the package config) share this one function.
 */
export function deriveRiskTier<D extends DeclaredDirective>(
  directives: readonly D[],
): { tier: RiskTier; reasons: string[]; because?: D } {
  const of = (name: string) => directives.filter((d) => d.directive === name);
  const rwMounts = of("MOUNT").filter((m) => m.args.mode === "rw");
  const rwBinds = of("BIND").filter((b) => b.args.mode === "rw" || b.args.mode === "direct");
  const tools = of("TOOL");
  const highTools = tools.filter((t) => toolRiskTier(String(t.args.ref ?? "")) === "high");
  const high = [
    ...rwMounts.map((m) => `MOUNT ${String(m.args.path)} is read-write`),
    ...rwBinds.map((b) => `BIND ${String(b.args.source)} ${String(b.args.target)} is ${String(b.args.mode)}`),
    ...highTools.map((t) => `TOOL ${String(t.args.ref)} can execute code, browse or drive a computer`),
  ];
  const firstHigh = rwMounts[0] ?? rwBinds[0] ?? highTools[0];
  if (firstHigh !== undefined) return { tier: "high", reasons: high, because: firstHigh };
  const medium: string[] = [];
  if (tools.length > 0) medium.push(`${tools.length} tool${tools.length === 1 ? "" : "s"} declared`);
  for (const name of REACHING) {
    const n = of(name).length;
    if (n > 0) {
      medium.push(
        `${n} ${name} directive${n === 1 ? "" : "s"} (${name === "CRED" ? "credentials" : "egress"})`,
      );
    }
  }
  const firstMedium = tools[0] ?? REACHING.map((d) => of(d)[0]).find((d) => d !== undefined);
  if (firstMedium !== undefined) return { tier: "medium", reasons: medium, because: firstMedium };
  return { tier: "low", reasons: ["no tools, egress, credentials or writable mounts declared"] };
}
