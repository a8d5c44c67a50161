import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { Authenticator } from "../../src/registry/auth.js";
import { mergeScopes, parseChallenges } from "../../src/registry/challenge.js";
import { referrersTag } from "../../src/registry/referrers.js";
import { backoffDelay, DEFAULT_RETRY, parseRetryAfter } from "../../src/registry/retry.js";
import { nextLink } from "../../src/registry/tags.js";
import { redactHeaders, redactUrl } from "../../src/registry/trace.js";
import { Transport } from "../../src/registry/transport.js";
import { mapLimit } from "../../src/util/mapLimit.js";

describe("protocol helpers", () => {
  test("WWW-Authenticate: several challenges, quoted strings with escapes and commas", () => {
    const header =
      'Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push repository:c:pull",error="insufficient_scope", Basic realm="say \\"hi\\""';
    assert.deepEqual(parseChallenges(header), [
      {
        scheme: "bearer",
        params: {
          realm: "https://auth.example/token",
          service: "registry.example",
          scope: "repository:a/b:pull,push repository:c:pull",
          error: "insufficient_scope",
        },
      },
      { scheme: "basic", params: { realm: 'say "hi"' } },
    ]);
    assert.deepEqual(parseChallenges("BASIC realm=plain"), [{ scheme: "basic", params: { realm: "plain" } }]);
    assert.deepEqual(parseChallenges(undefined), []);
  });

  test("scopes on one resource merge into a stable key", () => {
    assert.deepEqual(
      mergeScopes(
        ["repository:a/b:push", "repository:a/b:pull"],
        ["repository:c:pull repository:a/b:delete"],
      ),
      ["repository:a/b:delete,pull,push", "repository:c:pull"],
    );
    assert.deepEqual(mergeScopes(["registry:catalog:*"]), ["registry:catalog:*"]);
  });

  test("Retry-After: delta seconds and HTTP dates; backoff is jittered and capped", () => {
    assert.equal(parseRetryAfter("3"), 3000);
    const now = Date.parse("2026-01-01T00:00:00Z");
    assert.equal(parseRetryAfter("Thu, 01 Jan 2026 00:00:05 GMT", now), 5000);
    assert.equal(parseRetryAfter("Thu, 01 Jan 2025 00:00:05 GMT", now), 0);
    assert.equal(parseRetryAfter("soon"), undefined);
    assert.equal(parseRetryAfter(undefined), undefined);
    assert.equal(
      backoffDelay(3, DEFAULT_RETRY, () => 0.5),
      1000,
    );
    assert.equal(
      backoffDelay(30, DEFAULT_RETRY, () => 0.999999),
      DEFAULT_RETRY.maxDelayMs - 1,
    );
  });

  test("Link rel=next, relative or absolute", () => {
    const base = new URL("https://r.example/v2/a/tags/list?n=2");
    assert.equal(
      nextLink('</v2/a/tags/list?last=b&n=2>; rel="next"', base)?.href,
      "https://r.example/v2/a/tags/list?last=b&n=2",
    );
    assert.equal(nextLink("<https://cdn.example/x>; rel=next", base)?.href, "https://cdn.example/x");
    assert.equal(nextLink('</a>; rel="prev", </b>; rel="next"', base)?.href, "https://r.example/b");
    assert.equal(nextLink(undefined, base), undefined);
  });

  test("referrers tag schema", () => {
    assert.equal(referrersTag(`sha256:${"ab".repeat(32)}`), `sha256-${"ab".repeat(32)}`);
    assert.equal(referrersTag(`sha512:${"c".repeat(128)}`), `sha512-${"c".repeat(64)}`);
  });

  test("redaction keeps schemes and hides secrets", () => {
    assert.deepEqual(redactHeaders({ Authorization: "Bearer abc.def", accept: "x" }), {
      Authorization: "Bearer <redacted>",
      accept: "x",
    });
    assert.equal(
      redactUrl("https://user:pw@s3.example/blob?X-Amz-Signature=abc&X-Amz-Credential=k&part=1"),
      "https://redacted@s3.example/blob?X-Amz-Signature=redacted&X-Amz-Credential=redacted&part=1",
    );
  });

  test("mapLimit bounds concurrency, keeps order and reports the first failure", async () => {
    let running = 0;
    let peak = 0;
    const out = await mapLimit([5, 1, 4, 2, 3], 2, async (n) => {
      running++;
      peak = Math.max(peak, running);
      await new Promise((r) => setTimeout(r, n * 2));
      running--;
      return n * 10;
    });
    assert.deepEqual(out, [50, 10, 40, 20, 30]);
    assert.equal(peak, 2);
    const started: number[] = [];
    await assert.rejects(
      mapLimit([1, 2, 3, 4], 1, async (n) => {
        started.push(n);
        if (n === 2) throw new Error("boom");
      }),
      /boom/,
    );
    assert.deepEqual(started, [1, 2]);
  });

  test("an https registry's token realm must be https; realms must be http(s) without userinfo", async () => {
    const transport = new Transport({ proxy: false });
    const auth = new Authenticator({
      origin: "https://registry.example",
      transport,
      retry: DEFAULT_RETRY,
      credentials: async () => ({ username: "u", password: "p" }),
    });
    const refused = (message: RegExp) => (err: Error & { code?: string }) => {
      assert.equal(err.code, "REGISTRY_AUTH_CHALLENGE_INVALID");
      assert.match(err.message, message);
      return true;
    };
    try {
      await assert.rejects(
        auth.onChallenge('Bearer realm="http://auth.example/token"', [], undefined),
        refused(/token realm http:\/\/auth\.example\/token is plain http for an https registry/),
      );
      await assert.rejects(
        auth.onChallenge('Bearer realm="https://u:p@auth.example/token"', [], undefined),
        refused(/carries userinfo/),
      );
      await assert.rejects(
        auth.onChallenge('Bearer service="x"', [], undefined),
        refused(/has no valid realm/),
      );
      assert.deepEqual(
        await auth.onChallenge(
          'Bearer realm="https://auth.example/token",scope="repository:a:pull"',
          [],
          undefined,
        ),
        {
          retry: true,
          scopes: ["repository:a:pull"],
        },
      );
    } finally {
      await transport.close();
    }
  });
});
