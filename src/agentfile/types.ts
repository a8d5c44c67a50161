import type { Diagnostic } from "../diagnostics/types.js";
import type { Token } from "./lexer.js";

/** Position of a node or argument in the Agentfile (1-based). */
export interface Position {
  line: number;
  column: number;
}

/** One directive of the agent spec, in source order. */
export interface DirectiveNode<Args = Record<string, unknown>> {
  directive: string;
  args: Args;
  /** Where the directive name starts; `endLine` is the last line it spans (END for blocks). */
  loc: Position & { endLine: number };
  /** Position of each argument, keyed by JSON pointer into `args` (`/path`, `/globs/1`). */
  argLocs: Record<string, Position>;
  /** Name of the plugin that registered the directive; absent for built-ins. */
  plugin?: string;
}

/** The parser's output: a canonical, schema-validated description of the agent. Plugins read this, never text. */
export interface AgentSpec {
  /** Agentfile dialect implemented by this parser. */
  agentfileVersion: string;
  /** Path of the Agentfile relative to the build context. */
  file: string;
  /** The AGENT id, or null when missing (an error is reported). */
  agent: string | null;
  directives: DirectiveNode[];
}

/** What a directive's argument parser receives. */
export interface DirectiveInput {
  name: Token;
  args: Token[];
  /** Argument text after the directive name, comments removed. */
  rest: string;
  /** Verbatim block body for block directives. */
  body?: string;
  file: string;
}

export interface ParsedArgs {
  args: Record<string, unknown>;
  argLocs: Record<string, Position>;
  diagnostics?: Diagnostic[];
  /** The parser reported why it could not build `args`; schema validation of this directive is skipped. */
  incomplete?: boolean;
}

/** How a directive is read. Built-ins and plugin directives use the same shape. */
export interface DirectiveDefinition {
  name: string;
  /** One line for docs and `--help`. */
  summary: string;
  /** Positional parameters mapped to `args` properties when no custom `parse` is given. */
  params?: readonly string[];
  /** Name of an array property collecting the remaining arguments. */
  rest?: string;
  /** At most one occurrence. */
  once?: boolean;
  /** Opens a block closed by END; its body is passed verbatim. */
  block?: boolean;
  /** A runner placement hint: accepted, kept out of the package digest, warned about. */
  runHint?: boolean;
  /** JSON Schema for `args`. Built-ins keep theirs in schemas/agentfile.schema.json. */
  schema?: object;
  /** Custom argument parser; default maps `params`/`rest`. */
  parse?: (input: DirectiveInput) => ParsedArgs;
  /** Registering plugin, filled by the registry. */
  plugin?: string;
}
