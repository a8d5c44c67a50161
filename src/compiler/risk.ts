/** A directive as the package config records it (no positions). */
export interface DeclaredDirective {
  directive: string;
  args: Record<string, unknown>;
}

export type RiskTier = "low" | "medium" | "high";

/** Tools whose names suggest arbitrary execution, a browser, or computer use. */
const HIGH_RISK_TOOL =
  /(shell|bash|exec|terminal|browser|computer|code[-_.]?(run|exec|interpreter)|eval|sudo|python|node)/i;

/** Directives that let the agent reach beyond its sandbox (egress or secrets). */
const REACHING = ["URL", "SERVER", "MCP", "CRED", "TOOLSET"];

/** A tool's own risk: high for execution, browsers and computer use, medium for any other tool. */
export function toolRisk(ref: string): "high" | "medium" {
  return HIGH_RISK_TOOL.test(ref) ? "high" : "medium";
}

/**
 * `io.agentrc.risk.tier` and why, derived from what the agent declares (docs/package.md): high — a high-risk tool,
 * a read-write MOUNT or a BIND in direct/rw mode; medium — any tool, egress (URL, SERVER, MCP, TOOLSET) or
 * credential; low — none of these. The same function serves the build (the annotation) and `verify`/`inspect`
 * (re-derived from the package config), so they cannot drift apart.
 */
export function deriveRiskTier(directives: readonly DeclaredDirective[]): {
  tier: RiskTier;
  reasons: string[];
} {
  const of = (name: string) => directives.filter((d) => d.directive === name);
  const high: string[] = [];
  for (const t of of("TOOL")) {
    const ref = String(t.args.ref ?? "");
    if (toolRisk(ref) === "high") high.push(`TOOL ${ref} can execute code, browse or drive a computer`);
  }
  for (const m of of("MOUNT"))
    if (m.args.mode === "rw") high.push(`MOUNT ${String(m.args.path)} is read-write`);
  for (const b of of("BIND")) {
    if (b.args.mode === "rw" || b.args.mode === "direct") {
      high.push(`BIND ${String(b.args.source)} ${String(b.args.target)} is ${String(b.args.mode)}`);
    }
  }
  if (high.length > 0) return { tier: "high", reasons: high };
  const medium: string[] = [];
  const tools = of("TOOL");
  if (tools.length > 0) medium.push(`${tools.length} tool${tools.length === 1 ? "" : "s"} declared`);
  for (const name of REACHING) {
    const n = of(name).length;
    if (n > 0)
      medium.push(
        `${n} ${name} directive${n === 1 ? "" : "s"} (${name === "CRED" ? "credentials" : "egress"})`,
      );
  }
  if (medium.length > 0) return { tier: "medium", reasons: medium };
  return { tier: "low", reasons: ["no tools, egress, credentials or writable mounts declared"] };
}
