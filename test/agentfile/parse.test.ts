import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { DirectiveRegistry, parseAgentfile } from "../../src/index.js";

const codes = (text: string) => parseAgentfile(text).diagnostics.map((d) => d.code);

describe("parseAgentfile", () => {
  it("keeps directive order, with a line and column on every node", () => {
    const { spec, diagnostics } = parseAgentfile(
      "AGENT a\n\n  TOOL utcp:x\nAUDIT basic\nALLOW invoke utcp:x\n",
    );
    assert.deepEqual(diagnostics, []);
    assert.deepEqual(
      spec.directives.map((d) => [d.directive, d.loc.line, d.loc.column]),
      [
        ["AGENT", 1, 1],
        ["TOOL", 3, 3],
        ["AUDIT", 4, 1],
        ["ALLOW", 5, 1],
      ],
    );
    assert.equal(spec.agent, "a");
    assert.deepEqual(spec.directives[1]!.argLocs["/ref"], { line: 3, column: 8 });
  });

  it("ignores whole-line and inline comments but keeps # inside words and quotes", () => {
    const { spec } = parseAgentfile(
      'AGENT a # the id\n# comment\nCRED v vault://kv/app#token\nLIMIT note "a # b"\nAUDIT basic\n',
    );
    assert.equal(spec.directives[0]!.args.id, "a");
    assert.equal(spec.directives[1]!.args.source, "vault://kv/app#token");
    assert.equal(spec.directives[2]!.args.value, "a # b");
  });

  it("joins continuation lines and records each argument's own line", () => {
    const { spec, diagnostics } = parseAgentfile(
      "AGENT a\nINGEST docs/*.md \\\n  # skipped\n  data/**/*.csv\nAUDIT basic\n",
    );
    assert.deepEqual(diagnostics, []);
    const ingest = spec.directives[1]!;
    assert.deepEqual(ingest.args.globs, ["docs/*.md", "data/**/*.csv"]);
    assert.deepEqual(ingest.argLocs["/globs/1"], { line: 4, column: 3 });
    assert.equal(ingest.loc.endLine, 4);
  });

  it("reads CMD in JSON and shell form", () => {
    const exec = parseAgentfile('AGENT a\nCMD ["node", "main.js", "--flag"]\n').spec.directives[1]!;
    assert.deepEqual(exec.args, { form: "exec", argv: ["node", "main.js", "--flag"] });
    const shell = parseAgentfile("AGENT a\nCMD node main.js --flag  # start\n").spec.directives[1]!;
    assert.deepEqual(shell.args, { form: "shell", command: "node main.js --flag" });
  });

  it("captures POLICY and SOP blocks verbatim, comments and blank lines included", () => {
    const body = '  // keep me\n\n  permit(principal, action, resource) when { context.x == "#" };';
    const { spec, diagnostics } = parseAgentfile(
      `AGENT a\nPOLICY\n${body}\nEND\nSOP triage\n# not a comment here\n  step\nEND\n`,
    );
    assert.deepEqual(
      diagnostics.filter((d) => d.severity === "error"),
      [],
    );
    assert.equal(spec.directives[1]!.args.text, body);
    assert.deepEqual(spec.directives[1]!.loc, { line: 2, column: 1, endLine: 6 });
    assert.deepEqual(spec.directives[2]!.args, { name: "triage", text: "# not a comment here\n  step" });
  });

  it("parses typed arguments: TOOL, FUNCTION, SKILL, CRED, BIND, RATELIMIT, TIMEOUT, SHELL", () => {
    const { spec, diagnostics } = parseAgentfile(
      [
        "AGENT a",
        "TOOL utcp:shell tools/shell.sh",
        "FUNCTION functions/triage.py:classify",
        "SKILL review",
        "SKILL ./vendor/skills/x",
        "SKILL oci://ghcr.io/acme/skill:1",
        "CRED gh env:GH_TOKEN host:api.github.com host:uploads.github.com inject:header",
        "BIND ./repo /workspace ro",
        "RATELIMIT utcp:shell 10/min",
        "TIMEOUT 2m",
        "SHELL strands@1.2.0",
        "AUDIT basic",
      ].join("\n"),
    );
    assert.deepEqual(diagnostics, []);
    const args = spec.directives.map((d) => d.args);
    assert.deepEqual(args[1], {
      ref: "utcp:shell",
      path: "tools/shell.sh",
      namespace: "utcp",
      name: "shell",
    });
    assert.deepEqual(args[2], {
      ref: "functions/triage.py:classify",
      path: "functions/triage.py",
      symbol: "classify",
    });
    assert.deepEqual([args[3]!.source, args[4]!.source, args[5]!.source], ["name", "path", "oci"]);
    assert.deepEqual(args[6], {
      name: "gh",
      source: "env:GH_TOKEN",
      hosts: ["api.github.com", "uploads.github.com"],
      inject: "header",
    });
    assert.deepEqual(args[7], { source: "./repo", target: "/workspace", mode: "ro", explicitMode: true });
    assert.deepEqual(args[8], { tool: "utcp:shell", rate: "10/min", count: 10, unit: "minute" });
    assert.deepEqual(args[9], { duration: "2m", seconds: 120 });
    assert.deepEqual(args[10], { framework: "strands", version: "1.2.0" });
  });

  it("never copies a literal CRED value into the spec or the message", () => {
    const { spec, diagnostics } = parseAgentfile("AGENT a\nCRED gh ghp_s3cretvalue\n");
    assert.equal(JSON.stringify(spec).includes("s3cret"), false);
    const d = diagnostics.find((x) => x.code === "CRED_LITERAL_SECRET");
    assert.ok(d);
    assert.equal(d.message.includes("s3cret"), false);
    assert.deepEqual(d.location, { file: "Agentfile", line: 2, column: 9 });
  });

  it("reports every error, not only the first", () => {
    assert.deepEqual(codes("AGENT Bad\nAUDIT loud\nMOUNT rel rw\nFOO x\n"), [
      "UNKNOWN_DIRECTIVE",
      "INVALID_ARGUMENTS",
      "INVALID_ARGUMENTS",
      "INVALID_ARGUMENTS",
    ]);
  });

  it("suggests the closest directive for a typo", () => {
    const d = parseAgentfile("AGENT a\nRATELIMT x 1/s\n").diagnostics[0]!;
    assert.equal(d.code, "UNKNOWN_DIRECTIVE");
    assert.match(d.message, /did you mean RATELIMIT\?/);
    assert.equal(
      parseAgentfile("AGENT a\nZZZZZZZZ x\n").diagnostics[0]!.message,
      'unknown directive "ZZZZZZZZ"',
    );
  });

  it("lets a plugin register a directive validated by its own JSON Schema", () => {
    const registry = new DirectiveRegistry();
    registry.register(
      {
        name: "OWNER",
        summary: "owning team",
        params: ["team"],
        once: true,
        schema: {
          type: "object",
          required: ["team"],
          properties: { team: { type: "string", pattern: "^team-[a-z]+$" } },
          additionalProperties: false,
        },
      },
      "org-plugin",
    );
    const ok = parseAgentfile("AGENT a\nOWNER team-platform\n", { registry });
    assert.deepEqual(ok.diagnostics, []);
    assert.deepEqual(ok.spec.directives[1], {
      directive: "OWNER",
      args: { team: "team-platform" },
      loc: { line: 2, column: 1, endLine: 2 },
      argLocs: { "/team": { line: 2, column: 7 } },
      plugin: "org-plugin",
    });
    const bad = parseAgentfile("AGENT a\nOWNER platform\n", { registry });
    assert.equal(bad.diagnostics.length, 1);
    assert.equal(bad.diagnostics[0]!.code, "INVALID_ARGUMENTS");
    assert.equal(bad.diagnostics[0]!.plugin, "org-plugin");
    assert.match(bad.diagnostics[0]!.message, /OWNER team must match pattern/);
    assert.deepEqual(bad.diagnostics[0]!.location, { file: "Agentfile", line: 2, column: 7 });
    assert.throws(() => registry.register({ name: "AGENT", summary: "" }, "x"), {
      code: "DIRECTIVE_CONFLICT",
    });
    assert.throws(() => registry.register({ name: "lower", summary: "" }, "x"), {
      code: "DIRECTIVE_CONFLICT",
    });
  });

  it("produces a spec that validates against schemas/agentfile.schema.json", async () => {
    const { schemaValidator } = await import("../../src/index.js");
    const { spec } = parseAgentfile("AGENT a\nTOOL utcp:x\nSOP s\nx\nEND\nAUDIT basic\n");
    const validate = schemaValidator("agentfile.schema.json");
    assert.equal(validate(spec), true, JSON.stringify(validate.errors));
  });
});
