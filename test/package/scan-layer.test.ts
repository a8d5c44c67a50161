import assert from "node:assert/strict";
import { Readable } from "node:stream";
import { describe, it } from "node:test";
import { MEDIA_TYPE_LOCK } from "../../src/oci/mediaTypes.js";
import { FILE_LAYER_KEPT_BYTES, scanLayer } from "../../src/package/fileIndex.js";
import { sha256 } from "../helpers/fileTree.js";

const lockLayer = (bytes: Buffer) => ({
  mediaType: MEDIA_TYPE_LOCK,
  digest: sha256(bytes),
  size: bytes.length,
  annotations: { "org.opencontainers.image.title": "agentrc.lock" },
});

/** The bytes in chunks of 64 KiB, as a blob stream delivers them. */
const chunked = (bytes: Buffer) =>
  Readable.from(
    Array.from({ length: Math.ceil(bytes.length / 65536) }, (_, i) =>
      bytes.subarray(i * 65536, (i + 1) * 65536),
    ),
  );

describe("scanLayer of a file layer", () => {
  it("keeps the bytes of a small one, so that verify's lock check does not read the blob again", async () => {
    const bytes = Buffer.from(JSON.stringify({ lockfileVersion: 1, padding: "x".repeat(200_000) }));
    const scan = await scanLayer(chunked(bytes), lockLayer(bytes));
    assert.deepEqual(scan.content, bytes);
    assert.equal(scan.digest, sha256(bytes));
    assert.deepEqual(
      scan.entries.map((e) => [e.path, e.type, e.sha256, e.size]),
      [["agentrc.lock", "file", sha256(bytes), bytes.length]],
    );
  });

  it("keeps nothing of one over the limit, and still digests all of it", async () => {
    const bytes = Buffer.alloc(FILE_LAYER_KEPT_BYTES + 1, 0x61);
    const scan = await scanLayer(chunked(bytes), lockLayer(bytes));
    assert.equal(scan.content, undefined);
    assert.deepEqual([scan.digest, scan.size], [sha256(bytes), bytes.length]);
  });
});
