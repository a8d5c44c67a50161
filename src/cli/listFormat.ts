import { parseReference } from "../registry/reference.js";

/** The fields `agentrc list --format` knows, as docker's `images --format` names them where docker has one. */
export const TEMPLATE_FIELDS = [
  "Repository",
  "Tag",
  "Reference",
  "Digest",
  "ID",
  "Size",
  "CreatedAt",
  "CreatedSince",
  "ArtifactType",
] as const;
export type TemplateField = (typeof TEMPLATE_FIELDS)[number];

const PLACEHOLDER = /\{\{\s*\.([A-Za-z]+)\s*\}\}/g;

/**
 * Compiles a Go-template-like line (`{{.Repository}}:{{.Tag}} {{.Digest}}`; `\t` and `\n` are a tab and a
 * newline, as docker users type them) into a renderer, or returns the usage message for an unknown field or a
 * `{{` that is not a field.
 */
export function renderTemplate(template: string): ((row: Record<TemplateField, string>) => string) | string {
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (!(TEMPLATE_FIELDS as readonly string[]).includes(m[1]!)) {
      return `--format: unknown field {{.${m[1]}}}; fields: ${TEMPLATE_FIELDS.map((f) => `.${f}`).join(" ")}`;
    }
  }
  if (template.replace(PLACEHOLDER, "").includes("{{")) {
    return `--format: only {{.Field}} placeholders are supported, got ${JSON.stringify(template)}`;
  }
  const text = template.replace(/\\t/g, "\t").replace(/\\n/g, "\n");
  return (row) => text.replace(PLACEHOLDER, (_m, field: TemplateField) => row[field]);
}

/**
 * The `list` filter: `<repository>` matches every tag of it, `<repository>:<tag>` one tag; `*` matches within a
 * path component (`localhost/acme/*`), `?` one character. A name without wildcards also matches in its docker
 * normalisation (`busybox` → `docker.io/library/busybox`). Untagged packages match no filter.
 */
export function listFilter(pattern: string): (ref: string | undefined) => boolean {
  const hasTag = pattern.lastIndexOf(":") > pattern.lastIndexOf("/");
  const spellings = [pattern];
  if (!/[*?]/.test(pattern)) {
    try {
      const r = parseReference(pattern);
      spellings.push(hasTag ? r.toString() : `${r.registry}/${r.repository}`);
    } catch {
      // not a reference: only the pattern as written can match
    }
  }
  const regexes = spellings.map((s) => globRegex(s));
  return (ref) => {
    if (ref === undefined) return false;
    const subject = hasTag ? ref : ref.slice(0, tagColon(ref));
    return regexes.some((re) => re.test(subject));
  };
}

function tagColon(ref: string): number {
  const colon = ref.lastIndexOf(":");
  return colon > ref.lastIndexOf("/") ? colon : ref.length;
}

function globRegex(glob: string): RegExp {
  const body = [...glob]
    .map((c) => (c === "*" ? "[^/]*" : c === "?" ? "[^/]" : c.replace(/[.+^${}()|[\]\\]/g, "\\$&")))
    .join("");
  return new RegExp(`^${body}$`);
}

/** How long ago `timestamp` was, in docker's words (`3 days ago`); the timestamp itself when it does not parse. */
export function humanDuration(timestamp: string, now: number): string {
  const then = Date.parse(timestamp);
  if (Number.isNaN(then)) return timestamp;
  const seconds = Math.max(0, Math.round((now - then) / 1000));
  const minutes = Math.round(seconds / 60);
  const hours = Math.round(seconds / 3600);
  const ago = (s: string) => `${s} ago`;
  if (seconds < 1) return ago("Less than a second");
  if (seconds < 60) return ago(seconds === 1 ? "1 second" : `${seconds} seconds`);
  if (minutes === 1) return ago("About a minute");
  if (minutes < 60) return ago(`${minutes} minutes`);
  if (hours === 1) return ago("About an hour");
  if (hours < 48) return ago(`${hours} hours`);
  if (hours < 24 * 7 * 2) return ago(`${Math.floor(hours / 24)} days`);
  if (hours < 24 * 30 * 2) return ago(`${Math.floor(hours / 24 / 7)} weeks`);
  if (hours < 24 * 365 * 2) return ago(`${Math.floor(hours / 24 / 30)} months`);
  return ago(`${Math.floor(hours / 24 / 365)} years`);
}
