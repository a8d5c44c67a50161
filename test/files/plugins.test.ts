import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { definesSymbol } from "../../plugins/functions/index.js";
import { lint } from "../../src/index.js";
import { skillMd } from "../helpers/skillMd.js";
import { HEAD, layer, lintDir, only, tree, where } from "./helpers.js";

const SPEC = JSON.stringify(
  {
    name: "lint",
    description: "Lints a path",
    input_schema: { type: "object", properties: { path: { type: "string" } }, required: ["path"] },
    output_schema: { $schema: "http://json-schema.org/draft-07/schema#", type: "object" },
  },
  null,
  2,
);

describe("SKILL", () => {
  it("a name and a path select every file of the skill directory into skill:<name>", async () => {
    const dir = await tree({
      Agentfile: `${HEAD}SKILL reviewer\nSKILL ./vendor/triage\n`,
      "skills/reviewer/SKILL.md": skillMd("reviewer"),
      "skills/reviewer/scripts/run.sh": { content: "#!/bin/sh\n", mode: 0o755 },
      "skills/reviewer/refs/guide.md": "guide",
      "vendor/triage/SKILL.md": skillMd("triage"),
    });
    const r = await lintDir(dir);
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(layer(r.compilation, "skill:reviewer"), [
      "skills/reviewer/SKILL.md",
      "skills/reviewer/refs/guide.md",
      "skills/reviewer/scripts/run.sh*",
    ]);
    assert.deepEqual(layer(r.compilation, "skill:triage"), ["skills/triage/SKILL.md"]);
    const file = r.compilation.files.get("skill:triage")?.get("skills/triage/SKILL.md");
    assert.equal(file?.source, join(dir, "vendor/triage/SKILL.md"));
    assert.deepEqual(file?.origin, { directive: "SKILL", line: 4, column: 1 });
  });

  it("a missing skill is FILE_NOT_FOUND, a directory without SKILL.md is SKILL_MD_MISSING, at the argument", async () => {
    const dir = await tree({
      Agentfile: `${HEAD}SKILL ghost\nSKILL   skills/empty\n`,
      "skills/empty/notes.md": "n",
    });
    const r = await lintDir(dir);
    assert.deepEqual(where(r.diagnostics), [
      "Agentfile:3:7 FILE_NOT_FOUND",
      "Agentfile:4:9 SKILL_MD_MISSING",
    ]);
    assert.match(r.diagnostics[0]!.message, /skills\/ghost.*does not exist/);
    assert.match(r.diagnostics[1]!.message, /skills\/empty\/ has no SKILL\.md/);
  });

  it("a SKILL.md agent tools would not load (no frontmatter, no description, another name) is a warning at its line, also on a cached rerun", async () => {
    const dir = await tree({
      Agentfile: `${HEAD}SKILL plain\nSKILL terse\nSKILL renamed\nSKILL good\n`,
      "skills/plain/SKILL.md": "# Plain\n",
      "skills/terse/SKILL.md": "---\nname: terse\n---\n",
      "skills/renamed/SKILL.md": "---\ndescription: Reviews.\nname: reviewer\n---\n",
      "skills/good/SKILL.md": skillMd("good"),
    });
    const cacheDir = join(dir, ".cache");
    for (const run of ["cold", "cached"]) {
      const r = await lint({ dir, cacheDir });
      assert.equal(r.errorCount, 0, `${run}: warnings only`);
      assert.equal(r.warningCount, 3, run);
      assert.deepEqual(
        r.diagnostics.map((d) => `${where([d])[0]} ${d.severity}`),
        [
          "skills/plain/SKILL.md:1:1 SKILL_FRONTMATTER_INVALID warning",
          "skills/renamed/SKILL.md:3:1 SKILL_FRONTMATTER_INVALID warning",
          "skills/terse/SKILL.md:1:1 SKILL_FRONTMATTER_INVALID warning",
        ],
        run,
      );
      const [plain, renamed, terse] = r.diagnostics;
      assert.match(plain!.message, /^skills\/plain\/SKILL\.md has no YAML frontmatter/);
      assert.equal(
        renamed!.message,
        'skills/renamed/SKILL.md names the skill "reviewer", but it is packed as skills/renamed/',
      );
      assert.match(renamed!.hint ?? "", /match the skill's directory/);
      assert.equal(terse!.message, "skills/terse/SKILL.md the frontmatter has no `description`");
    }
  });

  it("a symlink leaving the context inside a skill directory is PATH_ESCAPE and is not packed", async () => {
    const root = await tree({
      "outside.txt": "not yours",
      "agent/Agentfile": `${HEAD}SKILL reviewer\n`,
      "agent/skills/reviewer/SKILL.md": skillMd("reviewer"),
      "agent/skills/reviewer/inside.md": { symlink: "SKILL.md" },
      "agent/skills/reviewer/leak.txt": { symlink: "../../../outside.txt" },
    });
    const r = await lintDir(join(root, "agent"));
    assert.deepEqual(where(r.diagnostics), ["Agentfile:3:7 PATH_ESCAPE"]);
    assert.match(r.diagnostics[0]!.message, /skills\/reviewer\/leak\.txt.*outside the build context/);
    assert.deepEqual(layer(r.compilation, "skill:reviewer"), [
      "skills/reviewer/SKILL.md",
      "skills/reviewer/inside.md",
    ]);
  });

  it("paths leaving the context, bad names and name clashes are reported; oci:// skills are left alone", async () => {
    const dir = await tree({
      Agentfile: `${HEAD}SKILL ../elsewhere\nSKILL ./Vendor/My_Skill\nSKILL a/x\nSKILL b/x\nSKILL oci://ghcr.io/acme/skill:1\n`,
      "Vendor/My_Skill/SKILL.md": "s",
      "a/x/SKILL.md": skillMd("x"),
      "b/x/SKILL.md": skillMd("x"),
    });
    const r = await lintDir(dir);
    assert.deepEqual(where(r.diagnostics), [
      "Agentfile:3:7 PATH_ESCAPE",
      "Agentfile:4:7 INVALID_ARGUMENTS",
      "Agentfile:6:7 INVALID_ARGUMENTS",
    ]);
    assert.match(r.diagnostics[2]!.message, /skill name "x" is already used by a\/x\/ \(line 5\)/);
  });

  it(".agentrcignore applies inside a skill, but never to SKILL.md", async () => {
    const dir = await tree({
      Agentfile: `${HEAD}SKILL reviewer\n`,
      ".agentrcignore": "*.md\n!guide.md\n",
      "skills/reviewer/SKILL.md": skillMd("reviewer"),
      "skills/reviewer/notes.md": "n",
      "skills/reviewer/guide.md": "g",
      "skills/reviewer/run.py": "print()",
    });
    const r = await lintDir(dir);
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(layer(r.compilation, "skill:reviewer").sort(), [
      "skills/reviewer/SKILL.md",
      "skills/reviewer/guide.md",
      "skills/reviewer/run.py",
    ]);
  });
});

describe("TOOL", () => {
  it("packs the tool with its executable bit and the sibling <path>.toolspec.json, validated", async () => {
    const dir = await tree({
      Agentfile: `${HEAD}TOOL utcp:lint tools/lint.sh\nALLOW invoke utcp:lint\nTOOL utcp:fmt tools/fmt.json\nALLOW invoke utcp:fmt\n`,
      "tools/lint.sh": { content: "#!/bin/sh\n", mode: 0o755 },
      "tools/lint.sh.toolspec.json": SPEC,
      "tools/fmt.json": SPEC.replace('"lint"', '"utcp:fmt"'),
    });
    const r = await lintDir(dir);
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(layer(r.compilation, "tools").sort(), [
      "tools/fmt.json",
      "tools/lint.sh*",
      "tools/lint.sh.toolspec.json",
    ]);
  });

  it("a tool directory packs every file below it, with the spec beside the directory", async () => {
    const dir = await tree({
      Agentfile: `${HEAD}TOOL utcp:lint tools/lint/\nALLOW invoke utcp:lint\nSKILL skills/fmt/SKILL.md\n`,
      "tools/lint/run.sh": { content: "#!/bin/sh\n", mode: 0o755 },
      "tools/lint/rules.json": "{}",
      "tools/lint.toolspec.json": SPEC,
      "skills/fmt/SKILL.md": skillMd("fmt"),
    });
    const r = await lintDir(dir);
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(layer(r.compilation, "tools").sort(), [
      "tools/lint.toolspec.json",
      "tools/lint/rules.json",
      "tools/lint/run.sh*",
    ]);
    assert.deepEqual(layer(r.compilation, "skill:fmt"), ["skills/fmt/SKILL.md"]);
  });

  it("a missing tool file is FILE_NOT_FOUND at the path argument", async () => {
    const dir = await tree({ Agentfile: `${HEAD}TOOL utcp:lint  tools/nope.sh\nALLOW invoke utcp:lint\n` });
    const r = await lintDir(dir);
    assert.deepEqual(where(r.diagnostics), ["Agentfile:3:17 FILE_NOT_FOUND"]);
    assert.match(r.diagnostics[0]!.message, /TOOL tools\/nope\.sh: "tools\/nope\.sh" does not exist/);
  });

  it("INVALID_TOOL_SPEC at the line and column in the spec: bad JSON, missing keys, schemas that do not compile", async () => {
    const dir = await tree({
      Agentfile: `${HEAD}TOOL utcp:a tools/a.json\nTOOL utcp:b tools/b.json\nTOOL utcp:c tools/c.sh\nALLOW invoke utcp:a\nALLOW invoke utcp:b\nALLOW invoke utcp:c\n`,
      "tools/a.json": '{\n  "name": "a",\n  "description": "x",\n}\n',
      "tools/b.json": '{ "name": "b", "description": "B" }',
      "tools/c.sh": "#!/bin/sh\n",
      "tools/c.sh.toolspec.json":
        '{\n  "name": "other",\n  "description": "C",\n  "input_schema": { "type": "objekt" },\n  "output_schema": { "$schema": "http://json-schema.org/draft-04/schema#" }\n}\n',
    });
    const r = await lintDir(dir);
    assert.deepEqual(where(r.diagnostics), [
      "tools/a.json:4:1 INVALID_TOOL_SPEC",
      "tools/b.json:1:1 TOOL_SPEC_UNRECOGNISED",
      "tools/c.sh.toolspec.json:2:11 INVALID_TOOL_SPEC",
      "tools/c.sh.toolspec.json:4:29 INVALID_TOOL_SPEC",
      "tools/c.sh.toolspec.json:5:33 INVALID_TOOL_SPEC",
    ]);
    const messages = r.diagnostics.map((d) => d.message);
    assert.match(messages[0]!, /not valid JSON: unexpected character "}", expected a property name/);
    assert.equal(
      messages[1],
      "tool spec tools/b.json: is not a tool spec format agentrc knows: no input schema as in MCP (inputSchema, outputSchema), OpenAI (parameters, or function.parameters), Anthropic (input_schema), UTCP (inputs, outputs) or plain (input, output)",
    );
    assert.equal(r.diagnostics[1]!.severity, "warning");
    assert.match(messages[2]!, /"name" is "other" but the TOOL is utcp:c/);
    assert.match(messages[3]!, /input_schema\/type: must be equal to one of the allowed values/);
    assert.match(messages[4]!, /output_schema\/\$schema: unsupported \$schema/);
  });
});

describe("FUNCTION", () => {
  it("packs the source file into the source layer; a missing symbol is a warning", async () => {
    const dir = await tree({
      Agentfile: `${HEAD}FUNCTION functions/triage.py:classify\nFUNCTION functions/triage.py:missing\nFUNCTION src/index.ts:Handler.run\n`,
      "functions/triage.py": "import os\n\ndef classify(issue):\n    return 'bug'\n",
      "src/index.ts": "export class Handler {\n  run() {}\n}\nexport const run = () => 1;\n",
    });
    const r = await lintDir(dir);
    assert.deepEqual(where(r.diagnostics), ["Agentfile:4:10 FUNCTION_SYMBOL_NOT_FOUND"]);
    assert.equal(r.diagnostics[0]!.severity, "warning");
    assert.match(r.diagnostics[0]!.message, /no definition of "missing" found in functions\/triage\.py/);
    assert.deepEqual(layer(r.compilation, "source").sort(), ["functions/triage.py", "src/index.ts"]);
  });

  it("a missing file is FILE_NOT_FOUND; a directory is INVALID_ARGUMENTS; .. is PATH_ESCAPE", async () => {
    const dir = await tree({
      Agentfile: `${HEAD}FUNCTION functions/nope.py:f\nFUNCTION functions:f\nFUNCTION ../x.py:f\n`,
      "functions/a.py": "def f(): pass\n",
    });
    const r = await lintDir(dir);
    assert.deepEqual(where(r.diagnostics), [
      "Agentfile:3:10 FILE_NOT_FOUND",
      "Agentfile:4:10 INVALID_ARGUMENTS",
      "Agentfile:5:10 PATH_ESCAPE",
    ]);
    assert.match(r.diagnostics[1]!.message, /is a directory, not a source file/);
    assert.match(r.diagnostics[2]!.message, /leaves the build context through \.\./);
  });

  it("recognises definitions across languages", () => {
    assert.ok(definesSymbol("async def handle(x):\n", "handle"));
    assert.ok(definesSymbol("export default function main() {}", "main"));
    assert.ok(definesSymbol("export { a, b as c };", "b"));
    assert.ok(definesSymbol("exports.run = () => {}", "run"));
    assert.ok(definesSymbol("func (s *Server) Serve() {}", "Serve"));
    assert.ok(definesSymbol("pub fn parse(input: &str) {}", "parse"));
    assert.ok(definesSymbol("HANDLER: Callable = make()\n", "HANDLER"));
    assert.ok(definesSymbol("const $x = 1", "$x"));
    assert.ok(!definesSymbol("# classify is not defined here\nprint(classify)\n", "classify"));
    assert.ok(!definesSymbol("def classify_all(): pass", "classify"));
    assert.ok(!definesSymbol("if x == 1: pass", "x"));
  });
});

describe("INGEST and INCLUDE", () => {
  it("select glob matches into the data layer, with .agentrcignore and ! exclusions", async () => {
    const dir = await tree({
      Agentfile: `${HEAD}INGEST data/docs/**/*.md !data/docs/drafts/**\nINCLUDE prompts examples/*.csv\n`,
      ".agentrcignore": "*.bak\nscratch/\n",
      "data/docs/a.md": "a",
      "data/docs/sub/b.md": "b",
      "data/docs/drafts/c.md": "c",
      "data/docs/scratch/d.md": "d",
      "data/docs/e.txt": "e",
      "prompts/system.txt": "s",
      "prompts/old.bak": "o",
      "examples/one.csv": "1",
      "examples/two.json": "2",
    });
    const r = await lintDir(dir);
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(layer(r.compilation, "data").sort(), [
      "data/docs/a.md",
      "data/docs/sub/b.md",
      "examples/one.csv",
      "prompts/system.txt",
    ]);
  });

  it("a glob that matches nothing is GLOB_NO_MATCH at that glob (saying when .agentrcignore took everything)", async () => {
    const dir = await tree({
      Agentfile: `${HEAD}INGEST data/*.md data/*.pdf\nINCLUDE   logs/*.log\n`,
      ".agentrcignore": "*.log\n",
      "data/a.md": "a",
      "logs/x.log": "x",
    });
    const r = await lintDir(dir);
    assert.deepEqual(where(r.diagnostics), ["Agentfile:3:18 GLOB_NO_MATCH", "Agentfile:4:11 GLOB_NO_MATCH"]);
    assert.match(r.diagnostics[0]!.message, /INGEST data\/\*\.pdf: matches no file$/);
    assert.match(r.diagnostics[1]!.message, /matches no file \(1 excluded by \.agentrcignore\)/);
  });

  it("a glob through a symlink out of the context is PATH_ESCAPE; a FIFO is UNSUPPORTED_FILE_TYPE", async () => {
    const root = await tree({
      "outside.txt": "x",
      "agent/Agentfile": `${HEAD}INGEST data/*\nINCLUDE ../outside.txt /etc/hosts\n`,
      "agent/data/ok.md": "ok",
      "agent/data/leak.md": { symlink: "../../outside.txt" },
      "agent/data/pipe": { fifo: true },
    });
    const r = await lintDir(join(root, "agent"));
    assert.deepEqual(where(r.diagnostics), [
      "Agentfile:3:8 PATH_ESCAPE",
      "Agentfile:3:8 UNSUPPORTED_FILE_TYPE",
      "Agentfile:4:9 PATH_ESCAPE",
      "Agentfile:4:24 PATH_ESCAPE",
    ]);
    assert.match(r.diagnostics[0]!.message, /data\/leak\.md" is a symlink that resolves to outside/);
    assert.match(r.diagnostics[1]!.message, /data\/pipe" is a FIFO/);
    assert.match(r.diagnostics[3]!.message, /"\/etc\/hosts" is an absolute path/);
    assert.deepEqual(layer(r.compilation, "data"), ["data/ok.md"]);
  });

  it("only exclusions is INVALID_ARGUMENTS", async () => {
    const dir = await tree({ Agentfile: `${HEAD}INCLUDE !data/*.md\n`, "data/a.md": "a" });
    const r = await lintDir(dir);
    assert.deepEqual(where(r.diagnostics), ["Agentfile:3:1 INVALID_ARGUMENTS"]);
    assert.match(r.diagnostics[0]!.message, /only exclusions/);
  });
});

describe("BIND", () => {
  it("a relative source is bundled in the data layer; an absolute source is a host mapping", async () => {
    const dir = await tree({
      Agentfile: `${HEAD}BIND ./data/cache /cache ro\nBIND config.yaml /etc/agent.yaml copy\nBIND /var/run/docker.sock /run/docker.sock rw\nBIND ~/.cache /home/agent/.cache direct\n`,
      "data/cache/a.json": "{}",
      "data/cache/deep/b.json": "{}",
      "config.yaml": "a: 1",
    });
    const r = await lintDir(dir);
    assert.deepEqual(r.diagnostics, []);
    assert.deepEqual(layer(r.compilation, "data").sort(), [
      "config.yaml",
      "data/cache/a.json",
      "data/cache/deep/b.json",
    ]);
  });

  it("a missing source is FILE_NOT_FOUND, .. is PATH_ESCAPE, at the source argument", async () => {
    const dir = await tree({ Agentfile: `${HEAD}BIND ./nope /data ro\nBIND ../shared /shared ro\n` });
    const r = await lintDir(dir);
    assert.deepEqual(where(r.diagnostics), ["Agentfile:3:6 FILE_NOT_FOUND", "Agentfile:4:6 PATH_ESCAPE"]);
    assert.match(r.diagnostics[1]!.message, /BIND \.\.\/shared: "\.\.\/shared" leaves the build context/);
  });
});

describe("OUTPUT", () => {
  it("a valid schema (2020-12 by default, draft-07 by $schema) is packed in the data layer", async () => {
    for (const schema of [
      '{"type":"object","properties":{"label":{"enum":["bug","feature"]}},"prefixItems":[{"type":"string"}]}',
      '{"$schema":"http://json-schema.org/draft-07/schema#","definitions":{"a":{"type":"string"}},"$ref":"#/definitions/a"}',
    ]) {
      const dir = await tree({ Agentfile: `${HEAD}OUTPUT schemas/out.json\n`, "schemas/out.json": schema });
      const r = await lintDir(dir);
      assert.deepEqual(r.diagnostics, []);
      assert.deepEqual(layer(r.compilation, "data"), ["schemas/out.json"]);
    }
  });

  it("INVALID_OUTPUT_SCHEMA for bad JSON, a schema that does not compile, an unresolvable $ref", async () => {
    const cases: Array<[string, string, RegExp]> = [
      [
        '{\n  "type": "object",\n  "properties": {\n    "a": { "type": 5 }\n  }\n}\n',
        "out.json:4:20",
        /properties\/a\/type/,
      ],
      ['{ "type": "object" ', "out.json:1:20", /not valid JSON: unexpected end of input/],
      ['{ "$ref": "#/$defs/missing" }', "out.json:1:1", /does not compile: can't resolve reference/],
      ["[1, 2]", "out.json:1:1", /must be an object or a boolean/],
    ];
    for (const [text, at, message] of cases) {
      const dir = await tree({ Agentfile: `${HEAD}OUTPUT out.json\n`, "out.json": text });
      const r = await lintDir(dir);
      assert.deepEqual(where(r.diagnostics), [`${at} INVALID_OUTPUT_SCHEMA`], text);
      assert.match(r.diagnostics[0]!.message, message);
    }
  });

  it("a missing OUTPUT file is FILE_NOT_FOUND at the argument", async () => {
    const dir = await tree({ Agentfile: `${HEAD}OUTPUT schemas/none.json\n` });
    const r = await lintDir(dir);
    assert.deepEqual(where(r.diagnostics), ["Agentfile:3:8 FILE_NOT_FOUND"]);
  });
});

describe("shared rules", () => {
  it("a directive with a parse error is left alone (no cascading file errors)", async () => {
    const dir = await tree({ Agentfile: `${HEAD}BIND ./data /data readwrite\nINGEST docs/*.md \\` });
    const r = await lintDir(dir);
    assert.deepEqual(only(r.diagnostics, "FILE_NOT_FOUND"), []);
    assert.deepEqual(only(r.diagnostics, "GLOB_NO_MATCH"), []);
    assert.equal(only(r.diagnostics, "INVALID_ARGUMENTS").length, 1);
  });

  it("the selected files and diagnostics do not depend on creation order", async () => {
    const files = [
      "skills/r/SKILL.md",
      "skills/r/b.md",
      "skills/r/a.md",
      "data/z.md",
      "data/a.md",
      "data/m/n.md",
    ];
    const run = async (order: string[]) => {
      const entries: Record<string, string> = {
        Agentfile: `${HEAD}SKILL r\nINGEST data/**/*.md data/*.none\n`,
      };
      for (const f of order) entries[f] = f;
      const r = await lintDir(await tree(entries));
      return {
        skill: layer(r.compilation, "skill:r"),
        data: layer(r.compilation, "data"),
        d: where(r.diagnostics),
      };
    };
    const a = await run(files);
    const b = await run([...files].reverse());
    assert.deepEqual(a, b);
    assert.deepEqual(a.skill, ["skills/r/SKILL.md", "skills/r/a.md", "skills/r/b.md"]);
    assert.deepEqual(a.data, ["data/a.md", "data/m/n.md", "data/z.md"]);
  });
});
