import { diagnostic } from "../diagnostics/create.js";
import type { Diagnostic } from "../diagnostics/types.js";
import { at, positional } from "./positional.js";
import type { DirectiveDefinition, DirectiveInput, ParsedArgs, Position } from "./types.js";

/** The Agentfile dialect this parser implements (agentrc draft.4 plus INGEST, INCLUDE and OUTPUT). */
export const AGENTFILE_VERSION = "0.1.0-draft.4";

/** Credential sources that are references; anything else in CRED is treated as a literal secret. */
const CRED_SOURCE = /^(env:[A-Za-z_][A-Za-z0-9_]*|vault:\/\/[^\s#]+#[^\s#]+|keyring:[^\s]+)$/;

function parseCmd(input: DirectiveInput): ParsedArgs {
  const first = input.args[0];
  const argLocs: Record<string, Position> = first ? { "": at(first) } : {};
  const text = input.rest.trim();
  if (text.startsWith("[")) {
    try {
      const argv: unknown = JSON.parse(text);
      return { args: { form: "exec", argv }, argLocs };
    } catch (e) {
      return {
        args: { form: "exec" },
        argLocs,
        incomplete: true,
        diagnostics: [
          diagnostic(
            "INVALID_ARGUMENTS",
            `CMD exec form is not a valid JSON array: ${(e as Error).message}`,
            first && { file: input.file, ...at(first) },
            { hint: 'Write CMD ["program", "arg"] with double quotes, or use the shell form.' },
          ),
        ],
      };
    }
  }
  return { args: { form: "shell", command: text }, argLocs };
}

/** `TOOL <namespace>:<name> <path>`: the reference splits at its first colon. */
function parseTool(input: DirectiveInput): ParsedArgs {
  return splitRef(positional(input, ["ref", "path"]), (ref) => ref.indexOf(":"), "namespace", "name");
}

/** `FUNCTION <path>:<symbol>`: the reference splits at its last colon (a path may hold one). */
function parseFunction(input: DirectiveInput): ParsedArgs {
  return splitRef(positional(input, ["ref"]), (ref) => ref.lastIndexOf(":"), "path", "symbol");
}

/** Splits the `ref` argument at the colon `colonOf` finds into two arguments located where `ref` is. */
function splitRef(
  parsed: ParsedArgs,
  colonOf: (ref: string) => number,
  before: string,
  after: string,
): ParsedArgs {
  const ref = parsed.args.ref;
  if (typeof ref === "string") {
    const colon = colonOf(ref);
    if (colon > 0) {
      parsed.args[before] = ref.slice(0, colon);
      parsed.args[after] = ref.slice(colon + 1);
    }
    alias(parsed, "/ref", `/${before}`, `/${after}`);
  }
  return parsed;
}

function parseSkill(input: DirectiveInput): ParsedArgs {
  const parsed = positional(input, ["ref"]);
  const ref = parsed.args.ref;
  if (typeof ref === "string") {
    if (ref.startsWith("oci://")) parsed.args.source = "oci";
    else if (ref.includes("/") || ref.startsWith(".")) parsed.args.source = "path";
    else parsed.args.source = "name";
  }
  return parsed;
}

function parseShell(input: DirectiveInput): ParsedArgs {
  const parsed = positional(input, ["framework"]);
  const f = parsed.args.framework;
  if (typeof f === "string" && f.includes("@")) {
    const atSign = f.indexOf("@");
    parsed.args.framework = f.slice(0, atSign);
    parsed.args.version = f.slice(atSign + 1);
  }
  return parsed;
}

function parseCred(input: DirectiveInput): ParsedArgs {
  const [nameTok, sourceTok, ...options] = input.args;
  const args: Record<string, unknown> = {};
  const argLocs: Record<string, Position> = {};
  const diagnostics: Diagnostic[] = [];
  if (nameTok) {
    args.name = nameTok.value;
    argLocs["/name"] = at(nameTok);
  }
  if (sourceTok) {
    argLocs["/source"] = at(sourceTok);
    if (CRED_SOURCE.test(sourceTok.value)) {
      args.source = sourceTok.value;
    } else {
      // Never copy the value anywhere: it may be a real secret.
      args.source = "<redacted>";
      diagnostics.push(
        diagnostic(
          "CRED_LITERAL_SECRET",
          `CRED ${nameTok?.value ?? ""} has a literal value instead of a reference (the value is not shown)`,
          { file: input.file, ...at(sourceTok) },
        ),
      );
    }
  }
  const hosts: string[] = [];
  options.forEach((t) => {
    if (t.value.startsWith("host:")) {
      argLocs[`/hosts/${hosts.length}`] = at(t);
      hosts.push(t.value.slice(5));
    } else if (t.value.startsWith("inject:")) {
      args.inject = t.value.slice(7);
      argLocs["/inject"] = at(t);
    } else {
      diagnostics.push(
        diagnostic("INVALID_ARGUMENTS", `CRED option "${t.value}" is not host:<h> or inject:header|query`, {
          file: input.file,
          ...at(t),
        }),
      );
    }
  });
  args.hosts = hosts;
  return { args, argLocs, diagnostics };
}

function parseBind(input: DirectiveInput): ParsedArgs {
  const parsed = positional(input, ["source", "target", "mode"]);
  parsed.args.explicitMode = parsed.args.mode !== undefined;
  parsed.args.mode ??= "copy";
  return parsed;
}

function parseRateLimit(input: DirectiveInput): ParsedArgs {
  const parsed = positional(input, ["tool", "rate"]);
  const rate = parsed.args.rate;
  if (typeof rate === "string") {
    const m = /^(\d+)\/(s|sec|second|m|min|minute|h|hr|hour|d|day)$/.exec(rate);
    if (m) {
      const unit = {
        s: "second",
        sec: "second",
        m: "minute",
        min: "minute",
        h: "hour",
        hr: "hour",
        d: "day",
      }[m[2] as "s"];
      parsed.args.count = Number(m[1]);
      parsed.args.unit = unit ?? m[2];
    }
  }
  alias(parsed, "/rate", "/count", "/unit");
  return parsed;
}

function parseTimeout(input: DirectiveInput): ParsedArgs {
  const parsed = positional(input, ["duration"]);
  const d = parsed.args.duration;
  if (typeof d === "string") {
    const m = /^(\d+)(s|m|h)?$/.exec(d);
    if (m) parsed.args.seconds = Number(m[1]) * ({ s: 1, m: 60, h: 3600 }[m[2] ?? "s"] ?? 1);
  }
  alias(parsed, "/duration", "/seconds");
  return parsed;
}

function parseKeyValues(input: DirectiveInput, leading: readonly string[]): ParsedArgs {
  const parsed = positional({ ...input, args: input.args.slice(0, leading.length) }, leading);
  const values: Record<string, string> = {};
  const extra: string[] = [];
  input.args.slice(leading.length).forEach((t) => {
    const m = /^([A-Za-z_][\w.-]*)[=:](.*)$/.exec(t.value);
    if (m) {
      values[m[1]!] = m[2]!;
      parsed.argLocs[`/options/${m[1]}`] = at(t);
    } else {
      parsed.argLocs[`/values/${extra.length}`] = at(t);
      extra.push(t.value);
    }
  });
  parsed.args.options = values;
  parsed.args.values = extra;
  return parsed;
}

function parseBlock(input: DirectiveInput, params: readonly string[], what: string): ParsedArgs {
  const parsed = positional(input, params);
  parsed.args.text = input.body ?? "";
  if (parsed.diagnostics?.length) {
    parsed.diagnostics = parsed.diagnostics.map((d) => ({
      ...d,
      message: `${input.name.value} ${params.map((p) => `<${p}>`).join(" ")} opens ${what}; it takes no other arguments on its line`,
    }));
  }
  return parsed;
}

/** Derived arguments point at the token they came from. */
function alias(parsed: ParsedArgs, from: string, ...to: string[]): void {
  const loc = parsed.argLocs[from];
  if (loc) for (const t of to) parsed.argLocs[t] = loc;
}

const rest = (input: DirectiveInput): ParsedArgs => positional(input, [], "values");

/** Built-in directives, in the order of docs/agentfile.md's table. Argument schemas: schemas/agentfile.schema.json. */
export const BUILTIN_DIRECTIVES: readonly DirectiveDefinition[] = [
  { name: "AGENT", summary: "Agent id, a lowercase DNS label; required, once.", params: ["id"], once: true },
  { name: "FROM", summary: "Base agent package (OCI reference) or scratch.", params: ["ref"], once: true },
  {
    name: "SHELL",
    summary: "Framework or adapter hint, <framework>[@<version>].",
    once: true,
    parse: parseShell,
  },
  { name: "CMD", summary: "Entrypoint, JSON array or shell form.", once: true, parse: parseCmd },
  { name: "TOOL", summary: "A tool <ns>:<name>, optionally with a local path.", parse: parseTool },
  { name: "TOOLSET", summary: "A named group of tools, resolved at lock time.", params: ["ref"] },
  { name: "FUNCTION", summary: "A typed function <path>:<symbol>.", parse: parseFunction },
  { name: "SKILL", summary: "A skill bundle: a name, a path, or oci://<ref>.", parse: parseSkill },
  { name: "MCP", summary: "An MCP server, by name or reference (metadata).", params: ["ref"] },
  { name: "SERVER", summary: "An external server <name> <url> (metadata).", params: ["name", "url"] },
  { name: "URL", summary: "Requested egress; denied unless declared.", params: ["url"] },
  { name: "CRED", summary: "A credential reference; never a literal secret.", parse: parseCred },
  { name: "BIND", summary: "Host-to-agent mapping <src> <target> [copy|direct|ro|rw].", parse: parseBind },
  { name: "MOUNT", summary: "Sandbox-facing path <path> ro|rw.", params: ["path", "mode"] },
  {
    name: "POLICY",
    summary: "Inline Cedar policy, captured verbatim until END.",
    block: true,
    parse: (i) => parseBlock(i, [], "an inline Cedar block"),
  },
  { name: "ALLOW", summary: "Shorthand permit <action> <resource>.", params: ["action", "resource"] },
  {
    name: "DENY",
    summary: "Shorthand forbid <action> <resource>; deny wins.",
    params: ["action", "resource"],
  },
  { name: "RATELIMIT", summary: "Rate limit <tool> <n>/<unit>.", parse: parseRateLimit },
  { name: "AUDIT", summary: "Audit level off|basic|all|compliance.", params: ["level"], once: true },
  {
    name: "TIMEOUT",
    summary: "Overall timeout in seconds (or 30s, 5m, 1h).",
    parse: parseTimeout,
    once: true,
  },
  { name: "LIMIT", summary: "A named limit <name> <value>.", params: ["name", "value"] },
  {
    name: "SLICE",
    summary: "Resource slice, key=value pairs (cpu=2 mem=2048).",
    parse: (i) => parseKeyValues(i, []),
  },
  { name: "TRACE", summary: "Tracing: on, off or an otlp:// endpoint.", params: ["target"], once: true },
  {
    name: "MEMORY",
    summary: "A memory store <name> [key:value…].",
    parse: (i) => parseKeyValues(i, ["name"]),
  },
  { name: "OPTIMIZER", summary: "Optional optimizer hint.", params: ["name"], once: true },
  { name: "HEALTHCHECK", summary: "Health check command (shell form) or NONE.", once: true, parse: parseCmd },
  {
    name: "SOP",
    summary: "A named standard operating procedure, verbatim until END.",
    block: true,
    parse: (i) => parseBlock(i, ["name"], "an SOP block"),
  },
  {
    name: "INGEST",
    summary: "Documents for retrieval, selected by globs.",
    parse: (i) => positional(i, [], "globs"),
  },
  { name: "INCLUDE", summary: "Explicit extra files, by globs.", parse: (i) => positional(i, [], "globs") },
  { name: "OUTPUT", summary: "Structured-output JSON Schema file.", params: ["path"], once: true },
  { name: "IMAGE", summary: "Runner placement hint (kept out of the digest).", runHint: true, parse: rest },
  {
    name: "ISOLATION",
    summary: "Runner placement hint: local|container|microvm|ssh.",
    runHint: true,
    parse: rest,
  },
  { name: "BROKER", summary: "Runner placement hint: vault|local.", runHint: true, parse: rest },
  { name: "BACKEND", summary: "Runner placement hint: a backend URL.", runHint: true, parse: rest },
  {
    name: "PLUGIN",
    summary: "Runner capability hint: network|filesystem|secrets.",
    runHint: true,
    parse: rest,
  },
];
