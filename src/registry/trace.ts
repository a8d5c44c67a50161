/** One HTTP exchange, as reported to a trace hook (`--debug`). Secrets are already redacted. */
export interface TraceEvent {
  method: string;
  url: string;
  requestHeaders: Record<string, string>;
  status?: number;
  responseHeaders?: Record<string, string>;
  durationMs: number;
  error?: string;
}

export type TraceHook = (event: TraceEvent) => void;

const SECRET_HEADERS = new Set(["authorization", "proxy-authorization", "cookie", "set-cookie"]);
/** Headers holding a URL (a redirect to a pre-signed blob URL, an upload session): redacted like request URLs. */
const URL_HEADERS = new Set(["location", "content-location"]);
const SECRET_QUERY = /token|sig|signature|credential|secret|password|passwd|key|auth|code/i;

/** Keeps the auth scheme, hides the rest: `Bearer <redacted>`; URLs in `Location` get `redactUrl`'s rules. */
export function redactHeaders(headers: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, value] of Object.entries(headers)) {
    const lower = name.toLowerCase();
    if (URL_HEADERS.has(lower)) out[name] = redactLocation(value);
    else if (!SECRET_HEADERS.has(lower)) out[name] = value;
    else out[name] = `${/^\S+/.exec(value)?.[0] ?? ""} <redacted>`.trim();
  }
  return out;
}

/** A `Location` value, absolute (`redactUrl`) or relative (only its query, so that it keeps its form). */
function redactLocation(value: string): string {
  if (/^[a-z][a-z0-9+.-]*:/i.test(value) && URL.canParse(value)) return redactUrl(value);
  const q = value.indexOf("?");
  if (q === -1) return value;
  const hash = value.indexOf("#", q);
  const end = hash === -1 ? value.length : hash;
  const params = new URLSearchParams(value.slice(q + 1, end));
  for (const name of [...params.keys()]) {
    if (SECRET_QUERY.test(name)) params.set(name, "redacted");
  }
  return `${value.slice(0, q + 1)}${params.toString()}${value.slice(end)}`;
}

/** Hides userinfo and the values of query parameters that look like secrets (pre-signed blob URLs). */
export function redactUrl(url: URL | string): string {
  const u = new URL(url);
  if (u.username || u.password) {
    u.username = "redacted";
    u.password = "";
  }
  for (const name of [...u.searchParams.keys()]) {
    if (SECRET_QUERY.test(name)) u.searchParams.set(name, "redacted");
  }
  return u.toString();
}

/** A one-line rendering for logs: `GET https://host/v2/ -> 401 (12 ms)`. */
export function formatTrace(e: TraceEvent): string {
  const outcome = e.error !== undefined ? `error: ${e.error}` : String(e.status);
  return `${e.method} ${e.url} -> ${outcome} (${Math.round(e.durationMs)} ms)`;
}
