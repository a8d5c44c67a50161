import { diagnostic } from "../diagnostics/create.js";
import type { Diagnostic } from "../diagnostics/types.js";
import type { Statement, Token } from "./lexer.js";

/** `scheme://` then the authority (up to the first `/`, `?` or `#`). */
const URL_AUTHORITY = /^([a-z][a-z0-9+.-]*:\/\/)([^/?#]*)/i;

/** The `user[:password]@` part of a URL's authority (up to its last `@`, as URL parsers read it), or undefined. */
function userinfoOf(value: string): { scheme: string; userinfo: string } | undefined {
  const m = URL_AUTHORITY.exec(value);
  if (!m) return undefined;
  const at = m[2]!.lastIndexOf("@");
  return at < 0 ? undefined : { scheme: m[1]!, userinfo: m[2]!.slice(0, at + 1) };
}

/**
 * Any directive argument that is a URL with credentials (`https://user:password@host`) is an error, URL_CREDENTIALS
 * at the argument, and the credentials are cut out of the statement before it is parsed: they are never shown,
 * never reach the spec, the lockfile or the package.
 */
export function stripUrlCredentials(st: Statement, file: string, diagnostics: Diagnostic[]): Statement {
  let rest = st.rest;
  let found = false;
  const args = st.args.map((t): Token => {
    const u = userinfoOf(t.value);
    if (!u) return t;
    found = true;
    const value = `${u.scheme}${t.value.slice(u.scheme.length + u.userinfo.length)}`;
    rest = rest.split(u.userinfo).join("");
    diagnostics.push(
      diagnostic(
        "URL_CREDENTIALS",
        `${st.name.value}: the URL "${u.scheme}***@${value.slice(u.scheme.length)}" holds credentials (user:password@); they are not shown`,
        { file, line: t.line, column: t.column },
      ),
    );
    return { ...t, value };
  });
  return found ? { ...st, args, rest } : st;
}
