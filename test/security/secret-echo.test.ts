import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { parseReference } from "../../src/registry/reference.js";
import { runCli } from "../helpers/cli.js";
import { testdir } from "../helpers/testdir.js";

/** A password-like value, built at run time so that no secret-shaped literal sits in the source. */
const PASSWORD = ["Tr0ub4dor", "and", "3xtra"].join("-");

describe("secrets are never echoed back", () => {
  for (const input of [
    `https://ci-bot:${PASSWORD}@registry.example.com/team/agent:1`,
    `ci-bot:${PASSWORD}@registry.example.com/team/agent:1`,
    `oci://ci-bot:${PASSWORD}@localhost:5000/team/agent`,
  ]) {
    it(`a reference holding credentials is refused without showing them: ${input.replace(PASSWORD, "…")}`, () => {
      assert.throws(
        () => parseReference(input),
        (err: Error & { code?: string }) => {
          assert.equal(err.code, "REFERENCE_INVALID");
          assert.match(err.message, /holds credentials \(user:password@\)/);
          assert.equal(err.message.includes(PASSWORD), false, err.message);
          return true;
        },
      );
    });
  }

  it("REFERENCE_INVALID hides the password in human and JSON output", async () => {
    const ref = `ci-bot:${PASSWORD}@localhost:5000/team/agent:1`;
    const store = await testdir();
    for (const args of [
      ["pull", ref, "--store", store],
      ["pull", ref, "--store", store, "--json"],
      ["inspect", `https://ci-bot:${PASSWORD}@localhost:5000/team/agent:1`, "--remote"],
      ["push", ref, "--store", store, "--json"],
    ]) {
      const r = await runCli(args);
      assert.notEqual(r.code, 0);
      assert.match(r.stdout + r.stderr, /REFERENCE_INVALID/);
      assert.match(r.stdout + r.stderr, /\*\*\*@localhost:5000\/team\/agent/);
      assert.equal(
        (r.stdout + r.stderr).includes(PASSWORD),
        false,
        `${args.join(" ")}: ${r.stdout}${r.stderr}`,
      );
    }
  });

  it("the CRED_LITERAL_SECRET code frame masks the literal it reports", async () => {
    const dir = await testdir({
      Agentfile: `AGENT demo\nAUDIT basic\nCRED gh ${PASSWORD} host:api.github.com\n`,
    });
    const r = await runCli(["lint", dir, "--no-color"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /Agentfile:3:9 error CRED_LITERAL_SECRET CRED gh has a literal value/);
    assert.match(r.stderr, /\n {2}3 \| CRED gh <redacted>\n {4}\| {9}\^~{9}\n/);
    assert.equal(r.stderr.includes(PASSWORD), false, r.stderr);
  });

  it("the SECRET_IN_FILE code frame masks the secret it reports", async () => {
    const token = `ghp_${"A1b2C3d4E5".repeat(4).slice(0, 36)}`;
    const dir = await testdir({
      Agentfile: "AGENT demo\nAUDIT basic\nINCLUDE notes.txt\n",
      "notes.txt": `deploy with ${token} please\n`,
    });
    const r = await runCli(["lint", dir, "--no-color"]);
    assert.equal(r.code, 1);
    assert.match(
      r.stderr,
      /notes\.txt:1:13 error SECRET_IN_FILE notes\.txt: possible GitHub token: ghp_…\(40 chars\)/,
    );
    assert.match(r.stderr, /\n {2}1 \| deploy with <redacted>\n/);
    assert.equal(r.stderr.includes(token.slice(4)), false, r.stderr);
  });

  for (const directive of ["URL", "SERVER api", "BACKEND"]) {
    it(`${directive} with userinfo (https://user:password@host) is refused, the password not shown`, async () => {
      const dir = await testdir({
        Agentfile: `AGENT demo\nAUDIT basic\n${directive} https://ci-bot:${PASSWORD}@api.example.com/v1\n`,
      });
      for (const json of [false, true]) {
        const r = await runCli(["lint", dir, "--no-color", ...(json ? ["--json"] : [])]);
        assert.equal(r.code, 1);
        const out = r.stdout + r.stderr;
        assert.equal(out.includes(PASSWORD), false, out);
        if (json) {
          const d = (
            JSON.parse(r.stdout) as { diagnostics: { code: string; message: string; location: unknown }[] }
          ).diagnostics.find((x) => x.code === "URL_CREDENTIALS");
          assert.ok(d, r.stdout);
          assert.match(d.message, /holds credentials \(user:password@\); they are not shown/);
          assert.deepEqual(d.location, { file: "Agentfile", line: 3, column: directive.length + 2 });
        } else {
          assert.match(out, /Agentfile:3:\d+ error URL_CREDENTIALS/);
          assert.match(out, new RegExp(`\\n  3 \\| ${directive} <redacted>\\n`));
        }
      }
    });
  }
});
