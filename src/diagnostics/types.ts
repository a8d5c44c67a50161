/** Where a diagnostic points. Lines and columns are 1-based; columns count UTF-16 code units of the line. */
export interface SourceLocation {
  /** Path relative to the build context, with `/` separators. */
  file: string;
  line: number;
  column: number;
}

export type Severity = "error" | "warning";

/** A problem found while reading, linting or building an agent. Stable and serialisable. */
export interface Diagnostic {
  /** Stable upper-snake code, listed in `src/diagnostics/codes.ts` (or owned by a plugin). */
  code: string;
  severity: Severity;
  message: string;
  /** One-line suggestion for fixing the problem. */
  hint?: string;
  /** Absent when the problem is not tied to a file (for example a registry reply). */
  location?: SourceLocation;
  /** Name of the plugin that raised it; built-ins use their plugin name too. */
  plugin?: string;
}
