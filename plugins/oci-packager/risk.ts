import { type Compilation, toolRiskTier } from "../../src/core.js";

/**
 * `io.agentrc.risk.tier`, derived from what the agent declares (docs/package.md):
 * high — a high-risk tool, or a read-write MOUNT, or a BIND in direct/rw mode;
 * medium — any tool, egress (URL, SERVER, MCP) or credential;
 * low — none of these.
 */
export function riskTier(compilation: Compilation): "low" | "medium" | "high" {
  const tools = compilation.directives<{ ref: string }>("TOOL");
  const rwMount = compilation.directives<{ mode: string }>("MOUNT").some((m) => m.args.mode === "rw");
  const rwBind = compilation
    .directives<{ mode: string }>("BIND")
    .some((b) => b.args.mode === "rw" || b.args.mode === "direct");
  if (rwMount || rwBind || tools.some((t) => toolRiskTier(t.args.ref) === "high")) return "high";
  const reaches = ["URL", "SERVER", "MCP", "CRED", "TOOLSET"].some(
    (d) => compilation.directives(d).length > 0,
  );
  return tools.length > 0 || reaches ? "medium" : "low";
}
