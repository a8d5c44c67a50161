/** Tools whose names suggest arbitrary execution, a browser, or computer use (the high-risk tool list of docs/package.md's risk tier). */
const HIGH_RISK_TOOL =
  /(shell|bash|exec|terminal|browser|computer|code[-_.]?(run|exec|interpreter)|eval|sudo|python|node)/i;

/**
 * A tool's risk tier (docs/package.md): high for a high-risk tool (by its reference: shell, exec, terminal, browser,
 * computer use, code interpreter, eval, …), medium for any other tool, since every tool acts for the agent.
 */
export function toolRiskTier(ref: string): "high" | "medium" {
  return HIGH_RISK_TOOL.test(ref) ? "high" : "medium";
}
