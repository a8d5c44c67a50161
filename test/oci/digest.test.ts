import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { test } from "node:test";
import {
  assertSha256Digest,
  digestFile,
  digestStream,
  HashingStream,
  isDigest,
  isSha256Digest,
  parseDigest,
  sha256Digest,
  sha256Hex,
} from "../../src/oci/digest.js";
import { collect, expectCode, tempDir } from "./helpers.js";

const ABC = "sha256:ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad";

test("sha256Digest hashes bytes and UTF-8 strings", () => {
  assert.equal(sha256Digest("abc"), ABC);
  assert.equal(sha256Digest(Buffer.from("abc")), ABC);
  assert.equal(sha256Hex(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

test("digest validation", async () => {
  assert.ok(isDigest(ABC));
  assert.ok(isSha256Digest(ABC));
  assert.ok(isDigest(`sha512:${"a".repeat(128)}`));
  assert.ok(!isSha256Digest(`sha512:${"a".repeat(128)}`));
  for (const bad of [
    "",
    "sha256:",
    "sha256:abc",
    ABC.toUpperCase(),
    `${ABC}0`,
    `sha256:${"g".repeat(64)}`,
    `md5:${"a".repeat(32)}`,
    ` ${ABC}`,
    ABC.replace(":", "/"),
  ]) {
    assert.equal(isDigest(bad), false, bad);
  }
  assert.deepEqual(parseDigest(ABC), { algorithm: "sha256", encoded: ABC.slice(7) });
  await expectCode(() => parseDigest("sha256:xyz"), "OCI_DIGEST_INVALID", /Invalid digest "sha256:xyz"/);
  await expectCode(
    () => assertSha256Digest(`sha512:${"a".repeat(128)}`),
    "OCI_DIGEST_INVALID",
    /Invalid sha256 digest/,
  );
  assert.equal(assertSha256Digest(ABC), ABC);
});

test("HashingStream passes bytes through unchanged and counts them", async (t) => {
  const h = new HashingStream();
  const chunks = [Buffer.from("a"), Buffer.from("bc")];
  const out: Buffer[] = [];
  await pipeline(Readable.from(chunks), h, async (source: AsyncIterable<Buffer>) => {
    out.push(await collect(source));
  });
  assert.equal(Buffer.concat(out).toString(), "abc");
  assert.equal(h.digest, ABC);
  assert.equal(h.size, 3);
  assert.deepEqual(h.result, { digest: ABC, size: 3 });
  assert.throws(() => new HashingStream().digest, /before the stream finished/);

  assert.deepEqual(await digestStream(Readable.from([Buffer.from("ab"), Buffer.from("c")])), {
    digest: ABC,
    size: 3,
  });
  const dir = await tempDir(t);
  await writeFile(join(dir, "f"), "abc");
  assert.deepEqual(await digestFile(join(dir, "f")), { digest: ABC, size: 3 });
});
