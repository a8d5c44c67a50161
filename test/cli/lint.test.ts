import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { schemaValidator } from "../../src/index.js";
import { runCli } from "../helpers/cli.js";
import { testdir } from "../helpers/testdir.js";

describe("agentrc lint", () => {
  it("prints compiler-style diagnostics with the source line, a caret and a hint, and exits 1", async () => {
    const dir = await testdir({ Agentfile: "AGENT demo\nAUDIT basic\nMOUNT /data readwrite\n" });
    const r = await runCli(["lint", dir, "--no-color"]);
    assert.equal(r.code, 1);
    assert.equal(
      r.stderr,
      [
        "Agentfile:3:13 error INVALID_ARGUMENTS MOUNT mode must be ro or rw",
        "  3 | MOUNT /data readwrite",
        "    |             ^~~~~~~~~",
        "  hint: See the directive table in docs/agentfile.md.",
        "✖ 1 error, 0 warnings",
        "",
      ].join("\n"),
    );
  });

  it("exits 0 with warnings only, and --quiet hides them", async () => {
    const dir = await testdir({ Agentfile: "AGENT demo\n" });
    const r = await runCli(["lint", dir, "--no-color"]);
    assert.equal(r.code, 0);
    assert.match(r.stderr, /Agentfile:1:1 warning AUDIT_MISSING no AUDIT level is declared/);
    const quiet = await runCli(["lint", dir, "--quiet"]);
    assert.equal(quiet.code, 0);
    assert.equal(quiet.stderr, "");
  });

  it("--json output validates against schemas/lint-result.schema.json", async () => {
    const dir = await testdir({ Agentfile: "AGENT demo\nAUDIT basic\nTOOLZ x\nCRED gh hunter2\n" });
    const r = await runCli(["lint", dir, "--json"]);
    assert.equal(r.code, 1);
    const out = JSON.parse(r.stdout);
    const validate = schemaValidator("lint-result.schema.json");
    assert.equal(validate(out), true, JSON.stringify(validate.errors));
    assert.equal(out.ok, false);
    assert.equal(out.agent, "demo");
    assert.equal(out.errorCount, 2);
    assert.deepEqual(
      out.diagnostics.map((d: { code: string }) => d.code),
      ["UNKNOWN_DIRECTIVE", "CRED_LITERAL_SECRET"],
    );
    assert.equal(r.stdout.includes("hunter2"), false, "the literal secret never reaches the output");
    const clean = await runCli(["lint", await testdir({ Agentfile: "AGENT ok\nAUDIT basic\n" }), "--json"]);
    assert.equal(clean.code, 0);
    const cleanOut = JSON.parse(clean.stdout);
    assert.equal(validate(cleanOut), true);
    assert.equal(cleanOut.ok, true);
  });

  it("applies severity overrides from the configuration", async () => {
    const dir = await testdir({
      Agentfile: "AGENT demo\n",
      "agentrc.config.json": JSON.stringify({ lint: { rules: { AUDIT_MISSING: "error" } } }),
    });
    const r = await runCli(["lint", dir, "--json"]);
    assert.equal(r.code, 1);
    assert.equal(JSON.parse(r.stdout).diagnostics[0].severity, "error");
  });

  it("usage errors exit 2", async () => {
    assert.equal((await runCli(["lint", "a", "b"])).code, 2);
    const unknownFlag = await runCli(["lint", "--frobnicate"]);
    assert.equal(unknownFlag.code, 2);
    assert.match(unknownFlag.stderr, /Unknown option '--frobnicate'/);
    const unknownCommand = await runCli(["lnt"]);
    assert.equal(unknownCommand.code, 2);
    assert.match(unknownCommand.stderr, /unknown command "lnt"; did you mean "lint"\?/);
  });
});
