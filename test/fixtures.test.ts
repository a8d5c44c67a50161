import assert from "node:assert/strict";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, it } from "node:test";
import { lint } from "../src/index.js";

/**
 * One runner for every fixture case: a case is a folder. `fixtures/valid/<name>/` must lint without errors;
 * `fixtures/invalid/<name>/` must give exactly the diagnostics in its expected.json (valid cases may list their
 * expected warnings the same way). expected.json: { description, diagnostics: [{ code, line, column, file? }] }.
 */
interface Expected {
  description: string;
  diagnostics: Array<{ code: string; line: number; column: number; file?: string }>;
}

const root = new URL("../fixtures/", import.meta.url).pathname;

function cases(group: string): string[] {
  return readdirSync(join(root, group), { withFileTypes: true })
    .filter((d) => d.isDirectory())
    .map((d) => d.name)
    .sort();
}

function readExpected(dir: string): Expected | undefined {
  const file = join(dir, "expected.json");
  return existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as Expected) : undefined;
}

const key = (d: { code: string; line: number; column: number; file?: string }) =>
  `${d.file ?? "Agentfile"}:${d.line}:${d.column} ${d.code}`;

async function actual(dir: string): Promise<string[]> {
  const result = await lint({ dir });
  return result.diagnostics.map((d) =>
    key({
      code: d.code,
      file: d.location?.file ?? "",
      line: d.location?.line ?? 0,
      column: d.location?.column ?? 0,
    }),
  );
}

describe("valid fixtures lint without errors", () => {
  for (const name of cases("valid")) {
    it(name, async () => {
      const dir = join(root, "valid", name);
      const expected = readExpected(dir)?.diagnostics ?? [];
      assert.deepEqual((await actual(dir)).sort(), expected.map(key).sort());
    });
  }
});

describe("invalid fixtures give exactly their expected diagnostics", () => {
  for (const name of cases("invalid")) {
    it(name, async () => {
      const dir = join(root, "invalid", name);
      const expected = readExpected(dir);
      assert.ok(expected, `${name} has no expected.json`);
      assert.ok(expected.diagnostics.length > 0, `${name}: an invalid case expects at least one diagnostic`);
      assert.deepEqual((await actual(dir)).sort(), expected.diagnostics.map(key).sort());
    });
  }
});

describe("the valid fixtures together use every built-in directive", () => {
  it("covers the whole directive table", async () => {
    const { BUILTIN_DIRECTIVES, parseAgentfile } = await import("../src/index.js");
    const used = new Set<string>();
    for (const group of ["valid", "agents"]) {
      for (const name of cases(group)) {
        const file = join(root, group, name, "Agentfile");
        if (!existsSync(file)) continue;
        for (const d of parseAgentfile(readFileSync(file, "utf8")).spec.directives) used.add(d.directive);
      }
    }
    const missing = BUILTIN_DIRECTIVES.map((d) => d.name).filter((n) => !used.has(n));
    assert.deepEqual(missing, []);
    assert.ok(cases("valid").length >= 10, "at least 10 valid fixtures");
    assert.ok(cases("invalid").length >= 30, "at least 30 invalid fixtures");
  });
});
