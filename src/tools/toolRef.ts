/**
 * The parts of a TOOL reference `<ns>:<rest>`. A tool's name is what follows its namespace (`utcp:file_read` →
 * `file_read`); for MCP it is what follows the server (`mcp:github.get_issue` → server `github`, name `get_issue`),
 * since MCP tool names are unique only within their server.
 */
export interface ToolRefParts {
  ref: string;
  namespace: string;
  /** What follows `<ns>:` (`github.get_issue` for MCP). */
  qualified: string;
  /** The MCP server, for `mcp:<server>.<name>`. */
  server?: string;
  /** The tool's own name (`file_read`, `get_issue`). */
  name: string;
}

export function toolRefParts(ref: string): ToolRefParts | undefined {
  const colon = ref.indexOf(":");
  if (colon <= 0 || colon === ref.length - 1) return undefined;
  const namespace = ref.slice(0, colon);
  const qualified = ref.slice(colon + 1);
  const dot = qualified.indexOf(".");
  if (namespace === "mcp" && dot > 0 && dot < qualified.length - 1) {
    return { ref, namespace, qualified, server: qualified.slice(0, dot), name: qualified.slice(dot + 1) };
  }
  return { ref, namespace, qualified, name: qualified };
}

/** The names a person may use for the tool `ref`: its name, and what follows the namespace (when different). */
export function toolShortNames(ref: string): string[] {
  const parts = toolRefParts(ref);
  if (!parts) return [];
  return parts.qualified === parts.name ? [parts.name] : [parts.name, parts.qualified];
}
