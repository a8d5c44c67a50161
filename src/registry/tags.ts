import { createHash } from "node:crypto";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { repositoryScope } from "./challenge.js";
import { readCapped, statusError } from "./errors.js";
import type { RegistryHttp } from "./http.js";

const PAGE_LIMIT = 4 * 1024 * 1024;
const MAX_PAGES = 10_000;
/** Tags `listTags` collects at most (default): a registry's endless listing must not grow memory without bound. */
export const DEFAULT_MAX_TAGS = 1_000_000;
/** The tag grammar of the distribution spec; anything else in a listing is dropped. */
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;

export interface ListTagsOptions {
  /** `n=` page size to ask for. */
  pageSize?: number;
  /** listTags: refuse a listing with more tags than this (default 1,000,000); tagPages has no limit. */
  maxTags?: number;
}

/**
 * The `rel="next"` target of a `Link` header, resolved against the request URL; REGISTRY_BAD_RESPONSE (naming
 * `what`) when it is not a URL.
 */
export function nextLink(header: string | undefined, base: URL, what = "a registry reply"): URL | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (!m || !/;\s*rel="?next"?/i.test(m[2]!)) continue;
    try {
      return new URL(m[1]!, base);
    } catch {
      throw new AgentrcError(
        "REGISTRY_BAD_RESPONSE",
        `${what}: the Link header's next page ${JSON.stringify(m[1]!.slice(0, 200))} is not a URL`,
      );
    }
  }
  return undefined;
}

/**
 * The tags of a repository one page at a time, following `Link: <…>; rel="next"`: only the current page is held in
 * memory, and a caller that stops iterating stops the listing. Names outside the tag grammar are dropped.
 */
export async function* tagPages(
  http: RegistryHttp,
  repository: string,
  options: Pick<ListTagsOptions, "pageSize"> = {},
): AsyncGenerator<string[]> {
  let url: URL | undefined = http.url(`/v2/${repository}/tags/list`);
  if (options.pageSize !== undefined) url.searchParams.set("n", String(options.pageSize));
  const seen = new Set<string>();
  for (let page = 0; url && page < MAX_PAGES; page++) {
    // Hashed: a hostile registry's next links can be long, and there may be MAX_PAGES of them.
    const key = createHash("sha256").update(url.href).digest("base64");
    if (seen.has(key)) throw loop(repository);
    seen.add(key);
    const res = await http.request({ method: "GET", url, scopes: [repositoryScope(repository, "pull")] });
    if (res.status !== 200) throw await statusError(res, `list tags of ${repository}`);
    const body = await readCapped(
      res.body,
      PAGE_LIMIT,
      () => new AgentrcError("REGISTRY_BAD_RESPONSE", `list tags of ${repository}: page larger than 4 MiB`),
    );
    let parsed: { tags?: unknown };
    try {
      parsed = JSON.parse(body.toString("utf8"));
    } catch {
      throw new AgentrcError("REGISTRY_BAD_RESPONSE", `list tags of ${repository}: reply is not JSON`);
    }
    if (parsed === null || typeof parsed !== "object") {
      throw new AgentrcError("REGISTRY_BAD_RESPONSE", `list tags of ${repository}: reply is not an object`);
    }
    if (parsed.tags !== null && parsed.tags !== undefined && !Array.isArray(parsed.tags)) {
      throw new AgentrcError("REGISTRY_BAD_RESPONSE", `list tags of ${repository}: "tags" is not a list`);
    }
    const tags: string[] = [];
    for (const t of (parsed.tags as unknown[] | null | undefined) ?? []) {
      if (typeof t === "string" && TAG_RE.test(t)) tags.push(t);
    }
    url = nextLink(res.headers.link, res.url, `list tags of ${repository}`);
    yield tags;
  }
}

/** Every tag of a repository (see tagPages), refused past `maxTags` instead of growing without bound. */
export async function listTags(
  http: RegistryHttp,
  repository: string,
  options: ListTagsOptions = {},
): Promise<string[]> {
  const max = options.maxTags ?? DEFAULT_MAX_TAGS;
  const tags: string[] = [];
  for await (const page of tagPages(http, repository, options)) {
    if (tags.length + page.length > max) {
      throw new AgentrcError(
        "REGISTRY_BAD_RESPONSE",
        `list tags of ${repository}: more than ${max} tags (the registry keeps sending pages)`,
        { hint: "Page through the tags with RegistryClient.tagPages() instead, or raise maxTags." },
      );
    }
    for (const t of page) tags.push(t);
  }
  return tags;
}

function loop(repository: string): AgentrcError {
  return new AgentrcError("REGISTRY_BAD_RESPONSE", `list tags of ${repository}: pagination loops`);
}
