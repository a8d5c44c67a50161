import type { PolicyOrigin } from "../../compiler/payloads.js";
import { evalPolicy, showPolicy } from "../../review.js";
import { printable } from "../../util/terminal.js";
import type { Command } from "../context.js";
import { PACKAGE_OPTIONS, PACKAGE_USAGE, packageOptions } from "../packageFlags.js";

const origin = (o: PolicyOrigin | undefined): string => (o ? `${o.file}:${o.line}` : "(origin not recorded)");

export const policyShowCommand: Command = {
  name: "policy show",
  summary:
    "Print a package's compiled Cedar as packed, each policy with the line it came from, the schema and the hash.",
  usage: `agentrc policy show <package> ${PACKAGE_USAGE} [--json]`,
  options: PACKAGE_OPTIONS,
  async run(ctx) {
    if (ctx.positionals.length !== 1) return ctx.usage("expected one package");
    const shown = await showPolicy(ctx.positionals[0]!, packageOptions(ctx));
    if (ctx.json) {
      ctx.out(JSON.stringify({ version: 1, ok: true, ...shown }, null, 2));
      return 0;
    }
    const say = (line: string) => ctx.out(printable(line));
    say(`policy of ${shown.ref} (agent ${shown.agent}, ${shown.digest})`);
    say(
      `  hash      ${shown.hash} ${shown.hashMatches ? "(the hash the package records)" : `(the package records ${shown.recordedHash ?? "none"})`}`,
    );
    say(`  policies  ${shown.policies.length}`);
    for (const p of shown.policies) {
      say(
        `    ${p.id.padEnd(9)} ${p.effect.padEnd(6)} ${origin(p.origin)}${p.annotationId ? `  @id("${p.annotationId}")` : ""}`,
      );
    }
    say("");
    // The packed text exactly, with each policy's origin in a gutter beside its first line.
    const gutter = new Map(shown.policies.map((p) => [p.lines.start, `${p.id} ${origin(p.origin)}`]));
    const width = Math.max(0, ...[...gutter.values()].map((g) => g.length));
    const lines = shown.text === "" ? [] : shown.text.replace(/\n$/, "").split("\n");
    if (lines.length === 0) say("  (empty policy set: Cedar denies every request)");
    for (const [i, line] of lines.entries()) say(`${(gutter.get(i + 1) ?? "").padEnd(width)} │ ${line}`);
    say("");
    say(`schema ${shown.schema.namespace}`);
    say(
      `  entities  ${shown.schema.entityTypes.map((e) => (e.memberOf.length ? `${e.name} in [${e.memberOf.join(", ")}]` : e.name)).join(", ")}`,
    );
    say("  actions");
    for (const a of shown.schema.actions) {
      const context = a.context.map((c) => `${c.name}${c.required ? "" : "?"}: ${c.type}`).join(", ");
      say(
        `    ${a.name.padEnd(17)} ${a.principals.join("|")} → ${a.resources.join("|")}  context {${context}}`,
      );
    }
    return 0;
  },
};

export const policyEvalCommand: Command = {
  name: "policy eval",
  summary:
    "Ask the real Cedar engine one question about a package's policy: allow (exit 0) or deny (exit 1), and why.",
  usage: `agentrc policy eval <package> --action <a> --resource <r> [--principal <agent>] [--context <json>] ${PACKAGE_USAGE} [--json]`,
  options: {
    action: {
      type: "string",
      value: "<a>",
      description:
        "action: tool.invoke, network.egress, … or a shorthand word (invoke, egress, read, write, …)",
    },
    resource: {
      type: "string",
      value: "<r>",
      description:
        'resource: AgentRC::Tool::"utcp:x", or as the Agentfile writes it (a tool\'s short name, host, URL, path)',
    },
    principal: {
      type: "string",
      value: "<agent>",
      description: "agent id asking (default the package's AGENT)",
    },
    context: {
      type: "string",
      value: "<json>",
      description: 'request context as a JSON object ({"path":"/workspace/a"})',
    },
    ...PACKAGE_OPTIONS,
  },
  async run(ctx) {
    if (ctx.positionals.length !== 1) return ctx.usage("expected one package");
    const { action, resource, principal } = ctx.values;
    if (typeof action !== "string") return ctx.usage("--action is required");
    if (typeof resource !== "string") return ctx.usage("--resource is required");
    let context: Record<string, unknown> | undefined;
    if (typeof ctx.values.context === "string") {
      let parsed: unknown;
      try {
        parsed = JSON.parse(ctx.values.context);
      } catch (e) {
        return ctx.usage(`--context is not JSON: ${(e as Error).message}`);
      }
      if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
        return ctx.usage("--context must be a JSON object of context attributes");
      }
      context = parsed as Record<string, unknown>;
    }
    const result = await evalPolicy(
      ctx.positionals[0]!,
      {
        action,
        resource,
        ...(typeof principal === "string" ? { principal } : {}),
        ...(context ? { context } : {}),
      },
      packageOptions(ctx),
    );
    const allowed = result.decision === "allow";
    if (ctx.json) {
      ctx.out(JSON.stringify({ version: 1, ok: allowed, ...result }, null, 2));
      return allowed ? 0 : 1;
    }
    const say = (line: string) => ctx.out(printable(line));
    const r = result.request;
    say(
      `${result.decision}  AgentRC::Agent::${JSON.stringify(r.principal)} ${r.action} AgentRC::${r.resource.type}::${JSON.stringify(r.resource.id)}`,
    );
    if (result.determining.length > 0) {
      say("  determined by");
      for (const p of result.determining) say(`    ${p.id} ${p.effect} ${origin(p.origin)}`);
    } else if (!allowed) {
      say("  no policy permits it (Cedar denies by default)");
    }
    if (result.errors.length > 0) {
      say("  evaluation errors (the policy is skipped)");
      for (const e of result.errors) {
        say(
          `    ${e.id} ${e.effect} ${origin(e.origin)}: ${e.message}${e.effect === "forbid" ? " — a skipped forbid does not deny" : ""}`,
        );
      }
    }
    return allowed ? 0 : 1;
  },
};
