import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  type AgentrcPlugin,
  agentrcVersion,
  type Compilation,
  type CompiledPolicy,
  type Compiler,
  type Diagnostic,
  type DirectiveNode,
  diagnostic,
  type PolicyOrigin,
  ResultCache,
  resolveContextPath,
  type SourceLocation,
} from "../../src/core.js";
import {
  agentrcCedarSchema,
  cedarVersion,
  compilePolicySources,
  decideToolInvoke,
  type PolicyCompileResult,
  type PolicySource,
} from "./cedar.js";
import type { EntityNames } from "./entityNames.js";
import { tapPolicyPackaging } from "./package.js";
import { compileRule, compileUrl } from "./shorthand.js";

export {
  agentrcCedarSchema,
  compilePolicySources,
  decideToolInvoke,
  loadCedar,
  type PolicyCompileOptions,
  type PolicyCompileResult,
  type PolicySource,
  policyHash,
} from "./cedar.js";
export { type EntityNames, resolveEntityId } from "./entityNames.js";
export {
  type CedarSchemaSummary,
  cedarSchemaSummary,
  type DecidingPolicy,
  type DeclaredNames,
  evaluatePolicy,
  type PackedPolicy,
  type PolicyDecision,
  type PolicyRequest,
  packedPolicies,
  resolveAction,
  resolveResource,
} from "./review.js";
export { ACTION_RESOURCE, ACTION_WORDS, cedarString, compileRule, compileUrl } from "./shorthand.js";

const NAME = "policy";
/** Directory of policy files; only `*.cedar` directly inside it are read. */
export const POLICY_DIR = "policy";

/**
 * The Cedar policy compiler. During `resolve` it merges, in this order, the policy inherited FROM the base package, the Agentfile's POLICY blocks (source
 * order), `policy/*.cedar` (sorted by path bytes) and the ALLOW / DENY / URL shorthands (source order); checks and
 * validates each against `schemas/agentrc.cedarschema` with the real Cedar engine; formats and hashes the result
 * into `compilation.policy`; and warns (TOOL_NOT_PERMITTED) about every TOOL that Cedar does not let the agent
 * invoke. It owns what the policy adds to the package: the lock's `policy_hash`, the policy layer, the config's
 * `policyHash` and the `io.agentrc.policy.hash` annotation (package.ts). See docs/policy.md.
 */
export class PolicyPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      compilation.hooks.resolve.tapPromise(NAME, () => compilePolicy(compilation));
      tapPolicyPackaging(compilation, NAME);
    });
  }
}

/** Bump when this plugin's checks change meaning, so that verdicts cached by an older version are not reused. */
const VERDICT_VERSION = 2; // 2: results carry policy origins

/** What Cedar concluded about a policy set and the TOOLs: a pure function of the inputs in `verdictInputs`. */
interface Verdict {
  result: PolicyCompileResult;
  /** TOOL_NOT_PERMITTED findings (without the plugin name); empty when the policy did not compile. */
  tools: Diagnostic[];
}

const isVerdict = (v: unknown): v is Verdict =>
  typeof v === "object" &&
  v !== null &&
  Array.isArray((v as Verdict).tools) &&
  Array.isArray((v as Verdict).result?.diagnostics) &&
  Array.isArray((v as Verdict).result?.counts);

async function compilePolicy(compilation: Compilation): Promise<void> {
  const report = (d: ReturnType<typeof diagnostic>) => compilation.report({ ...d, plugin: NAME });
  const files = await policyFiles(compilation, report);
  const shorthands = shorthandSources(compilation, report);
  const sources = [
    ...inheritedSources(compilation),
    ...inlineSources(compilation),
    ...files.sources,
    ...shorthands.sources,
  ];
  const tools = compilation
    .directives<{ ref?: unknown; namespace?: unknown; name?: unknown }>("TOOL")
    .flatMap((node) => {
      const { ref, namespace, name } = node.args;
      if (typeof ref !== "string" || typeof namespace !== "string" || typeof name !== "string") return [];
      return [{ ref, location: compilation.locate(node) }];
    });
  const entityNames = declaredEntities(compilation);
  // Cedar is the costly part of a rebuild (loading the engine, validating, one decision per TOOL): unchanged
  // inputs reuse the verdict of the run that computed it, and the engine is not even loaded.
  const verdicts = new ResultCache(compilation.options.cacheDir, "policy-verdicts", isVerdict);
  const inputs = {
    version: VERDICT_VERSION,
    agentrc: agentrcVersion(),
    cedar: cedarVersion(),
    schema: agentrcCedarSchema(),
    agent: compilation.spec.agent,
    sources,
    entityNames,
    tools,
  };
  const { value: verdict } = await verdicts.getOrCompute(inputs, () =>
    judge(sources, entityNames, compilation.spec.agent, tools),
  );
  const { result } = verdict;
  for (const d of result.diagnostics) report(d);
  // Fail closed: any problem leaves `compilation.policy` unset (and the TOOL check is pointless).
  if (!files.ok || !shorthands.ok || result.text === undefined || result.hash === undefined) return;
  compilation.policy = {
    text: result.text,
    hash: result.hash,
    origins: inheritedOrigins(result.origins, compilation),
    ratelimits: rateLimits(compilation),
  };
  for (const d of verdict.tools) report(d);
}

async function judge(
  sources: PolicySource[],
  entityNames: EntityNames,
  agent: string | null,
  tools: Array<{ ref: string; location: SourceLocation }>,
): Promise<Verdict> {
  const result = await compilePolicySources(sources, { entityNames });
  const found: Diagnostic[] = [];
  if (result.text === undefined || agent === null) return { result, tools: found };
  for (const { ref, location } of tools) {
    const decision = await decideToolInvoke(result.text, result.counts, agent, ref);
    if (decision.allowed) continue;
    const by = decision.determining.map((i) => sources[i]!.describe);
    found.push(
      diagnostic(
        "TOOL_NOT_PERMITTED",
        by.length > 0
          ? `TOOL ${ref} is forbidden by ${by.join(" and ")}; deny wins over any permit`
          : `TOOL ${ref} is not permitted: no policy permits AgentRC::Action::"tool.invoke" on AgentRC::Tool::"${ref}" (asked with an empty context)`,
        location,
        by.length > 0 ? { hint: "Remove the forbid (or narrow it), or remove the TOOL." } : {},
      ),
    );
  }
  return { result, tools: found };
}

/** The TOOL and FUNCTION references the agent declares, to which short Cedar ids resolve. */
function declaredEntities(compilation: Compilation): EntityNames {
  const refs = (directive: string) =>
    compilation
      .directives<{ ref?: unknown }>(directive)
      .flatMap((n) => (typeof n.args.ref === "string" ? [n.args.ref] : []));
  return { tools: refs("TOOL"), functions: refs("FUNCTION") };
}

/**
 * The FROM base's compiled policy, first: the agent's own policies are merged after it, so a child adds permits and
 * forbids but never removes one of the base's (Cedar: forbid wins over any permit, whatever the order).
 */
function inheritedSources(compilation: Compilation): PolicySource[] {
  const base = compilation.base;
  if (!base?.policy || base.policy.trim() === "") return [];
  const [from] = compilation.directives("FROM");
  const file = `FROM ${base.origin}`;
  return [
    {
      kind: "file" as const,
      text: base.policy,
      file,
      firstLine: 1,
      anchor: from ? compilation.locate(from, "/ref") : { file: compilation.spec.file, line: 1, column: 1 },
      label: `inherited from ${base.origin}`,
      describe: `the policy inherited from ${base.origin}`,
    },
  ];
}

/**
 * The origins of the inherited policies as the base recorded them, so an item keeps the base that wrote it along
 * a chain (`FROM <org>@<digest>` line 12 of the org base's Agentfile, not the team base that passed it on).
 */
function inheritedOrigins(origins: PolicyOrigin[], compilation: Compilation): PolicyOrigin[] {
  const base = compilation.base;
  if (!base) return origins;
  const recorded = base.config.policyOrigins ?? [];
  const file = `FROM ${base.origin}`;
  let i = 0;
  return origins.map((o) => {
    if (o.file !== file) return o;
    const at = recorded[i++];
    if (!at) return o;
    return at.file.startsWith("FROM ") ? at : { file, line: at.line };
  });
}

function inlineSources(compilation: Compilation): PolicySource[] {
  const file = compilation.spec.file;
  return compilation.directives<{ text?: unknown }>("POLICY").flatMap((node) => {
    if (typeof node.args.text !== "string") return [];
    return [
      {
        kind: "inline" as const,
        text: node.args.text,
        file,
        firstLine: node.loc.line + 1,
        anchor: compilation.locate(node),
        label: `${file}:${node.loc.line} POLICY block`,
        describe: `the POLICY block at line ${node.loc.line}`,
      },
    ];
  });
}

interface Collected {
  sources: PolicySource[];
  /** False when a problem was reported. */
  ok: boolean;
}

/** Reads `policy/*.cedar` (no dotfiles, no subdirectories), sorted by path bytes. */
async function policyFiles(
  compilation: Compilation,
  report: (d: ReturnType<typeof diagnostic>) => void,
): Promise<Collected> {
  let names: string[];
  try {
    names = (await readdir(join(compilation.context, POLICY_DIR))).filter(
      (n) => n.endsWith(".cedar") && !n.startsWith("."),
    );
  } catch {
    return { sources: [], ok: true };
  }
  const paths = names
    .map((n) => `${POLICY_DIR}/${n}`)
    .sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
  const out: PolicySource[] = [];
  let ok = true;
  for (const path of paths) {
    const at = { file: path, line: 1, column: 1 };
    const r = await resolveContextPath(compilation.context, path);
    if (!r.ok) {
      ok = false;
      report(
        diagnostic(r.reason === "missing" ? "FILE_NOT_FOUND" : "PATH_ESCAPE", `${path}: ${r.detail}`, at),
      );
      continue;
    }
    if (!(await stat(r.absolute)).isFile()) continue;
    let text: string;
    try {
      text = new TextDecoder("utf-8", { fatal: true }).decode(await readFile(r.absolute));
    } catch {
      ok = false;
      report(diagnostic("POLICY_SYNTAX", `${path} is not UTF-8 text`, at));
      continue;
    }
    if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
    out.push({ kind: "file", text, file: path, firstLine: 1, anchor: at, label: path, describe: path });
  }
  return { sources: out, ok };
}

type RuleArgs = { action?: unknown; resource?: unknown; url?: unknown };
/** The argument patterns of schemas/agentfile.schema.json (RULE action, URL url). */
const RULE_ACTION = /^(invoke|call|egress|resolve|read|write|use|[a-z]+\.[a-z]+)$/;
const URL_PATTERN = /^(https?|wss?):\/\/[^/]/;

/** ALLOW, DENY and URL in source order, compiled to Cedar (none without an AGENT id to use as principal). */
function shorthandSources(
  compilation: Compilation,
  report: (d: ReturnType<typeof diagnostic>) => void,
): Collected {
  const { agent, file } = compilation.spec;
  if (agent === null) return { sources: [], ok: true };
  const out: PolicySource[] = [];
  // A rule written twice (also through another spelling: `tool.invoke`, a host's case, a URL's path) compiles to
  // the same policy; only its first line's is kept.
  const compiledRules = new Set<string>();
  let ok = true;
  for (const node of compilation.spec.directives as DirectiveNode<RuleArgs>[]) {
    const id = `${file}:${node.loc.line}`;
    const { action, resource, url } = node.args;
    let compiled: ReturnType<typeof compileRule>;
    let describe: string;
    // Arguments that the Agentfile schema rejects were reported as INVALID_ARGUMENTS already: skip them here.
    if ((node.directive === "ALLOW" || node.directive === "DENY") && typeof action === "string") {
      if (!RULE_ACTION.test(action) || typeof resource !== "string" || resource === "") continue;
      compiled = compileRule(node.directive === "ALLOW" ? "permit" : "forbid", action, resource, agent, id);
      describe = `${node.directive} ${action} ${resource} at line ${node.loc.line}`;
    } else if (node.directive === "URL" && typeof url === "string" && URL_PATTERN.test(url)) {
      compiled = compileUrl(url, agent, id);
      describe = `URL ${url} at line ${node.loc.line}`;
    } else {
      continue;
    }
    if (!compiled.ok) {
      ok = false;
      report(
        diagnostic(
          "POLICY_INVALID",
          `${node.directive}: ${compiled.message}`,
          compilation.locate(node as DirectiveNode, compiled.pointer),
        ),
      );
      continue;
    }
    const rule = compiled.text.slice(compiled.text.indexOf("\n") + 1); // without its @id line
    if (compiledRules.has(rule)) continue;
    compiledRules.add(rule);
    out.push({
      kind: "shorthand",
      text: compiled.text,
      file,
      anchor: compilation.locate(node as DirectiveNode),
      describe,
      ...(out.length === 0
        ? { label: `${file} shorthands (ALLOW, DENY, URL), each @id naming its line` }
        : {}),
    });
  }
  return { sources: out, ok };
}

function rateLimits(compilation: Compilation): NonNullable<CompiledPolicy["ratelimits"]> {
  return compilation
    .directives<{ tool?: unknown; count?: unknown; unit?: unknown }>("RATELIMIT")
    .flatMap(({ args: { tool, count, unit } }) =>
      typeof tool === "string" && typeof count === "number" && typeof unit === "string"
        ? [{ tool, count, unit }]
        : [],
    );
}
