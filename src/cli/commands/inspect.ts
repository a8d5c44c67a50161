import { resolve } from "node:path";
import { openPackage } from "../../api.js";
import { type InspectReport, inspectReport } from "../../package/inspectReport.js";
import { currentState, type PromotionEvent, readPromotionHistory } from "../../package/promote.js";
import { summarisePackage } from "../../package/read.js";
import { printable } from "../../util/terminal.js";
import { type Command, storePath } from "../context.js";
import { PACKAGE_SOURCE_OPTIONS } from "../packageFlags.js";
import { formatBytes } from "../progress.js";
import { REGISTRY_OPTIONS, REGISTRY_USAGE, registryOptions } from "../registryFlags.js";

export const inspectCommand: Command = {
  name: "inspect",
  summary:
    "Review a package before running it: identity, what it may do, policy, risk tier and why, base, run hints (reads manifest, config and policy only).",
  usage: `agentrc inspect <ref | dir | oci:<dir>[:<tag>] | oci-archive:<file>[:<tag>]> [--remote] [--store <dir>] ${REGISTRY_USAGE} [--json]`,
  options: {
    ...PACKAGE_SOURCE_OPTIONS,
    ...REGISTRY_OPTIONS,
  },
  async run(ctx) {
    const [target, ...extra] = ctx.positionals;
    if (!target || extra.length > 0) {
      return ctx.usage("expected one package (reference, layout, archive or directory)");
    }
    const view = await openPackage(target, {
      ...registryOptions(ctx),
      store: storePath(ctx),
      cwd: ctx.io.cwd,
      ...(ctx.values.remote === true ? { remote: true } : {}),
      ...(typeof ctx.values.config === "string"
        ? { configFile: resolve(ctx.io.cwd, ctx.values.config) }
        : {}),
    });
    let report: InspectReport;
    let history: PromotionEvent[] | undefined;
    try {
      report = await inspectReport(view);
      // The lifecycle state (agentrc promote) is a referrer of the manifest: read where the package was found.
      history = view.layout
        ? await readPromotionHistory(view.descriptor.digest, { layout: view.layout })
        : view.reference
          ? await readPromotionHistory(view.descriptor.digest, {
              reference: view.reference,
              client: registryOptions(ctx),
            })
          : undefined;
    } finally {
      await view.close();
    }
    if (ctx.json) {
      ctx.out(
        JSON.stringify(
          {
            version: 1,
            ok: true,
            ref: view.ref,
            source: view.source,
            kind: view.kind,
            descriptor: view.descriptor,
            manifest: view.manifest,
            config: view.config,
            summary: summarisePackage(view),
            report,
            ...(history === undefined ? {} : { promotion: { state: currentState(history), history } }),
          },
          null,
          2,
        ),
      );
      return 0;
    }
    // Annotations, titles, hosts and names come from whoever built the package: never print them raw.
    for (const line of renderReport(report, view.manifest.layers, view.manifest.annotations))
      ctx.out(printable(line));
    if (history !== undefined) for (const line of renderLifecycle(history)) ctx.out(printable(line));
    return 0;
  },
};

/** The lifecycle state and how it got there (agentrc promote), oldest step first. */
export function renderLifecycle(history: readonly PromotionEvent[]): string[] {
  return [
    "",
    `Lifecycle: ${currentState(history)}${history.length === 0 ? " (never promoted)" : ""}`,
    ...history.map(
      (e) => `  ${String(e.sequence).padStart(2)}. ${e.from} → ${e.state}  ${e.at ?? "-"}  ${e.record}`,
    ),
  ];
}

/** The review-before-run report as lines: the facts a reviewer decides on first, the layer list last. */
export function renderReport(
  r: InspectReport,
  layers: ReadonlyArray<{ size: number; digest: string; annotations?: Record<string, string> }>,
  annotations: Record<string, string> = {},
): string[] {
  const row = (label: string, values: string[]) =>
    (values.length === 0 ? ["-"] : values).map((v, i) => `  ${(i === 0 ? label : "").padEnd(12)} ${v}`);
  const from = (origin: string | null) => (origin === null ? "" : `  (from ${origin})`);
  const id = r.identity;
  const lines = [
    `${id.name}  ${id.ref}${id.version ? `  version ${id.version}` : ""}`,
    ...row("digest", [id.digest]),
    ...row("from", [`${id.kind} ${id.source}`]),
    ...row("built by", [
      `${id.builder} (${id.formatVersion}, Agentfile ${id.agentfileVersion})${id.created ? `, created ${id.created}` : ""}`,
    ]),
    ...(id.sourceUrl || id.revision
      ? row("source", [`${id.sourceUrl ?? "-"} ${id.revision ?? ""}`.trim()])
      : []),
    ...row("base", r.base ? [`${r.base.ref ?? "-"}${r.base.digest ? `  ${r.base.digest}` : ""}`] : []),
    ...(r.base?.chain
      ? row(
          "base chain",
          r.base.chain.map((c) => `${c.ref}  ${c.digest}`),
        )
      : []),
    ...(r.base?.overridden
      ? row(
          "overrides",
          r.base.overridden.map(
            (o) => `${o.directive}${o.name ? ` ${o.name}` : ""} (replaces ${o.origin}'s)`,
          ),
        )
      : []),
    ...row("risk", [
      `${r.risk.tier ?? "missing"}${r.risk.tier !== r.risk.derived ? ` (declarations give ${r.risk.derived})` : ""}: ${r.risk.reasons.join("; ")}`,
    ]),
    "",
    "What it may do",
    ...row(
      "tools",
      r.tools.map(
        (t) =>
          `${t.ref}  ${t.risk} risk${t.path ? `  ${t.path}${t.digest ? ` ${t.digest}` : ""}` : ""}${from(t.origin)}`,
      ),
    ),
    ...row(
      "egress",
      r.egress.map((e) => `${e.host}  (${e.directive} ${e.value})${from(e.origin)}`),
    ),
    ...row(
      "credentials",
      r.credentials.map(
        (c) =>
          `${c.name} from ${c.source} → ${c.hosts.length > 0 ? c.hosts.join(", ") : "any host"}${c.inject ? ` (inject ${c.inject})` : ""}`,
      ),
    ),
    ...row(
      "mounts",
      r.mounts.map((m) => `${m.path} ${m.mode}`),
    ),
    ...row(
      "binds",
      r.binds.map((b) => `${b.source} → ${b.target} ${b.mode}`),
    ),
    ...row(
      "skills",
      r.skills.map(
        (s) =>
          `${s.name}  ${s.source === "oci" ? s.ref : `${s.source} ${s.ref}`}  ${s.digest ?? "(no layer)"}${from(s.origin)}`,
      ),
    ),
    ...row(
      "functions",
      r.functions.map(
        (f) =>
          `${f.path}${f.symbol ? `:${f.symbol}` : ""}${f.digest ? `  ${f.digest}` : ""}${from(f.origin)}`,
      ),
    ),
    ...row("command", r.command === null ? [] : [JSON.stringify(r.command)]),
    ...row("audit", r.audit === null ? [] : [r.audit]),
    "",
    r.policy
      ? `Policy ${r.policy.hash}: ${r.policy.statements.filter((s) => s.effect === "permit").length} permit, ${r.policy.statements.filter((s) => s.effect === "forbid").length} forbid`
      : "Policy: none (Cedar denies everything by default)",
    ...(r.policy?.statements ?? []).map(
      (s) =>
        `  ${s.effect.padEnd(6)} ${s.action || "any action"}  ${s.resource || "any resource"}${s.conditions ? "  (with conditions)" : ""}  [${s.principal || "any principal"}]${from(s.origin)}`,
    ),
    "",
    ...row(
      "signatures",
      r.signatures.length === 0
        ? ["none"]
        : r.signatures.map((sig) =>
            sig.status === "failed"
              ? `${sig.referrer}: invalid (${sig.message ?? "failed"})`
              : `key ${sig.keyId ?? "?"} (not verified: agentrc verify --key <public.pem>)`,
          ),
    ),
    ...row(
      "provenance",
      r.provenance === null
        ? ["none recorded"]
        : [
            `${r.provenance.predicateType}, builder ${r.provenance.builder ?? "?"}, ${r.provenance.signed ? "signed" : "unsigned"}`,
            ...(r.provenance.source
              ? [
                  `source ${r.provenance.source.uri}${r.provenance.source.commit ? `@${r.provenance.source.commit}` : ""}`,
                ]
              : []),
            ...r.provenance.dependencies.map(
              (d) => `depends on ${d.uri ?? d.name ?? "?"} ${d.digest}${d.role ? ` (${d.role})` : ""}`,
            ),
          ],
    ),
    ...row(
      "run hints",
      r.runHints.map((h) => `${h.directive} ${h.values.join(" ")}`),
    ),
    "",
    `Annotations (${Object.keys(annotations).length})`,
    ...Object.entries(annotations).map(([k, v]) => `  ${k}: ${v}`),
    "",
    `Layers (${layers.length})`,
    ...layers.map((l) => {
      const title = l.annotations?.["org.opencontainers.image.title"] ?? "";
      return `  ${title.padEnd(20)} ${formatBytes(l.size).padStart(10)}  ${l.digest}`;
    }),
  ];
  return lines;
}
