/** One `WWW-Authenticate` challenge: scheme in lower case, parameter names in lower case. */
export interface Challenge {
  scheme: string;
  params: Record<string, string>;
}

/**
 * Parses a `WWW-Authenticate` value (RFC 7235): several challenges separated by commas, each a scheme followed by
 * `name=value` parameters, values being tokens or quoted strings with `\` escapes. Malformed tails are ignored.
 */
export function parseChallenges(header: string | undefined): Challenge[] {
  if (!header) return [];
  const out: Challenge[] = [];
  let i = 0;
  const n = header.length;
  const skip = (chars: RegExp) => {
    while (i < n && chars.test(header[i]!)) i++;
  };
  const token = (): string => {
    const start = i;
    while (i < n && /[!#$%&'*+.^_`|~0-9A-Za-z-]/.test(header[i]!)) i++;
    return header.slice(start, i);
  };
  let current: Challenge | undefined;
  while (i < n) {
    skip(/[\s,]/);
    const start = i;
    const name = token();
    if (!name) break;
    skip(/\s/);
    if (header[i] === "=" && current && header[i + 1] !== "=") {
      i++;
      skip(/\s/);
      current.params[name.toLowerCase()] = header[i] === '"' ? quoted() : token();
      continue;
    }
    if (header[i] === "=") {
      // token68 (e.g. `Negotiate abc==`) belongs to the previous scheme; skip it
      skip(/[=]/);
      continue;
    }
    i = start + name.length;
    current = { scheme: name.toLowerCase(), params: {} };
    out.push(current);
  }
  return out;

  function quoted(): string {
    let value = "";
    i++;
    while (i < n && header![i] !== '"') {
      if (header![i] === "\\" && i + 1 < n) i++;
      value += header![i];
      i++;
    }
    i++;
    return value;
  }
}

/** `repository:<name>:<actions>`; the resource name may itself contain `:` (it is between the first and last). */
interface Scope {
  type: string;
  name: string;
  actions: Set<string>;
}

function parseScope(scope: string): Scope | undefined {
  const first = scope.indexOf(":");
  const last = scope.lastIndexOf(":");
  if (first <= 0 || last === first) return undefined;
  const actions = scope
    .slice(last + 1)
    .split(",")
    .filter((a) => a !== "");
  return { type: scope.slice(0, first), name: scope.slice(first + 1, last), actions: new Set(actions) };
}

/** Merges scopes on the same resource (`pull` + `push` ⇒ `pull,push`) and sorts them: a stable cache key. */
export function mergeScopes(...lists: readonly (readonly string[])[]): string[] {
  const byResource = new Map<string, Scope>();
  const opaque = new Set<string>();
  for (const list of lists) {
    for (const raw of list) {
      for (const s of raw.split(" ").filter((x) => x !== "")) {
        const scope = parseScope(s);
        if (!scope) {
          opaque.add(s);
          continue;
        }
        const key = `${scope.type}:${scope.name}`;
        const existing = byResource.get(key);
        if (existing) for (const a of scope.actions) existing.actions.add(a);
        else byResource.set(key, scope);
      }
    }
  }
  const merged = [...byResource.values()].map(
    (s) => `${s.type}:${s.name}:${[...s.actions].sort().join(",")}`,
  );
  return [...merged, ...opaque].sort();
}

/** The scope for an operation on a repository. */
export function repositoryScope(repository: string, ...actions: string[]): string {
  return `repository:${repository}:${actions.join(",")}`;
}
