import assert from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { after, describe, it } from "node:test";
import { RegistryClient } from "../../src/registry/client.js";

/**
 * A registry (a real HTTP server on 127.0.0.1) whose tag listing never ends: every page holds `perPage` tags and a
 * `Link` to the next page.
 */
async function endlessListing(
  perPage: number,
  extra: unknown[] = [],
): Promise<{ host: string; pages: () => number }> {
  let pages = 0;
  const server = createServer((req, res) => {
    const page = Number(new URL(req.url ?? "/", "http://x").searchParams.get("page") ?? 0);
    pages++;
    const tags = [...extra, ...Array.from({ length: perPage }, (_, i) => `p${page}-t${i}`)];
    res.writeHead(200, {
      "content-type": "application/json",
      link: `</v2/team/agent/tags/list?page=${page + 1}>; rel="next"`,
    });
    res.end(JSON.stringify({ name: "team/agent", tags }));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  after(() => new Promise((resolve) => server.close(resolve)));
  return { host: `127.0.0.1:${(server.address() as AddressInfo).port}`, pages: () => pages };
}

describe("tag listing holds one page, not every page", () => {
  it("an endless listing of 3 MB pages is refused past maxTags, after the page that crossed it", async () => {
    const { host, pages } = await endlessListing(200_000);
    const client = new RegistryClient(host, { retry: { retries: 0 } });
    after(() => client.close());
    await assert.rejects(
      () => client.listTags("team/agent", { maxTags: 500_000 }),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, "REGISTRY_BAD_RESPONSE");
        assert.equal(
          err.message,
          "list tags of team/agent: more than 500000 tags (the registry keeps sending pages)",
        );
        return true;
      },
    );
    assert.equal(pages(), 3);
  });

  it("tagPages streams: stopping after two pages asks for two pages", async () => {
    const { host, pages } = await endlessListing(3, ["ok", "x".repeat(200), 5, "bad tag", null, "-dash"]);
    const client = new RegistryClient(host, { retry: { retries: 0 } });
    after(() => client.close());
    const seen: string[][] = [];
    for await (const page of client.tagPages("team/agent")) {
      seen.push(page);
      if (seen.length === 2) break;
    }
    assert.deepEqual(seen, [
      ["ok", "p0-t0", "p0-t1", "p0-t2"],
      ["ok", "p1-t0", "p1-t1", "p1-t2"],
    ]);
    assert.equal(pages(), 2);
  });
});

describe("a Link header that is not a URL", () => {
  it("is REGISTRY_BAD_RESPONSE, not a TypeError (found by the registry fuzz)", async () => {
    const server = createServer((_req, res) => {
      res.writeHead(200, { "content-type": "application/json", link: "<http://[::1>; rel=next" });
      res.end('{"tags":["1"]}');
    });
    await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
    after(() => new Promise((resolve) => server.close(resolve)));
    const client = new RegistryClient(`127.0.0.1:${(server.address() as AddressInfo).port}`, {
      retry: { retries: 0 },
    });
    after(() => client.close());
    await assert.rejects(
      () => client.listTags("team/agent"),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, "REGISTRY_BAD_RESPONSE");
        assert.equal(
          err.message,
          'list tags of team/agent: the Link header\'s next page "http://[::1" is not a URL',
        );
        return true;
      },
    );
  });
});
