/**
 * The Agentfile shorthands compiled to Cedar: `ALLOW <action> <resource>` → permit, `DENY` → forbid, and
 * `URL <url>` → permit network.egress on the URL's host. Every generated policy carries `@id("<Agentfile>:<line>")`.
 */

import { trimEnd } from "../../src/core.js";

/** Cedar actions of the agentrc schema and the entity type each one applies to. */
export const ACTION_RESOURCE: Readonly<Record<string, string>> = {
  "tool.invoke": "Tool",
  "function.invoke": "Function",
  "skill.invoke": "Skill",
  "cred.resolve": "Credential",
  "network.egress": "Host",
  "filesystem.read": "Path",
  "filesystem.write": "Path",
  "agent.delegate": "Agent",
};

/** Shorthand action words. */
export const ACTION_WORDS: Readonly<Record<string, string>> = {
  invoke: "tool.invoke",
  call: "function.invoke",
  use: "skill.invoke",
  resolve: "cred.resolve",
  egress: "network.egress",
  read: "filesystem.read",
  write: "filesystem.write",
};

/** A Cedar string literal: `"` and `\` escaped, control characters as `\u{…}`. */
export function cedarString(value: string): string {
  const body = value
    .replace(/[\\"]/g, (c) => `\\${c}`)
    .replace(/[\u0000-\u001f\u007f]/g, (c) => `\\u{${c.charCodeAt(0).toString(16)}}`);
  return `"${body}"`;
}

export const entity = (type: string, id: string): string => `AgentRC::${type}::${cedarString(id)}`;

export type ShorthandResult =
  | { ok: true; text: string }
  | { ok: false; pointer: "/action" | "/resource" | "/url"; message: string };

/** Normalises a host written in a shorthand: a bare host, `host:port`, or a URL (its host is taken). */
export function hostOf(written: string): string | undefined {
  const candidate = written.includes("://") ? written : `http://${written}`;
  let url: URL;
  try {
    url = new URL(candidate);
  } catch {
    return undefined;
  }
  if (!written.includes("://") && url.host !== written.toLowerCase()) return undefined;
  return url.host || undefined;
}

/** Compiles `ALLOW|DENY <action> <resource>` into one Cedar policy with `@id(id)`. */
export function compileRule(
  effect: "permit" | "forbid",
  actionWritten: string,
  resourceWritten: string,
  agent: string,
  id: string,
): ShorthandResult {
  const action = ACTION_WORDS[actionWritten] ?? actionWritten;
  const type = ACTION_RESOURCE[action];
  if (!type) {
    return {
      ok: false,
      pointer: "/action",
      message: `unknown action "${actionWritten}"; use ${Object.keys(ACTION_WORDS).join(", ")} or one of ${Object.keys(ACTION_RESOURCE).join(", ")}`,
    };
  }
  let resource: string;
  if (resourceWritten === "*") {
    resource = `resource is AgentRC::${type}`;
  } else if (resourceWritten.includes("*")) {
    return {
      ok: false,
      pointer: "/resource",
      message: `"${resourceWritten}": Cedar entity ids are exact; only a lone * (every ${type}) is supported`,
    };
  } else if (type === "Host") {
    const host = hostOf(resourceWritten);
    if (!host) {
      return {
        ok: false,
        pointer: "/resource",
        message: `"${resourceWritten}" is not a host name, host:port or URL`,
      };
    }
    resource = `resource == ${entity(type, host)}`;
  } else if (type === "Path") {
    if (!resourceWritten.startsWith("/")) {
      return {
        ok: false,
        pointer: "/resource",
        message: `"${resourceWritten}" is not an absolute sandbox path (it must start with /)`,
      };
    }
    const path = trimEnd(resourceWritten, "/") || "/";
    resource = `resource in ${entity(type, path)}`;
  } else if (type === "Tool" && !/^[^:]+:.+$/.test(resourceWritten)) {
    return {
      ok: false,
      pointer: "/resource",
      message: `"${resourceWritten}" is not a tool reference <ns>:<name> as declared with TOOL (for example utcp:file_read)`,
    };
  } else {
    resource = `resource == ${entity(type, resourceWritten)}`;
  }
  return { ok: true, text: policyText(effect, agent, action, resource, id) };
}

/** Compiles `URL <url>` into a permit of network.egress on the URL's host. */
export function compileUrl(url: string, agent: string, id: string): ShorthandResult {
  let host: string;
  try {
    host = new URL(url).host;
  } catch {
    host = "";
  }
  if (!host) return { ok: false, pointer: "/url", message: `cannot take a host from "${url}"` };
  return {
    ok: true,
    text: policyText("permit", agent, "network.egress", `resource == ${entity("Host", host)}`, id),
  };
}

function policyText(effect: string, agent: string, action: string, resource: string, id: string): string {
  return [
    `@id(${cedarString(id)})`,
    `${effect} (`,
    `  principal == ${entity("Agent", agent)},`,
    `  action == ${entity("Action", action)},`,
    `  ${resource}`,
    ");",
  ].join("\n");
}
