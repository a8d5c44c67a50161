import { type BuiltinCode, CODES } from "./codes.js";
import type { Diagnostic, SourceLocation } from "./types.js";

/** A fatal error with a stable code. Thrown; the CLI prints it as a diagnostic, with a stack only under --debug. */
export class AgentrcError extends Error {
  readonly code: string;
  readonly hint: string | undefined;
  readonly location: SourceLocation | undefined;
  readonly plugin: string | undefined;
  /** Further diagnostics collected before the failure (e.g. every schema error of a config file). */
  readonly diagnostics: readonly Diagnostic[];

  constructor(
    code: BuiltinCode | (string & {}),
    message: string,
    options: {
      hint?: string;
      location?: SourceLocation;
      plugin?: string;
      cause?: unknown;
      diagnostics?: readonly Diagnostic[];
    } = {},
  ) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = "AgentrcError";
    this.code = code;
    this.hint = options.hint ?? (CODES as Record<string, { hint: string }>)[code]?.hint;
    this.location = options.location;
    this.plugin = options.plugin;
    this.diagnostics = options.diagnostics ?? [];
  }

  toDiagnostic(): Diagnostic {
    const d: Diagnostic = { code: this.code, severity: "error", message: this.message };
    if (this.hint !== undefined) d.hint = this.hint;
    if (this.location !== undefined) d.location = this.location;
    if (this.plugin !== undefined) d.plugin = this.plugin;
    return d;
  }
}

export const isAgentrcError = (e: unknown): e is AgentrcError => e instanceof AgentrcError;
