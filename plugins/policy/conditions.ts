/**
 * A small Cedar scanner (strings, `//` comments, brackets, words) that finds the `when` / `unless` clause around a
 * position, so that a diagnostic can show the exact rewrite of that clause. It only needs to find clause bounds
 * in text Cedar has already parsed; Cedar itself decides what the text means.
 */

export interface ConditionClause {
  effect: "permit" | "forbid";
  keyword: "when" | "unless";
  /** The clause body on one line: comments dropped, whitespace runs outside strings collapsed. */
  body: string;
}

const WORD = /[A-Za-z_][A-Za-z0-9_]*/y;

/** Index just past the string literal that starts at `i` (a `"`). */
function skipString(text: string, i: number): number {
  let j = i + 1;
  while (j < text.length && text[j] !== '"') j += text[j] === "\\" ? 2 : 1;
  return j + 1;
}

/** The clause containing UTF-16 index `index` of `text`, with the effect of its policy. */
export function clauseAt(text: string, index: number): ConditionClause | undefined {
  let effect: ConditionClause["effect"] | undefined;
  let pending: ConditionClause["keyword"] | undefined;
  let open: number | undefined;
  let keyword: ConditionClause["keyword"] | undefined;
  let braces = 0;
  let parens = 0;
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      i = skipString(text, i);
      continue;
    }
    if (c === "/" && text[i + 1] === "/") {
      const nl = text.indexOf("\n", i);
      i = nl < 0 ? text.length : nl;
      continue;
    }
    WORD.lastIndex = i;
    const word = WORD.exec(text);
    if (word) {
      if (braces === 0 && parens === 0) {
        if (word[0] === "permit" || word[0] === "forbid") effect = word[0];
        else if (word[0] === "when" || word[0] === "unless") pending = word[0];
      }
      i = WORD.lastIndex;
      continue;
    }
    if (c === "{") {
      if (braces === 0 && parens === 0 && pending) {
        open = i + 1;
        keyword = pending;
        pending = undefined;
      }
      braces++;
    } else if (c === "}") {
      braces--;
      if (braces === 0 && open !== undefined) {
        if (index >= open && index < i && effect && keyword) {
          return { effect, keyword, body: oneLine(text.slice(open, i)) };
        }
        open = undefined;
      }
    } else if (c === "(" || c === "[") parens++;
    else if (c === ")" || c === "]") parens--;
    else if (c === ";" && braces === 0 && parens === 0) effect = undefined;
    i++;
  }
  return undefined;
}

/** Cedar text on one line: comments removed, whitespace outside strings collapsed to one space, trimmed. */
export function oneLine(text: string): string {
  let out = "";
  let i = 0;
  while (i < text.length) {
    const c = text[i]!;
    if (c === '"') {
      const end = skipString(text, i);
      out += text.slice(i, end);
      i = end;
    } else if (c === "/" && text[i + 1] === "/") {
      const nl = text.indexOf("\n", i);
      i = nl < 0 ? text.length : nl;
    } else if (/\s/.test(c)) {
      if (!out.endsWith(" ")) out += " ";
      i++;
    } else {
      out += c;
      i++;
    }
  }
  return out.trim();
}

/** True when `&&` cannot be put in front of `expr` without parentheses: a top-level `||`, or `if … then … else`. */
export function bindsLooserThanAnd(expr: string): boolean {
  if (/^if\b/.test(expr)) return true;
  let depth = 0;
  for (let i = 0; i < expr.length; i++) {
    const c = expr[i]!;
    if (c === '"') {
      i = skipString(expr, i) - 1;
      continue;
    }
    if (c === "(" || c === "[" || c === "{") depth++;
    else if (c === ")" || c === "]" || c === "}") depth--;
    else if (depth === 0 && c === "|" && expr[i + 1] === "|") return true;
  }
  return false;
}

const hasTest = (attribute: string): string =>
  `context has ${/^[A-Za-z_][A-Za-z0-9_]*$/.test(attribute) ? attribute : JSON.stringify(attribute)}`;

/** `context has path && <body>`: false when the attribute is absent. */
export function hasAnd(attribute: string, body: string): string {
  return `${hasTest(attribute)} && ${bindsLooserThanAnd(body) ? `(${body})` : body}`;
}

/**
 * `if context has path then <body> else true`: true when the attribute is absent (Cedar's validator accepts this
 * form; it does not follow `has` through `!(…) || …`).
 */
export function ifHasElseTrue(attribute: string, body: string): string {
  return `if ${hasTest(attribute)} then ${body} else true`;
}

/**
 * The clause rewritten with a `has` test: `today` keeps what Cedar does when the attribute is absent (the policy is
 * skipped), `appliesWhenAbsent` makes the policy apply then (for a forbid: deny also without the attribute).
 */
export function guardedClause(
  clause: ConditionClause,
  attribute: string,
): { today: string; appliesWhenAbsent: string } {
  const falseWhenAbsent = `${clause.keyword} { ${hasAnd(attribute, clause.body)} }`;
  const trueWhenAbsent = `${clause.keyword} { ${ifHasElseTrue(attribute, clause.body)} }`;
  return clause.keyword === "when"
    ? { today: falseWhenAbsent, appliesWhenAbsent: trueWhenAbsent }
    : { today: trueWhenAbsent, appliesWhenAbsent: falseWhenAbsent };
}
