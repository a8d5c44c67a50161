import { diagnostic } from "../diagnostics/create.js";
import type { Diagnostic } from "../diagnostics/types.js";
import { didYouMean } from "../util/didYouMean.js";
import { pushAll } from "../util/pushAll.js";
import { AGENTFILE_VERSION } from "./directives.js";
import { lex } from "./lexer.js";
import { positional } from "./positional.js";
import { DirectiveRegistry } from "./registry.js";
import type { AgentSpec, DirectiveNode } from "./types.js";
import { stripUrlCredentials } from "./urlCredentials.js";
import { validateSpec } from "./validateSpec.js";

export interface ParseOptions {
  /** Agentfile path relative to the build context, used in locations. Default "Agentfile". */
  file?: string;
  registry?: DirectiveRegistry;
}

export interface ParseResult {
  spec: AgentSpec;
  diagnostics: Diagnostic[];
}

/**
 * Parses Agentfile text into the agent spec and validates it against schemas/agentfile.schema.json (and plugin
 * directive schemas). Reports every problem, never throws on bad input. A leading BOM is ignored.
 */
export function parseAgentfile(text: string, options: ParseOptions = {}): ParseResult {
  const file = options.file ?? "Agentfile";
  const registry = options.registry ?? new DirectiveRegistry();
  const source = text.charCodeAt(0) === 0xfeff ? text.slice(1) : text;
  const { statements, diagnostics } = lex(source, file, registry.isBlock);
  const directives: DirectiveNode[] = [];
  const seen = new Map<string, DirectiveNode>();
  const incomplete = new Set<DirectiveNode>();
  for (const written of statements) {
    const st = stripUrlCredentials(written, file, diagnostics);
    const name = st.name.value;
    const loc = { file, line: st.name.line, column: st.name.column };
    if (name === "END") {
      diagnostics.push(diagnostic("UNEXPECTED_END", "END without an open POLICY or SOP block", loc));
      continue;
    }
    if (!/^[A-Za-z][A-Za-z0-9_]*$/.test(name)) {
      diagnostics.push(diagnostic("INVALID_LINE", `expected a directive, found "${truncate(name)}"`, loc));
      continue;
    }
    let def = registry.get(name);
    if (!def) {
      const upper = registry.get(name.toUpperCase());
      if (upper) {
        diagnostics.push(
          diagnostic(
            "DIRECTIVE_CASE",
            `directive "${name}" must be written in upper case: ${upper.name}`,
            loc,
            {
              hint: `Write ${upper.name}.`,
            },
          ),
        );
        def = upper;
      } else {
        const guess = didYouMean(name, registry.names());
        diagnostics.push(
          diagnostic(
            "UNKNOWN_DIRECTIVE",
            `unknown directive "${truncate(name)}"${guess ? `; did you mean ${guess}?` : ""}`,
            loc,
            guess ? { hint: `Did you mean ${guess}?` } : {},
          ),
        );
        continue;
      }
    }
    const input = {
      name: st.name,
      args: st.args,
      rest: st.rest,
      file,
      ...(st.body === undefined ? {} : { body: st.body }),
    };
    const parsed = def.parse ? def.parse(input) : positional(input, def.params ?? [], def.rest);
    const node: DirectiveNode = {
      directive: def.name,
      args: parsed.args,
      loc: { line: st.name.line, column: st.name.column, endLine: st.endLine },
      argLocs: parsed.argLocs,
    };
    if (def.plugin) node.plugin = def.plugin;
    if (parsed.diagnostics) pushAll(diagnostics, parsed.diagnostics);
    if (parsed.incomplete) incomplete.add(node);
    if (def.once) {
      const first = seen.get(def.name);
      if (first) {
        diagnostics.push(
          diagnostic(
            "DUPLICATE_DIRECTIVE",
            `${def.name} may appear once; first declared at line ${first.loc.line}`,
            loc,
            { hint: `Remove this ${def.name} or the one at line ${first.loc.line}.` },
          ),
        );
        continue;
      }
      seen.set(def.name, node);
    }
    if (def.runHint) {
      diagnostics.push(
        diagnostic(
          "RUN_HINT_DIRECTIVE",
          `${def.name} is a runner placement hint: recorded beside the package, not in its digest`,
          loc,
        ),
      );
    }
    directives.push(node);
  }
  const agentNode = seen.get("AGENT");
  const agent = typeof agentNode?.args.id === "string" ? agentNode.args.id : null;
  if (!agentNode) {
    diagnostics.push(
      diagnostic("AGENT_MISSING", "the Agentfile declares no AGENT", { file, line: 1, column: 1 }),
    );
  }
  const spec: AgentSpec = { agentfileVersion: AGENTFILE_VERSION, file, agent, directives };
  pushAll(diagnostics, validateSpec(spec, registry, incomplete));
  return { spec, diagnostics };
}

function truncate(s: string): string {
  return s.length > 40 ? `${s.slice(0, 40)}…` : s;
}
