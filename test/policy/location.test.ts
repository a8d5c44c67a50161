import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { lineColumn, locateOffset, utf16Index, utf16Indexer } from "../../plugins/policy/location.js";

describe("Cedar byte offsets to lines and UTF-16 columns", () => {
  it("converts UTF-8 byte offsets to UTF-16 indices", () => {
    const text = "é😀x";
    assert.equal(utf16Index(text, 0), 0);
    assert.equal(utf16Index(text, 2), 1); // é is 2 bytes, 1 unit
    assert.equal(utf16Index(text, 6), 3); // 😀 is 4 bytes, 2 units
    assert.equal(utf16Index(text, 99), text.length);
  });

  it("counts \\n, \\r\\n and \\r as line ends", () => {
    assert.deepEqual(lineColumn("ab\ncd", 4), { line: 2, column: 2 });
    assert.deepEqual(lineColumn("ab\r\ncd", 5), { line: 2, column: 2 });
    assert.deepEqual(lineColumn("ab\rcd\ne", 6), { line: 3, column: 1 });
    assert.deepEqual(locateOffset("// ü\nx y", Buffer.byteLength("// ü\nx ")), { line: 2, column: 3 });
  });
});

describe("utf16Indexer", () => {
  it("gives utf16Index's answers for offsets in any order, ASCII or not", () => {
    for (const text of ["plain ascii text", 'é😀x // ü\nAgentRC::Tool::"ß"']) {
      const index = utf16Indexer(text);
      const offsets = [0, 1, 2, 3, 6, 7, 9, Buffer.byteLength(text), 2, 0, 99];
      assert.deepEqual(
        offsets.map(index),
        offsets.map((o) => utf16Index(text, o)),
      );
    }
  });
});
