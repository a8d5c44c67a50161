import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { trimEnd } from "../util/trimEnd.js";

/** The ignore file read from the root of the build context. */
export const IGNORE_FILE = ".agentrcignore";

interface IgnoreRule {
  /** The pattern as written (after unescaping the leading `!`/`#`), for messages. */
  source: string;
  negate: boolean;
  dirOnly: boolean;
  regex: RegExp;
  /** 1-based line in the ignore file. */
  line: number;
}

/**
 * A gitignore-style matcher for paths relative to the build context (`/` separators). Supported syntax, as in
 * gitignore(5): blank lines and `#` comments; `\#` and `\!` for a literal leading `#`/`!`; trailing spaces
 * trimmed unless escaped with `\`; `!` re-includes; a trailing `/` matches directories only; a pattern with a
 * `/` at the start or in the middle is anchored to the context root, otherwise it matches a name at any depth;
 * `*`, `?`, `[a-z]`/`[!a-z]` classes (never matching `/`), `\` escapes; `**/ ` (any leading directories), `; /**`
 * (everything inside), `/**\/` (zero or more directories). As in git, a file cannot be re-included when one of its
 * parent directories is excluded. Not supported: nested ignore files in subdirectories, global excludes, and
 * case-insensitive matching.
 */
export class IgnoreMatcher {
  readonly rules: readonly IgnoreRule[];

  constructor(rules: readonly IgnoreRule[] = []) {
    this.rules = rules;
  }

  /** Parses the text of an ignore file. */
  static parse(text: string): IgnoreMatcher {
    const rules: IgnoreRule[] = [];
    const lines = text.replace(/^\uFEFF/, "").split(/\r?\n/);
    lines.forEach((raw, i) => {
      const rule = parseRule(raw, i + 1);
      if (rule) rules.push(rule);
    });
    return new IgnoreMatcher(rules);
  }

  get empty(): boolean {
    return this.rules.length === 0;
  }

  /**
   * Whether `path` (relative, `/`-separated) is excluded: excluded itself, or below an excluded directory.
   * `isDir` tells whether the path itself is a directory (its parents always are).
   */
  ignores(path: string, isDir = false): boolean {
    if (this.rules.length === 0) return false;
    const parts = path.split("/").filter((p) => p !== "" && p !== ".");
    let prefix = "";
    for (let i = 0; i < parts.length; i++) {
      prefix = prefix ? `${prefix}/${parts[i]}` : parts[i]!;
      const last = i === parts.length - 1;
      if (this.#matches(prefix, last ? isDir : true)) return true;
    }
    return false;
  }

  /** Last-match-wins over the rules for one path, without looking at its parents. */
  #matches(path: string, isDir: boolean): boolean {
    let ignored = false;
    for (const rule of this.rules) {
      if (rule.dirOnly && !isDir) continue;
      if (rule.negate !== ignored) continue; // this rule cannot change the outcome
      if (rule.regex.test(path)) ignored = !rule.negate;
    }
    return ignored;
  }
}

/** Reads `.agentrcignore` at the root of the context; an absent file gives an empty matcher. */
export async function loadIgnoreFile(context: string): Promise<IgnoreMatcher> {
  let text: string;
  try {
    text = await readFile(join(context, IGNORE_FILE), "utf8");
  } catch {
    return new IgnoreMatcher();
  }
  return IgnoreMatcher.parse(text);
}

function parseRule(raw: string, line: number): IgnoreRule | undefined {
  let text = trimTrailingSpaces(raw);
  if (text === "" || text.startsWith("#")) return undefined;
  let negate = false;
  if (text.startsWith("!")) {
    negate = true;
    text = text.slice(1);
  } else if (text.startsWith("\\!") || text.startsWith("\\#")) {
    text = text.slice(1);
  }
  let dirOnly = false;
  if (text.endsWith("/") && !text.endsWith("\\/")) {
    dirOnly = true;
    text = trimEnd(text, "/");
  }
  if (text === "") return undefined;
  const anchored = text.includes("/");
  if (text.startsWith("/")) text = text.replace(/^\/+/, "");
  if (text === "") return undefined;
  const body = globBody(text);
  const regex = new RegExp(anchored ? `^${body}$` : `^(?:.*/)?${body}$`);
  return { source: raw.trim(), negate, dirOnly, regex, line };
}

/** Removes trailing spaces unless the last one is escaped with a backslash. */
function trimTrailingSpaces(s: string): string {
  let end = s.length;
  while (end > 0 && (s[end - 1] === " " || s[end - 1] === "\t")) {
    let backslashes = 0;
    for (let k = end - 2; k >= 0 && s[k] === "\\"; k--) backslashes++;
    if (backslashes % 2 === 1) break;
    end--;
  }
  return s.slice(0, end);
}

const escapeRegex = (c: string): string => c.replace(/[.*+?^${}()|[\]\\/-]/g, "\\$&");

/** Converts one gitignore glob (no leading `/`, no trailing `/`) to a regular expression body. */
function globBody(p: string): string {
  let out = "";
  let i = 0;
  while (i < p.length) {
    const c = p[i]!;
    if (c === "*") {
      let j = i;
      while (p[j] === "*") j++;
      const stars = j - i;
      const atStart = i === 0 || p[i - 1] === "/";
      const atEnd = j === p.length || p[j] === "/";
      if (stars >= 2 && atStart && atEnd) {
        if (j === p.length) {
          // `**` alone or trailing `/**`: everything (below the prefix).
          out += i === 0 ? ".*" : ".+";
          i = j;
        } else {
          // `**/` at the start or `/**/` in the middle: zero or more directories.
          out += "(?:.*/)?";
          i = j + 1;
        }
        continue;
      }
      out += "[^/]*";
      i = j;
      continue;
    }
    if (c === "?") {
      out += "[^/]";
      i++;
      continue;
    }
    if (c === "[") {
      const cls = parseClass(p, i);
      if (cls) {
        out += cls.regex;
        i = cls.end;
        continue;
      }
      out += "\\[";
      i++;
      continue;
    }
    if (c === "\\" && i + 1 < p.length) {
      out += escapeRegex(p[i + 1]!);
      i += 2;
      continue;
    }
    out += escapeRegex(c);
    i++;
  }
  return out;
}

/** A bracket expression starting at `start` (`[`), or undefined when it is not closed (then `[` is literal). */
function parseClass(p: string, start: number): { regex: string; end: number } | undefined {
  let i = start + 1;
  let negate = false;
  if (p[i] === "!" || p[i] === "^") {
    negate = true;
    i++;
  }
  let body = "";
  let first = true;
  while (i < p.length) {
    const c = p[i]!;
    if (c === "]" && !first) {
      const cls = `[${negate ? "^" : ""}${body}${negate ? "/" : ""}]`;
      return { regex: negate ? cls : `(?!/)${cls}`, end: i + 1 };
    }
    first = false;
    if (c === "\\" && i + 1 < p.length) {
      body += `\\${p[i + 1]}`;
      i += 2;
      continue;
    }
    if (c === "-" && body !== "" && p[i + 1] !== "]" && i + 1 < p.length) {
      body += "-";
      i++;
      continue;
    }
    body += /[\]\\^-]/.test(c) ? `\\${c}` : c;
    i++;
  }
  return undefined;
}
