import { readdir, readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import {
  type AgentrcPlugin,
  type Compilation,
  type CompiledPolicy,
  type Compiler,
  type DirectiveNode,
  diagnostic,
  resolveContextPath,
} from "../../src/core.js";
import { compilePolicySources, decideToolInvoke, type PolicySource } from "./cedar.js";
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
export { ACTION_RESOURCE, ACTION_WORDS, cedarString, compileRule, compileUrl } from "./shorthand.js";

const NAME = "policy";
/** Directory of policy files; only `*.cedar` directly inside it are read. */
export const POLICY_DIR = "policy";

/**
 * The Cedar policy compiler. During `resolve` it merges, in this order, the Agentfile's POLICY blocks (source
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

async function compilePolicy(compilation: Compilation): Promise<void> {
  const report = (d: ReturnType<typeof diagnostic>) => compilation.report({ ...d, plugin: NAME });
  const files = await policyFiles(compilation, report);
  const shorthands = shorthandSources(compilation, report);
  const sources = [...inlineSources(compilation), ...files.sources, ...shorthands.sources];
  const result = await compilePolicySources(sources, { entityNames: declaredEntities(compilation) });
  for (const d of result.diagnostics) report(d);
  // Fail closed: any problem leaves `compilation.policy` unset (and the TOOL check is pointless).
  if (!files.ok || !shorthands.ok || result.text === undefined || result.hash === undefined) return;
  const policy: CompiledPolicy = {
    text: result.text,
    hash: result.hash,
    ratelimits: rateLimits(compilation),
  };
  compilation.policy = policy;

  const agent = compilation.spec.agent;
  if (agent === null) return;
  for (const tool of compilation.directives<{ ref?: unknown; namespace?: unknown; name?: unknown }>("TOOL")) {
    const { ref, namespace, name } = tool.args;
    if (typeof ref !== "string" || typeof namespace !== "string" || typeof name !== "string") continue;
    const decision = await decideToolInvoke(policy.text, result.counts, agent, ref);
    if (decision.allowed) continue;
    const by = decision.determining.map((i) => sources[i]!.describe);
    report(
      diagnostic(
        "TOOL_NOT_PERMITTED",
        by.length > 0
          ? `TOOL ${ref} is forbidden by ${by.join(" and ")}; deny wins over any permit`
          : `TOOL ${ref} is not permitted: no policy permits AgentRC::Action::"tool.invoke" on AgentRC::Tool::"${ref}" (asked with an empty context)`,
        compilation.locate(tool),
        by.length > 0 ? { hint: "Remove the forbid (or narrow it), or remove the TOOL." } : {},
      ),
    );
  }
}

/** The TOOL and FUNCTION references the agent declares, to which short Cedar ids resolve. */
function declaredEntities(compilation: Compilation): EntityNames {
  const refs = (directive: string) =>
    compilation
      .directives<{ ref?: unknown }>(directive)
      .flatMap((n) => (typeof n.args.ref === "string" ? [n.args.ref] : []));
  return { tools: refs("TOOL"), functions: refs("FUNCTION") };
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
