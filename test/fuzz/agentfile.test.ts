import assert from "node:assert/strict";
import { readdirSync, readFileSync } from "node:fs";
import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { BUILTIN_DIRECTIVES, parseAgentfile } from "../../src/core.js";
import { lint } from "../../src/index.js";
import { FIXTURES } from "../helpers/build.js";
import { testdir } from "../helpers/testdir.js";
import { assertHandledCode, fuzzParameters } from "./settings.js";

/** Every fixture's Agentfile (valid and invalid): realistic starting points for mutations. */
const SEEDS: string[] = ["valid", "invalid"].flatMap((kind) =>
  readdirSync(join(FIXTURES, kind)).flatMap((name) => {
    try {
      return [readFileSync(join(FIXTURES, kind, name, "Agentfile"), "utf8")];
    } catch {
      return [];
    }
  }),
);

const WORDS = [
  ...BUILTIN_DIRECTIVES.map((d) => d.name),
  "END",
  "allow",
  "Tool",
  "FROMM",
  "#",
  "\\",
  "POLICY",
  "SOP",
];

/** Argument words that reach the interesting paths (globs, references, URLs, secrets, paths, Cedar), and noise. */
const token = fc.oneof(
  fc.constantFrom(
    "*",
    "utcp:x",
    "mcp:files",
    "env:TOKEN",
    "vault://kv/x#k",
    "hunter2",
    "https://api.example.com/v1",
    "https://user:pw@api.example.com",
    "ws://h:99999",
    "oci://localhost:5000/skills/x:1",
    "localhost:5000/base@sha256:00",
    "scratch",
    "/etc",
    "/",
    "..",
    "../outside",
    "skills/*",
    "**/*.md",
    "{a,b}",
    "[!x]",
    "tools/t.json",
    "fn.py:main",
    "host:api.example.com",
    "inject:header",
    "10/min",
    "0/s",
    "99999999999999999999/h",
    "5s",
    "1e9",
    "copy",
    "rw",
    "basic",
    '"quoted word"',
    "'single",
    '"unterminated',
    '["sh","-c"]',
    "[",
    "{}",
    "otlp://collector:4317",
    "cpu=2",
    "key:value",
    "ghp_AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
    "-----BEGIN RSA PRIVATE KEY-----",
    "x".repeat(5000),
  ),
  fc.string({ unit: "binary", maxLength: 24 }),
  fc.string({ unit: "grapheme-ascii", maxLength: 40 }),
);

const line = fc.oneof(
  {
    weight: 10,
    arbitrary: fc
      .tuple(
        fc.constantFrom(...WORDS),
        fc.array(token, { maxLength: 6 }),
        fc.constantFrom("", " \\", " # c", "\t"),
      )
      .map(([name, args, tail]) => `${[name, ...args].join(" ")}${tail}`),
  },
  { weight: 1, arbitrary: fc.string({ unit: "binary", maxLength: 80 }) },
  {
    weight: 2,
    arbitrary: fc.constantFrom(
      "END",
      "POLICY",
      "SOP review",
      "permit (principal, action, resource);",
      'forbid (principal, action == AgentRC::Action::"tool.invoke", resource) when { context.x };',
      "@id(",
      "# comment",
      "",
      "   ",
      "\\",
      "\u0000",
      "\uFEFF",
      "\uD800",
    ),
  },
);

const generated = fc
  .tuple(fc.boolean(), fc.array(line, { maxLength: 25 }), fc.constantFrom("\n", "\r\n", "\r"), fc.boolean())
  .map(
    ([agent, lines, eol, bom]) => `${bom ? "\uFEFF" : ""}${[agent ? "AGENT fuzz" : "", ...lines].join(eol)}`,
  );

/** A fixture's Agentfile with some lines replaced, duplicated or cut, and some characters flipped. */
const mutated = fc
  .tuple(
    fc.constantFrom(...SEEDS),
    fc.array(fc.tuple(fc.nat(), fc.nat(4), line), { maxLength: 6 }),
    fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 0xffff })), { maxLength: 6 }),
  )
  .map(([seed, edits, flips]) => {
    const lines = seed.split("\n");
    for (const [at, op, text] of edits) {
      const i = lines.length === 0 ? 0 : at % lines.length;
      if (op === 0) lines.splice(i, 1);
      else if (op === 1) lines.splice(i, 0, text);
      else if (op === 2) lines.splice(i, 0, lines[i] ?? "");
      else if (op === 3) lines[i] = (lines[i] ?? "").slice(0, at % 7);
      else lines[i] = text;
    }
    const chars = [...lines.join("\n")];
    for (const [at, code] of flips)
      if (chars.length > 0) chars[at % chars.length] = String.fromCharCode(code);
    return chars.join("");
  });

const agentfile = fc.oneof(generated, mutated);

function checkDiagnostics(
  diagnostics: readonly { code: string; severity: string; location?: { line: number } }[],
  text: string,
): void {
  const lines = text.split(/\r\n|\n|\r/).length;
  for (const d of diagnostics) {
    assertHandledCode(d.code, `${d.code} for ${JSON.stringify(text.slice(0, 300))}`);
    assert.ok(d.severity === "error" || d.severity === "warning");
    if (d.location) assert.ok(d.location.line >= 0 && d.location.line <= lines + 1, JSON.stringify(d));
  }
}

describe("fuzz: mutated Agentfiles", () => {
  it("parse never throws and reports only catalogued codes", () => {
    fc.assert(
      fc.property(agentfile, (text) => {
        const { diagnostics } = parseAgentfile(text);
        checkDiagnostics(diagnostics, text);
      }),
      fuzzParameters(4000),
    );
  });

  it("lint in-process never rejects, never reports INTERNAL or PLUGIN_FAILED", async () => {
    const dir = await testdir({
      "skills/review/SKILL.md": "---\nname: review\n---\nReview.\n",
      "tools/t.json": '{"name":"t","description":"d","inputSchema":{"type":"object"}}',
      "fn.py": "def main():\n  pass\n",
      "policy/p.cedar": "permit (principal, action, resource);\n",
      "docs/a.md": "# a\n",
    });
    const cacheDir = join(dir, ".cache");
    await mkdir(cacheDir, { recursive: true });
    await fc.assert(
      fc.asyncProperty(agentfile, async (text) => {
        await writeFile(join(dir, "Agentfile"), text, "utf8");
        const result = await lint({ dir, cacheDir });
        checkDiagnostics(result.diagnostics, text);
      }),
      fuzzParameters(400),
    );
  });
});
