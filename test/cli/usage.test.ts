import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { COMMANDS } from "../../src/cli/commands/index.js";
import { SHARED_OPTIONS } from "../../src/cli/context.js";
import { schemaValidator } from "../../src/index.js";
import { runCli } from "../helpers/cli.js";
import { testdir } from "../helpers/testdir.js";

describe("agentrc <command> --help", () => {
  for (const command of COMMANDS) {
    it(`${command.name} --help lists every flag it accepts, one line each with a description`, async () => {
      const r = await runCli([command.name, "--help"]);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, new RegExp(`^Usage: agentrc ${command.name}\\b`));
      const lines = r.stdout.split("\n");
      for (const [flag, spec] of Object.entries({ ...SHARED_OPTIONS, ...command.options })) {
        const short = "short" in spec && spec.short ? `-${spec.short}, ` : "";
        const line = lines.find((l) => l.trimStart().startsWith(`${short}--${flag}`));
        assert.ok(line, `${command.name} --help has no line for --${flag}:\n${r.stdout}`);
        const described = line.slice(line.indexOf(`--${flag}`) + flag.length + 2).trim();
        assert.ok(described.length > 0, `--${flag} has no description in "${line}"`);
        if (spec.type === "string") assert.match(line, new RegExp(`--${flag} <[a-z0-9-|]+>`), line);
      }
    });
  }
});

describe("usage errors", () => {
  const validate = schemaValidator("error-result.schema.json");
  const cases: Array<[string[], RegExp]> = [
    [["lnt"], /unknown command "lnt"; did you mean "lint"\?/],
    [["lint", "--frobnicate"], /Unknown option '--frobnicate'/],
    [["lint", "a", "b"], /expected at most one directory, got 2/],
    [["lock", "a", "b"], /expected at most one directory, got 2/],
    [["init", "a", "b"], /expected at most one directory, got 2/],
    [["build", ".", "--output-format", "zip"], /--output-format must be oci or oci-archive, got "zip"/],
    [["build", ".", "--push"], /--push needs at least one -t/],
    [["push"], /expected one reference/],
    [["push", "localhost/a:1", "--concurrency", "0"], /--concurrency must be an integer from 1 to 32/],
    [["pull", "a", "b"], /expected one reference/],
    [["inspect"], /expected one package \(reference, layout, archive or directory\)/],
    [["verify", "a", "b"], /expected one package \(reference, layout, archive or directory\)/],
    [["verify", "a", "--rebuild", ""], /--rebuild needs the agent's source directory/],
    [["login"], /expected one registry host/],
    [["logout", "a", "b"], /expected one registry host/],
    [["list", "a", "b"], /expected at most one repository filter, got "a b"/],
    [["list", "--format", "{{.Nope}}"], /--format: unknown field \{\{\.Nope\}\}/],
    [["rm"], /expected at least one <ref>/],
    [["prune", "extra"], /takes no arguments/],
    [["tag", "localhost/a:1"], /expected <source-ref> <target-ref>/],
    [["init", ".", "--name", "Bad_Name"], /agent name "Bad_Name" is not a lowercase DNS label/],
  ];
  for (const [args, message] of cases) {
    it(`agentrc ${args.join(" ")} --json prints a USAGE error object and exits 2`, async () => {
      const r = await runCli([...args, "--json"], { cwd: await testdir() });
      assert.equal(r.code, 2, r.stdout + r.stderr);
      assert.equal(r.stderr, "", "with --json nothing but the JSON object is printed");
      const out = JSON.parse(r.stdout);
      assert.equal(validate(out), true, JSON.stringify(validate.errors));
      assert.equal(out.ok, false);
      assert.equal(out.error.code, "USAGE");
      assert.match(out.error.message, message);
      assert.match(out.error.usage, /^agentrc /);
    });
    it(`agentrc ${args.join(" ")} prints the message and the usage line on stderr and exits 2`, async () => {
      const r = await runCli(args, { cwd: await testdir() });
      assert.equal(r.code, 2);
      assert.equal(r.stdout, "");
      assert.match(r.stderr, message);
      assert.match(r.stderr, /(Usage: agentrc |agentrc --help)/);
    });
  }
});

describe("commands load lazily", () => {
  it("src/cli/main.ts names the same commands, in the same order, as src/cli/commands/index.ts", async () => {
    const { COMMAND_NAMES } = await import("../../src/cli/main.js");
    assert.deepEqual(
      [...COMMAND_NAMES],
      COMMANDS.map((c) => c.name),
    );
  });
});
