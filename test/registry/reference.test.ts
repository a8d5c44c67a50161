import assert from "node:assert/strict";
import { describe, test } from "node:test";
import { parseReference, parseRegistryHost } from "../../src/registry/reference.js";

const D = `sha256:${"a".repeat(64)}`;

describe("parseReference", () => {
  const cases: [string, string, string, string, string | undefined, string | undefined][] = [
    // input, registry, endpoint, repository, tag, digest
    ["alpine", "docker.io", "registry-1.docker.io", "library/alpine", "latest", undefined],
    ["alpine:3.20", "docker.io", "registry-1.docker.io", "library/alpine", "3.20", undefined],
    ["acme/app", "docker.io", "registry-1.docker.io", "acme/app", "latest", undefined],
    ["index.docker.io/acme/app:1", "docker.io", "registry-1.docker.io", "acme/app", "1", undefined],
    ["docker.io/alpine", "docker.io", "registry-1.docker.io", "library/alpine", "latest", undefined],
    ["ghcr.io/acme/reviewer:1.0", "ghcr.io", "ghcr.io", "acme/reviewer", "1.0", undefined],
    ["oci://ghcr.io/acme/reviewer:1.0", "ghcr.io", "ghcr.io", "acme/reviewer", "1.0", undefined],
    ["localhost/app", "localhost", "localhost", "app", "latest", undefined],
    ["localhost:5000/a/b/c:t", "localhost:5000", "localhost:5000", "a/b/c", "t", undefined],
    ["127.0.0.1:5000/app@" + D, "127.0.0.1:5000", "127.0.0.1:5000", "app", undefined, D],
    ["[::1]:5000/app:v1@" + D, "[::1]:5000", "[::1]:5000", "app", "v1", D],
    [
      "Registry.Example.com/x__y.z-w",
      "registry.example.com",
      "registry.example.com",
      "x__y.z-w",
      "latest",
      undefined,
    ],
  ];
  for (const [input, registry, endpoint, repository, tag, digest] of cases) {
    test(input, () => {
      const ref = parseReference(input);
      assert.equal(ref.registry, registry);
      assert.equal(ref.endpoint, endpoint);
      assert.equal(ref.repository, repository);
      assert.equal(ref.tag, tag);
      assert.equal(ref.digest, digest);
      assert.equal(parseReference(ref.toString()).toString(), ref.toString());
    });
  }

  test("toString is fully qualified and the digest wins as the target", () => {
    assert.equal(parseReference("alpine").toString(), "docker.io/library/alpine:latest");
    const ref = parseReference(`oci://localhost:5000/app:v1@${D}`);
    assert.equal(ref.toString(), `localhost:5000/app:v1@${D}`);
    assert.equal(ref.target, D);
    assert.equal(ref.withTag("v2").toString(), "localhost:5000/app:v2");
  });

  test("loopback hosts imply plain HTTP", () => {
    assert.equal(parseReference("localhost:5000/a").isLoopback, true);
    assert.equal(parseReference("127.0.0.1/a").isLoopback, true);
    assert.equal(parseReference("[::1]:5000/a").isLoopback, true);
    assert.equal(parseReference("example.com/a").isLoopback, false);
    assert.equal(parseReference("alpine").isLoopback, false);
  });

  const invalid: [string, RegExp][] = [
    ["", /empty reference/],
    ["ghcr.io/Acme/app", /invalid repository name "Acme\/app"/],
    ["ghcr.io/acme/app:-bad", /invalid tag "-bad"/],
    [`ghcr.io/acme/app:${"t".repeat(129)}`, /invalid tag/],
    ["ghcr.io/acme/app@sha256:abc", /invalid digest "sha256:abc"/],
    [`ghcr.io/acme/app@sha256:${"A".repeat(64)}`, /invalid digest/],
    ["ghcr.io/", /has no repository name/],
    ["ghcr.io:99999/app", /invalid registry host "ghcr.io:99999"/],
    ["https://ghcr.io/app", /unsupported URL scheme/],
    ["ghcr.io/a b", /contains whitespace/],
    ["ghcr.io/a//b", /invalid repository name/],
    [`ghcr.io/${"a".repeat(250)}`, /longer than 255 characters/],
  ];
  for (const [input, message] of invalid) {
    test(`rejects ${JSON.stringify(input.slice(0, 40))}`, () => {
      assert.throws(
        () => parseReference(input),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, "REFERENCE_INVALID");
          assert.match(err.message, message);
          return true;
        },
      );
    });
  }

  test("registry hosts", () => {
    assert.equal(parseRegistryHost("https://index.docker.io/"), "docker.io");
    assert.equal(parseRegistryHost("127.0.0.1:5000"), "127.0.0.1:5000");
    assert.throws(() => parseRegistryHost("bad host"), /invalid registry host/);
  });
});
