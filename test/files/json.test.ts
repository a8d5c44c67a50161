import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { checkJsonSchema, parseJsonSource, schemaDraft } from "../../src/core.js";

describe("parseJsonSource", () => {
  it("parses like JSON.parse and locates values by JSON pointer", () => {
    const text = '\uFEFF{\n  "a": [1, {"b/c": "x"}],\n  "t~": true,\n  "n": null, "e": -1.5e3\n}';
    const r = parseJsonSource(text);
    assert.ok(r.ok);
    assert.deepEqual(r.value, JSON.parse(text.slice(1)));
    assert.deepEqual(r.locate(""), { line: 1, column: 1 });
    assert.deepEqual(r.locate("/a"), { line: 2, column: 8 });
    assert.deepEqual(r.locate("/a/1/b~1c"), { line: 2, column: 20 });
    assert.deepEqual(r.locate("/t~0"), { line: 3, column: 9 });
    assert.deepEqual(r.locate("/e"), { line: 4, column: 19 });
    assert.deepEqual(
      r.locate("/a/1/missing/deeper"),
      { line: 2, column: 12 },
      "falls back to the closest parent",
    );
  });

  it("keeps __proto__ as a plain key", () => {
    const r = parseJsonSource('{"__proto__": {"x": 1}}');
    assert.ok(r.ok);
    assert.deepEqual(Object.keys(r.value as object), ["__proto__"]);
    assert.equal(Object.getPrototypeOf(r.value), Object.prototype);
  });

  it("reports syntax errors with a line and column", () => {
    const cases: Array<[string, string, number, number]> = [
      ['{\n  "a": 1,\n}', "expected a property name", 3, 1],
      ['{"a" 1}', "expected ':'", 1, 6],
      ["[1 2]", "expected ',' or ']'", 1, 4],
      ['"abc', "unterminated string", 1, 1],
      ['"a\\qb"', "invalid escape", 1, 3],
      ['"a\tb"', "unescaped control character", 1, 3],
      ["{} x", "after the JSON value", 1, 4],
      ["", "unexpected end of input", 1, 1],
      ["01", "after the JSON value", 1, 2],
      ["tru", "expected a JSON value", 1, 1],
    ];
    for (const [text, message, line, column] of cases) {
      const r = parseJsonSource(text);
      assert.ok(!r.ok, text);
      assert.match(r.message, new RegExp(message.replace(/[()[\]]/g, "\\$&")), text);
      assert.deepEqual(r.position, { line, column }, text);
    }
  });
});

describe("checkJsonSchema", () => {
  it("picks the draft from $schema (2020-12 when absent) and refuses unknown drafts", () => {
    assert.equal(schemaDraft(undefined), "2020-12");
    assert.equal(schemaDraft("http://json-schema.org/draft-07/schema#"), "draft-07");
    assert.equal(schemaDraft("https://json-schema.org/draft/2020-12/schema"), "2020-12");
    assert.equal(schemaDraft("http://json-schema.org/draft-04/schema#"), undefined);
    assert.deepEqual(checkJsonSchema({ type: "object" }), { ok: true, draft: "2020-12" });
    assert.deepEqual(checkJsonSchema(true), { ok: true, draft: "2020-12" });
    const r = checkJsonSchema({ $schema: "http://json-schema.org/draft-04/schema#" });
    assert.ok(!r.ok);
    assert.equal(r.errors[0]!.pointer, "/$schema");
  });

  it("draft-07 and 2020-12 differ: items as an array is draft-07 only", () => {
    const tuple = { items: [{ type: "string" }] };
    assert.ok(checkJsonSchema({ $schema: "http://json-schema.org/draft-07/schema#", ...tuple }).ok);
    const r = checkJsonSchema(tuple);
    assert.ok(!r.ok);
    assert.equal(r.errors[0]!.pointer, "/items");
  });

  it("reports one error per pointer and compile failures at the root; $id may repeat across schemas", () => {
    const r = checkJsonSchema({ properties: { a: { type: "nope" }, b: { minimum: "x" } } });
    assert.ok(!r.ok);
    assert.deepEqual(
      r.errors.map((e) => e.pointer),
      ["/properties/a/type", "/properties/b/minimum"],
    );
    const ref = checkJsonSchema({ $ref: "https://example.com/remote.json" });
    assert.ok(!ref.ok);
    assert.match(ref.errors[0]!.message, /does not compile: can't resolve reference/);
    const withId = { $id: "https://example.com/s.json", type: "string" };
    assert.ok(checkJsonSchema(withId).ok);
    assert.ok(checkJsonSchema({ ...withId, type: "number" }).ok);
  });
});
