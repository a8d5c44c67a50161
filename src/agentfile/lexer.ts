import { diagnostic } from "../diagnostics/create.js";
import type { Diagnostic } from "../diagnostics/types.js";
import { trimEnd } from "../util/trimEnd.js";

/** A word of a directive line, with the position of its first character (1-based). */
export interface Token {
  value: string;
  line: number;
  column: number;
  /** True when any part of the word was quoted, so `"*"` is not a glob keyword, for example. */
  quoted: boolean;
}

/** One directive: a logical line (continuations joined) or a block opener with its verbatim body. */
export interface Statement {
  name: Token;
  args: Token[];
  /** The argument text after the directive name, comments removed, as written (quotes kept). */
  rest: string;
  /** Verbatim body of a block (lines between the opener and END, joined with "\n"). */
  body?: string;
  /** Line of the closing END for blocks, else the last physical line of the statement. */
  endLine: number;
}

export interface LexResult {
  statements: Statement[];
  diagnostics: Diagnostic[];
}

interface Char {
  ch: string;
  line: number;
  column: number;
}

const isSpace = (c: string | undefined): boolean => c === " " || c === "\t" || c === "\f" || c === "\v";

/**
 * Splits Agentfile text into statements. Handles comments (whole-line, and `#` after whitespace outside quotes),
 * `\` continuations, quoting, and blocks (opened by a name for which `isBlock` is true, closed by a line `END`).
 * Never throws: problems become diagnostics and the lexer resynchronises at the next line.
 */
export function lex(text: string, file: string, isBlock: (name: string) => boolean): LexResult {
  const lines = text.split(/\r\n|\n|\r/);
  const statements: Statement[] = [];
  const diagnostics: Diagnostic[] = [];
  // Index of the last line with content: a continuation after it dangles (checked in O(1), not by rescanning).
  let lastContent = lines.length - 1;
  while (lastContent >= 0 && lines[lastContent]!.trim() === "") lastContent--;
  let i = 0;
  while (i < lines.length) {
    const first = lines[i]!;
    const startLine = i + 1;
    const indent = leadingSpace(first);
    if (indent === first.length || first[indent] === "#") {
      i++;
      continue;
    }
    const word = /^[^\s#]+/.exec(first.slice(indent))?.[0] ?? "";
    if (isBlock(word) || isBlock(word.toUpperCase())) {
      const opener = tokenize(charsOf(first, startLine), file, diagnostics);
      const bodyLines: string[] = [];
      let j = i + 1;
      while (j < lines.length && lines[j]!.trim() !== "END") bodyLines.push(lines[j++]!);
      if (j >= lines.length) {
        diagnostics.push(
          diagnostic("UNTERMINATED_BLOCK", `${word} block opened here is never closed with END`, {
            file,
            line: startLine,
            column: indent + 1,
          }),
        );
      }
      const [name, ...args] = opener.tokens;
      if (name) {
        statements.push({
          name,
          args,
          rest: opener.rest,
          body: bodyLines.join("\n"),
          endLine: Math.min(j + 1, lines.length),
        });
      }
      i = j + 1;
      continue;
    }
    // A logical line: physical lines joined while they end with a backslash; comment lines inside are dropped.
    const chars: Char[] = [];
    let j = i;
    let continued = false;
    for (;;) {
      let physical = lines[j]!;
      const trimmedEnd = trimEnd(physical, " \t");
      continued = trimmedEnd.endsWith("\\") && !trimmedEnd.endsWith("\\\\");
      if (continued) physical = trimmedEnd.slice(0, -1);
      appendChars(chars, physical, j + 1);
      j++;
      if (!continued) break;
      while (j < lines.length && /^[ \t]*#/.test(lines[j]!)) j++;
      if (j > lastContent) {
        diagnostics.push(
          diagnostic("DANGLING_CONTINUATION", "the Agentfile ends with a line continuation", {
            file,
            line: j,
            column: Math.max(1, lines[j - 1]!.length),
          }),
        );
        break;
      }
    }
    const { tokens, rest } = tokenize(chars, file, diagnostics);
    const [name, ...args] = tokens;
    if (name) statements.push({ name, args, rest, endLine: j });
    i = j;
  }
  return { statements, diagnostics };
}

function leadingSpace(s: string): number {
  let n = 0;
  while (n < s.length && isSpace(s[n])) n++;
  return n;
}

function charsOf(text: string, line: number): Char[] {
  return appendChars([], text, line);
}

/**
 * Appends the characters of one physical line, by UTF-16 unit so that columns match what editors using UTF-16
 * (LSP default) show. A loop, not `push(...)`: spreading a line of a million characters overflows the stack.
 */
function appendChars(out: Char[], text: string, line: number): Char[] {
  for (let c = 0; c < text.length; c++) out.push({ ch: text[c]!, line, column: c + 1 });
  return out;
}

function tokenize(chars: Char[], file: string, diagnostics: Diagnostic[]): { tokens: Token[]; rest: string } {
  const tokens: Token[] = [];
  let p = 0;
  let restStart = -1;
  let restEnd = chars.length;
  while (p < chars.length) {
    while (p < chars.length && isSpace(chars[p]!.ch)) p++;
    if (p >= chars.length) break;
    if (chars[p]!.ch === "#") {
      restEnd = p;
      break;
    }
    const start = chars[p]!;
    if (tokens.length === 1 && restStart < 0) restStart = p;
    let value = "";
    let quoted = false;
    while (p < chars.length && !isSpace(chars[p]!.ch)) {
      const c = chars[p]!.ch;
      if (c === '"' || c === "'") {
        quoted = true;
        const open = chars[p]!;
        p++;
        let closed = false;
        while (p < chars.length) {
          const d = chars[p]!.ch;
          if (d === c) {
            closed = true;
            p++;
            break;
          }
          if (c === '"' && d === "\\" && p + 1 < chars.length) {
            value += chars[p + 1]!.ch;
            p += 2;
            continue;
          }
          value += d;
          p++;
        }
        if (!closed) {
          diagnostics.push(
            diagnostic("UNTERMINATED_QUOTE", `quote ${c} is never closed`, {
              file,
              line: open.line,
              column: open.column,
            }),
          );
        }
        continue;
      }
      value += c;
      p++;
    }
    tokens.push({ value, line: start.line, column: start.column, quoted });
  }
  const rest =
    restStart < 0
      ? ""
      : trimEnd(
          chars
            .slice(restStart, restEnd)
            .map((c) => c.ch)
            .join(""),
          " \t",
        );
  return { tokens, rest };
}
