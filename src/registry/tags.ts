import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { repositoryScope } from "./challenge.js";
import { readCapped, statusError } from "./errors.js";
import type { RegistryHttp } from "./http.js";

const PAGE_LIMIT = 4 * 1024 * 1024;
const MAX_PAGES = 10_000;

/** The `rel="next"` target of a `Link` header, resolved against the request URL. */
export function nextLink(header: string | undefined, base: URL): URL | undefined {
  if (!header) return undefined;
  for (const part of header.split(/,(?=\s*<)/)) {
    const m = /^\s*<([^>]*)>(.*)$/.exec(part);
    if (m && /;\s*rel="?next"?/i.test(m[2]!)) return new URL(m[1]!, base);
  }
  return undefined;
}

/** Lists every tag of a repository, following `Link: <…>; rel="next"` pages. */
export async function listTags(
  http: RegistryHttp,
  repository: string,
  options: { pageSize?: number } = {},
): Promise<string[]> {
  const tags: string[] = [];
  let url: URL | undefined = http.url(`/v2/${repository}/tags/list`);
  if (options.pageSize !== undefined) url.searchParams.set("n", String(options.pageSize));
  const seen = new Set<string>();
  for (let page = 0; url && page < MAX_PAGES; page++) {
    if (seen.has(url.href)) throw loop(repository);
    seen.add(url.href);
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
    if (parsed.tags !== null && parsed.tags !== undefined && !Array.isArray(parsed.tags)) {
      throw new AgentrcError("REGISTRY_BAD_RESPONSE", `list tags of ${repository}: "tags" is not a list`);
    }
    for (const t of (parsed.tags as unknown[] | null | undefined) ?? [])
      if (typeof t === "string") tags.push(t);
    url = nextLink(res.headers.link, res.url);
  }
  return tags;
}

function loop(repository: string): AgentrcError {
  return new AgentrcError("REGISTRY_BAD_RESPONSE", `list tags of ${repository}: pagination loops`);
}
