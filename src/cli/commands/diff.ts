import type { DiffResult } from "../../review.js";
import { diffPackages } from "../../review.js";
import { printable } from "../../util/terminal.js";
import type { Command } from "../context.js";
import { PACKAGE_OPTIONS, PACKAGE_USAGE, packageOptions } from "../packageFlags.js";
import { formatBytes } from "../progress.js";

export const diffCommand: Command = {
  name: "diff",
  summary:
    "Compare two packages semantically: directives, permission surface, policy effect (asked of Cedar), files, layers.",
  usage: `agentrc diff <a> <b> [--exit-code] ${PACKAGE_USAGE} [--json]`,
  options: {
    "exit-code": {
      type: "boolean",
      description: "exit 1 when the packages differ (like git diff --exit-code)",
    },
    ...PACKAGE_OPTIONS,
  },
  async run(ctx) {
    if (ctx.positionals.length !== 2) return ctx.usage("expected two packages <a> <b>");
    const [a, b] = ctx.positionals as [string, string];
    const diff = await diffPackages(a, b, packageOptions(ctx));
    const code = ctx.values["exit-code"] === true && diff.differ ? 1 : 0;
    if (ctx.json) {
      ctx.out(JSON.stringify({ version: 1, ok: true, ...diff }, null, 2));
      return code;
    }
    for (const line of renderDiff(diff)) ctx.out(printable(line));
    return code;
  },
};

const count = (added: number, removed: number, changed: number) =>
  [added ? `+${added}` : "", removed ? `-${removed}` : "", changed ? `~${changed}` : ""]
    .filter(Boolean)
    .join(" ") || "no change";
const json = (v: unknown) => JSON.stringify(v);
const where = (o: { file: string; line: number } | undefined) =>
  o ? `${o.file}:${o.line}` : "origin not recorded";

/** A `git diff --stat` style summary, then one section per kind of change. */
export function renderDiff(diff: DiffResult): string[] {
  const out: string[] = [`diff ${diff.a.ref} (${diff.a.digest})`, `  →  ${diff.b.ref} (${diff.b.digest})`];
  if (diff.identical) return [...out, "", "identical: same manifest digest"];
  const { directives: d, permissions: p, policy, files, layers } = diff;
  const surface = [p.egressHosts, p.credentialHosts, p.writableMounts, p.shellTools];
  const tier = p.riskTier;
  out.push(
    "",
    ` directives   ${count(d.added.length, d.removed.length, d.changed.length)}`,
    ` permissions  ${count(
      surface.reduce((n, s) => n + s.added.length, 0),
      surface.reduce((n, s) => n + s.removed.length, 0),
      0,
    )}, risk tier ${tier.before}${tier.change === "same" ? " (same)" : ` → ${tier.after} (${tier.change})`}`,
    ` policy       ${count(policy.added.length, policy.removed.length, policy.changed.length)} policies, ${policy.flips.length} of ${policy.requests} requests flip`,
    ` files        ${count(files.added.length, files.removed.length, files.changed.length)} (${files.unchanged} unchanged)`,
    ` layers       ${count(layers.added.length, layers.removed.length, layers.changed.length)} (${layers.unchanged} unchanged)`,
  );
  if (d.added.length + d.removed.length + d.changed.length > 0) {
    out.push("", "directives");
    const origin = (o: string | null | undefined) => (o ? `from ${o}` : "own");
    const originNote = (x: (typeof d.added)[number]) =>
      x.origin === undefined
        ? ""
        : `  (${[x.origin.before === undefined ? "" : origin(x.origin.before), x.origin.after === undefined ? "" : origin(x.origin.after)].filter((t) => t !== "").join(" → ")})`;
    for (const x of d.added) out.push(`  + ${x.directive} ${x.name}${originNote(x)}`);
    for (const x of d.removed) out.push(`  - ${x.directive} ${x.name}${originNote(x)}`);
    for (const x of d.changed)
      out.push(`  ~ ${x.directive} ${x.name}: ${json(x.before)} → ${json(x.after)}${originNote(x)}`);
  }
  const labels: Array<[string, { added: string[]; removed: string[] }]> = [
    ["egress host", p.egressHosts],
    ["credential host", p.credentialHosts],
    ["writable mount", p.writableMounts],
    ["shell-like tool", p.shellTools],
  ];
  if (surface.some((s) => s.added.length + s.removed.length > 0) || tier.change !== "same") {
    out.push("", "permissions");
    for (const [label, s] of labels) {
      for (const x of s.added) out.push(`  + ${label} ${x}`);
      for (const x of s.removed) out.push(`  - ${label} ${x}`);
    }
    if (tier.change !== "same") {
      out.push(`  risk tier ${tier.before} → ${tier.after} (${tier.change})`);
      // Up: what raised it now; down: what raised it before and is gone.
      if (tier.change === "up") for (const r of tier.reasons.after) out.push(`    ${r}`);
      else for (const r of tier.reasons.before) out.push(`    no longer: ${r}`);
    }
  }
  if (policy.hash.before !== policy.hash.after || policy.flips.length > 0) {
    out.push("", `policy  ${policy.hash.before ?? "none"} → ${policy.hash.after ?? "none"}`);
    for (const x of policy.added) out.push(`  + ${x.effect} ${x.id} ${where(x.origin)}`);
    for (const x of policy.removed) out.push(`  - ${x.effect} ${x.id} ${where(x.origin)}`);
    for (const x of policy.changed)
      out.push(`  ~ ${x.after.effect} @id("${x.key}") ${where(x.after.origin)}`);
    out.push(
      `  effect, asked of Cedar over ${policy.requests} requests:${policy.flips.length ? "" : " no decision changes"}`,
    );
    for (const f of policy.flips) {
      const by = f.determining.map((x) => `${x.id} ${x.effect} ${where(x.origin)}`).join(", ");
      out.push(
        `    ${f.action} AgentRC::${f.resource.type}::${json(f.resource.id)}  ${f.before} → ${f.after}${by ? `  (${by})` : ""}`,
      );
    }
  }
  if (files.added.length + files.removed.length + files.changed.length > 0) {
    out.push("", "files");
    for (const x of files.added) out.push(`  + ${x.path}  ${formatBytes(x.size)}`);
    for (const x of files.removed) out.push(`  - ${x.path}  ${formatBytes(x.size)}`);
    for (const x of files.changed)
      out.push(`  ~ ${x.path}  ${formatBytes(x.before)} → ${formatBytes(x.after)}`);
  }
  if (layers.added.length + layers.removed.length + layers.changed.length > 0) {
    out.push("", "layers");
    for (const x of layers.added) out.push(`  + ${x.title}  ${formatBytes(x.size)}`);
    for (const x of layers.removed) out.push(`  - ${x.title}  ${formatBytes(x.size)}`);
    for (const x of layers.changed)
      out.push(`  ~ ${x.title}  ${formatBytes(x.before)} → ${formatBytes(x.after)}`);
  }
  return out;
}
