import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { AcmePolicyPlugin } from "../../examples/org-plugin/index.js";
import { lint } from "../../src/index.js";
import { testdir } from "../helpers/testdir.js";

const run = async (agentfile: string) =>
  (
    await lint({ dir: await testdir({ Agentfile: agentfile }), plugins: [new AcmePolicyPlugin()] })
  ).diagnostics.map((d) => [d.code, d.plugin, d.location?.line, d.location?.column, d.message]);

describe("example organisation plugin", () => {
  it("accepts a compliant agent", async () => {
    assert.deepEqual(await run("AGENT a\nOWNER team-platform\nAUDIT all\n"), []);
  });

  it("adds OWNER with its own schema and message", async () => {
    assert.deepEqual(await run("AGENT a\nOWNER platform\nAUDIT all\n"), [
      ["INVALID_ARGUMENTS", "acme-policy", 2, 7, "OWNER team must be an ACME team id such as team-platform"],
    ]);
  });

  it("fails the compliance gate with its own diagnostics", async () => {
    assert.deepEqual(await run("AGENT a\nAUDIT basic\n"), [
      ["ACME_OWNER_MISSING", "acme-policy", 1, 1, "ACME agents must declare an OWNER team"],
      ["ACME_AUDIT_LEVEL", "acme-policy", 2, 7, "ACME requires AUDIT all or compliance"],
    ]);
  });
});
