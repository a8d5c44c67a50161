import { CACHE_CODES } from "./codes.cache.js";
import { DEPLOY_CODES } from "./codes.deploy.js";
import { OCI_CODES } from "./codes.oci.js";
import { PACKAGE_CODES } from "./codes.package.js";
import { REGISTRY_CODES } from "./codes.registry.js";
import { TRUST_CODES } from "./codes.trust.js";
import type { Severity } from "./types.js";

export interface CodeInfo {
  severity: Severity;
  /** What the code means, for docs/errors.md. */
  summary: string;
  /** Default one-line fix hint; a diagnostic may carry a more precise one. */
  hint: string;
  /** The location points at secret material: the code frame shows `<redacted>` from that column on. */
  secret?: true;
}

/**
 * The catalogue of built-in diagnostic codes. Codes are stable: never rename or reuse one.
 * `docs/errors.md` is checked against this table by a test.
 */
export const CODES = {
  // --- reading the Agentfile ------------------------------------------------------------
  AGENTFILE_NOT_FOUND: {
    severity: "error",
    summary: "The build context has no Agentfile.",
    hint: "Run `agentrc init` or pass the directory that holds the Agentfile.",
  },
  AGENTFILE_BINARY: {
    severity: "error",
    summary: "The Agentfile is not text (it contains NUL bytes or is not valid UTF-8).",
    hint: "Save the Agentfile as UTF-8 text.",
  },
  AGENTFILE_TOO_LARGE: {
    severity: "error",
    summary: "The Agentfile exceeds the size limit.",
    hint: "Move large content (policies, SOPs, data) into files referenced from the Agentfile.",
  },
  UNKNOWN_DIRECTIVE: {
    severity: "error",
    summary: "A line starts with a word that is not a known directive.",
    hint: "Check the spelling; directives are upper case. Plugins can register new directives.",
  },
  DIRECTIVE_CASE: {
    severity: "error",
    summary: "A directive is written in lower or mixed case; directives are case-sensitive.",
    hint: "Write the directive in upper case.",
  },
  INVALID_LINE: {
    severity: "error",
    summary: "A line does not start with a directive name.",
    hint: "Each line starts with an upper-case directive, a comment (#) or is blank.",
  },
  UNTERMINATED_BLOCK: {
    severity: "error",
    summary: "A POLICY or SOP block has no closing END.",
    hint: "Close the block with a line holding only END.",
  },
  UNEXPECTED_END: {
    severity: "error",
    summary: "END appears outside a POLICY or SOP block.",
    hint: "Remove the END line or open a block before it.",
  },
  UNTERMINATED_QUOTE: {
    severity: "error",
    summary: "A quoted argument is not closed.",
    hint: "Close the quote on the same logical line.",
  },
  DANGLING_CONTINUATION: {
    severity: "error",
    summary: "The last line ends with a continuation backslash.",
    hint: "Remove the trailing backslash or add the continued text.",
  },
  INVALID_ARGUMENTS: {
    severity: "error",
    summary: "A directive's arguments do not match its schema.",
    hint: "See the directive table in docs/agentfile.md.",
  },
  DUPLICATE_DIRECTIVE: {
    severity: "error",
    summary: "A directive that may appear once appears again.",
    hint: "Keep one occurrence.",
  },
  AGENT_MISSING: {
    severity: "error",
    summary: "The Agentfile declares no AGENT.",
    hint: "Add `AGENT <id>` (a lowercase DNS label) as the first directive.",
  },
  RUN_HINT_DIRECTIVE: {
    severity: "warning",
    summary:
      "A runner placement hint (IMAGE, ISOLATION, BROKER, BACKEND, PLUGIN) is kept out of the package digest.",
    hint: "Move placement choices to the runner's configuration; they are recorded as run hints only.",
  },
  // --- credentials and secrets ------------------------------------------------------------
  CRED_LITERAL_SECRET: {
    severity: "error",
    summary: "A CRED directive holds a literal secret instead of a reference.",
    hint: "Use env:VAR, vault://path#key or keyring:key; only the name is packaged.",
    secret: true,
  },
  SECRET_IN_FILE: {
    severity: "error",
    summary: "A file about to be packed contains what looks like a secret.",
    hint: "Remove the secret, exclude the file, or allow-list it in the lint configuration.",
    secret: true,
  },
  URL_CREDENTIALS: {
    severity: "error",
    summary: "A URL in the Agentfile carries credentials (`https://user:password@host`).",
    hint: "Remove the user:password@ part and declare the credential with CRED <name> env:VAR host:<host>.",
    secret: true,
  },
  // --- files and paths ------------------------------------------------------------------
  FILE_NOT_FOUND: {
    severity: "error",
    summary: "A referenced file or directory does not exist in the build context.",
    hint: "Create the file or fix the path; paths are relative to the build context.",
  },
  GLOB_NO_MATCH: {
    severity: "error",
    summary: "A glob matches no file.",
    hint: "Fix the pattern or remove it; an unmatched reference is never skipped silently.",
  },
  PATH_ESCAPE: {
    severity: "error",
    summary: "A path leaves the build context (.., an absolute path, or a symlink pointing outside).",
    hint: "Keep every referenced file inside the build context.",
  },
  SKILL_MD_MISSING: {
    severity: "error",
    summary: "A skill directory has no SKILL.md.",
    hint: "Add a SKILL.md to the skill directory.",
  },
  SKILL_FRONTMATTER_INVALID: {
    severity: "error",
    summary:
      "A SKILL.md has no YAML frontmatter with a `name` (lowercase letters, digits, hyphens, ≤ 64) and a `description`, its name is not its directory's, or its skill.yaml SkillCard disagrees (a warning for an agent's own skills, an error for a skill package).",
    hint: "Start SKILL.md with `---`, `name: <skill-name>`, `description: <what it does and when to use it>`, `---`.",
  },
  TOOLSET_INVALID: {
    severity: "error",
    summary:
      "A toolset manifest (toolset.json, a local TOOLSET file) is not JSON or lacks a name or a non-empty `tools` list of `{ ref, spec? }`, or a spec path is missing or leaves its directory.",
    hint: 'Write `{ "name": "<toolset>", "tools": [{ "ref": "<ns>:<name>", "spec": "<file>.json" }] }`.',
  },
  INVALID_TOOL_SPEC: {
    severity: "error",
    summary:
      "A tool spec (JSON) is not valid: bad JSON, no or a wrong name, or an input/output schema that is not valid JSON Schema.",
    hint: "Fix the tool spec; see docs/files.md#tool-specs.",
  },
  TOOL_SPEC_UNRECOGNISED: {
    severity: "warning",
    summary:
      "A tool spec is in no format agentrc knows (MCP, OpenAI, Anthropic, UTCP, plain), so its schemas are not checked or recorded.",
    hint: "Write the spec as an MCP tool (inputSchema), OpenAI function (parameters), Anthropic tool (input_schema), UTCP tool (inputs) or plain (input).",
  },
  TOOL_SPEC_NO_OUTPUT_SCHEMA: {
    severity: "warning",
    summary: "A tool spec has no output schema, so a runner cannot check what the tool returns.",
    hint: "Add the output schema (outputSchema, output_schema, outputs or output, as the format names it).",
  },
  INVALID_OUTPUT_SCHEMA: {
    severity: "error",
    summary: "The OUTPUT file is not a valid JSON Schema.",
    hint: "Fix the schema so that it compiles as JSON Schema (draft 2020-12 or 07).",
  },
  UNSUPPORTED_FILE_TYPE: {
    severity: "error",
    summary: "A selected path is neither a regular file nor a directory (a FIFO, socket or device).",
    hint: "Remove it from the selection or exclude it in .agentrcignore; only files and directories are packed.",
  },
  FILE_NAME_INVALID: {
    severity: "error",
    summary: "A file or directory found while walking or matching has a name that is not valid UTF-8.",
    hint: "Rename it to UTF-8 (e.g. `convmv -f latin1 -t utf8`), or exclude it in .agentrcignore.",
  },
  FUNCTION_SYMBOL_NOT_FOUND: {
    severity: "warning",
    summary: "A FUNCTION's symbol does not appear to be defined in its source file (a quick textual check).",
    hint: "Check the symbol name after the colon, or define it (def, function, class, const, export) in the file.",
  },
  // --- the file system ------------------------------------------------------------------
  FS_NO_SPACE: {
    severity: "error",
    summary: "The disk (or quota) holding a file being written is full; the message names the file.",
    hint: "Free space there, or point the store (--store, AGENTRC_STORE), cache (AGENTRC_CACHE) or output elsewhere.",
  },
  FS_NAME_TOO_LONG: {
    severity: "error",
    summary:
      "A path is longer than the file system allows (a name over 255 bytes, or the whole path over PATH_MAX).",
    hint: "Choose a shorter directory or file name.",
  },
  // --- policy ---------------------------------------------------------------------------
  POLICY_SYNTAX: {
    severity: "error",
    summary: "A Cedar policy does not parse.",
    hint: "Fix the Cedar syntax at the location shown.",
  },
  POLICY_INVALID: {
    severity: "error",
    summary: "A Cedar policy does not validate against the agentrc Cedar schema.",
    hint: "Use the AgentRC:: entity types and actions listed in schemas/agentrc.cedarschema.",
  },
  POLICY_UNGUARDED_ATTRIBUTE: {
    severity: "warning",
    summary:
      "A policy reads an optional context attribute without a `has` test: when the attribute is absent Cedar skips the policy (a forbid then denies nothing).",
    hint: 'Guard the access: `when { context has path && context.path == "/" }`.',
  },
  POLICY_NAME_AMBIGUOUS: {
    severity: "error",
    summary: 'A short Cedar entity id (`AgentRC::Tool::"get"`) matches more than one declared entity.',
    hint: "Write the full id of the entity meant (`<ns>:<name>` for a tool, `<path>:<symbol>` for a function).",
  },
  POLICY_NAME_UNKNOWN: {
    severity: "warning",
    summary:
      "A short Cedar entity id matches no declared TOOL or FUNCTION, so the policy can never apply to one.",
    hint: "Declare the TOOL or FUNCTION, or write its full id.",
  },
  TOOL_NOT_PERMITTED: {
    severity: "warning",
    summary: "A declared TOOL is not permitted by any policy (Cedar denies its invocation).",
    hint: "Add `ALLOW invoke <tool>` or a Cedar permit for the tool, or remove the TOOL.",
  },
  POLICY_WARNING: {
    severity: "warning",
    summary:
      "Cedar's validator warns about a policy (for example an impossible policy that can never apply).",
    hint: "Check the entity types and actions in the policy scope against schemas/agentrc.cedarschema.",
  },
  PACKAGE_POLICY_INVALID: {
    severity: "error",
    summary:
      "A package's policy layer is not UTF-8 Cedar text that parses (the package was not built by agentrc, or was altered).",
    hint: "Rebuild the package with `agentrc build`; `agentrc verify` checks the policy hash.",
  },
  LOCKFILE_INVALID: {
    severity: "error",
    summary: "agentrc.lock is not valid JSON or does not match schemas/lockfile.schema.json.",
    hint: "Delete agentrc.lock and run `agentrc lock` to regenerate it.",
  },
  LOCKFILE_STALE: {
    severity: "error",
    summary: "--frozen-lockfile: agentrc.lock is missing or does not match the inputs.",
    hint: "Run `agentrc lock` and commit agentrc.lock.",
  },
  LOCK_UPDATE_UNKNOWN: {
    severity: "error",
    summary:
      "`agentrc lock --update <name>` names no registry dependency of the agent (FROM, SKILL oci://, TOOLSET oci://).",
    hint: "Name a dependency by its reference as written in the Agentfile (or a skill by its name), or give no name to update all.",
  },
  LOCKFILE_WRITE_FAILED: {
    severity: "error",
    summary: "agentrc.lock could not be written.",
    hint: "Check that the agent directory is writable.",
  },
  BASE_RESOLVE_FAILED: {
    severity: "error",
    summary: "`agentrc lock`/`build` could not resolve the FROM tag to a manifest digest at the registry.",
    hint: "Check the reference, the registry and `agentrc login`; or pin the base with `@sha256:…`.",
  },
  BASE_NOT_AGENT_PACKAGE: {
    severity: "error",
    summary:
      "FROM names something that is not an agentrc package (a plain container image, a skill or toolset package): nothing can be inherited from it.",
    hint: "FROM names an agentrc package (artifactType application/vnd.agentrc.agent.v1); a container image to run in belongs in IMAGE; FROM scratch starts from nothing.",
  },
  BASE_CYCLE: {
    severity: "error",
    summary:
      "The chain of FROM bases comes back to a reference already in it, or to the package being built.",
    hint: "A package cannot be its own base: build the chain from the bottom up, each FROM naming a different package.",
  },
  BASE_LIMIT_WEAKENED: {
    severity: "error",
    summary:
      "A child replaces its base's AUDIT, TIMEOUT or RATELIMIT with a looser one (a lower audit level, a longer timeout, a higher rate).",
    hint: "A child may tighten what its base sets, never loosen it: keep the base's value or a stricter one.",
  },
  TOOLSET_RESOLVE_FAILED: {
    severity: "error",
    summary:
      "A `TOOLSET oci://` could not be resolved or fetched (registry error, unknown reference), or is not a toolset package.",
    hint: "Check the reference and the registry; a toolset package is built with `agentrc build` of a directory holding toolset.json.",
  },
  SKILL_RESOLVE_FAILED: {
    severity: "error",
    summary:
      "An `oci://` SKILL could not be resolved, fetched or unpacked (registry error, no skill layer, bad content).",
    hint: "Check the reference and the registry; the package needs a skill layer titled skills/<name> holding SKILL.md.",
  },
  // --- advisory lint --------------------------------------------------------------------
  FROM_MUTABLE_TAG: {
    severity: "warning",
    summary: "FROM names a mutable tag that the lockfile does not pin.",
    hint: "Pin the base with a digest (`@sha256:…`) or run `agentrc lock`.",
  },
  BIND_NO_MODE: {
    severity: "warning",
    summary: "BIND has no explicit mode (defaults to copy).",
    hint: "State the mode: copy, direct, ro or rw.",
  },
  AUDIT_MISSING: {
    severity: "warning",
    summary: "The Agentfile declares no AUDIT level.",
    hint: "Add `AUDIT basic` (or off, all, compliance).",
  },
  // --- packing and output --------------------------------------------------------------
  PACK_NO_PACKER: {
    severity: "error",
    summary: "No plugin produced a blob for a planned layer.",
    hint: "A packLayer tap must return a blob for every planned layer.",
  },
  PACK_INPUT_CHANGED: {
    severity: "error",
    summary:
      "A file changed while the package was being built: its bytes no longer match the digest taken earlier.",
    hint: "Build again once nothing is writing to the agent's files.",
  },
  PACKAGE_PATH_COLLISION: {
    severity: "error",
    summary: "Two selected files map to the same path inside a layer.",
    hint: "Rename or move one of the files.",
  },
  MANIFEST_HOOK_INVALID: {
    severity: "error",
    summary:
      "A tap on the manifest hook changed what the package is made of (schemaVersion, mediaType, config or layers).",
    hint: "A manifest tap may set artifactType, subject and annotations; layers come from the layers and packLayer hooks.",
  },
  RISK_TIER_LOWERED: {
    severity: "error",
    summary:
      "The final io.agentrc.risk.tier annotation is lower than the tier the agent's declarations give (or not a tier).",
    hint: "Remove the plugin's override of io.agentrc.risk.tier, or raise it; a tier may be raised, never lowered.",
  },
  PACKAGE_CONFIG_INVALID: {
    severity: "error",
    summary: "A package's config blob is not JSON or lacks the fields agentrc reads (agent, layers, files).",
    hint: "The package was not built by a compatible agentrc; rebuild it, or inspect it with --json.",
  },
  NOT_AN_AGENT_PACKAGE: {
    severity: "error",
    summary: "The manifest is not an agentrc package (wrong artifactType or config media type).",
    hint: "agentrc reads packages whose artifactType is application/vnd.agentrc.agent.v1.",
  },
  // --- configuration and plugins --------------------------------------------------------
  CONFIG_INVALID: {
    severity: "error",
    summary: "The agentrc configuration does not match schemas/config.schema.json.",
    hint: "Fix the configuration key shown.",
  },
  CONFIG_LOAD_FAILED: {
    severity: "error",
    summary: "The agentrc configuration file could not be loaded.",
    hint: "Check the file for syntax errors; run with --debug for the stack.",
  },
  PLUGIN_INVALID: {
    severity: "error",
    summary: "A configured plugin is not an object with a name and an apply(compiler) function.",
    hint: "Export `{ name, apply(compiler) { … } }` from the plugin.",
  },
  PLUGIN_FAILED: {
    severity: "error",
    summary: "A plugin threw while running a hook.",
    hint: "The message names the plugin and hook; run with --debug for the stack.",
  },
  DIRECTIVE_CONFLICT: {
    severity: "error",
    summary: "A plugin registered a directive that already exists.",
    hint: "Pick another directive name.",
  },
  // --- CLI ------------------------------------------------------------------------------
  USAGE: {
    severity: "error",
    summary: "The command line is not valid.",
    hint: "Run `agentrc --help`.",
  },
  INIT_WOULD_OVERWRITE: {
    severity: "error",
    summary: "agentrc init would overwrite existing files.",
    hint: "Pass --force to overwrite, or choose an empty directory.",
  },
  INTERNAL: {
    severity: "error",
    summary: "An unexpected internal error.",
    hint: "Run again with --debug and report the stack trace.",
  },
  ...OCI_CODES,
  ...REGISTRY_CODES,
  ...PACKAGE_CODES,
  ...TRUST_CODES,
  ...DEPLOY_CODES,
  ...CACHE_CODES,
} as const satisfies Record<string, CodeInfo>;

export type BuiltinCode = keyof typeof CODES;
