import assert from "node:assert/strict";
import { readFile, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { lock, schemaValidator } from "../../src/index.js";
import { runCli } from "../helpers/cli.js";
import { testdir } from "../helpers/testdir.js";

const AGENTFILE = [
  "AGENT locked",
  "AUDIT basic",
  "CRED zeta env:ZETA_TOKEN",
  "CRED alpha vault://kv/app#key host:api.example.com",
  "SOP greet",
  "Say hello.",
  "END",
  "",
].join("\n");

describe("agentrc.lock", () => {
  it("records the pinned inputs, validates against the schema, and holds no secret value", async () => {
    const dir = await testdir({ Agentfile: AGENTFILE });
    const r = await lock({ dir });
    assert.deepEqual(r.diagnostics, []);
    const text = await readFile(join(dir, "agentrc.lock"), "utf8");
    const data = JSON.parse(text);
    assert.equal(schemaValidator("lockfile.schema.json")(data), true);
    assert.equal(data.version, "agentrc.lock/v1");
    assert.match(data.agentfile_hash, /^sha256:[a-f0-9]{64}$/);
    // FROM is fetched at lock time now (inheritance): its pin is tested against a real registry (test/deps).
    assert.equal(data.base_image, undefined);
    assert.deepEqual(data.credential_names, ["alpha", "zeta"]);
    assert.equal(data.sops[0].name, "greet");
    assert.ok(
      !text.includes("ZETA_TOKEN=") && !text.includes("vault://"),
      "only credential names are recorded",
    );
    assert.deepEqual(Object.keys(data), Object.keys(data).sort(), "keys are sorted");
    assert.ok(
      text.endsWith("}\n") && text.startsWith('{\n  "agentfile_hash"'),
      "two-space indent, final newline",
    );
  });

  it("writes identical bytes for identical inputs and leaves the file alone when nothing changed", async () => {
    const a = await testdir({ Agentfile: AGENTFILE });
    const b = await testdir({ Agentfile: AGENTFILE });
    await lock({ dir: a });
    await lock({ dir: b });
    const bytesA = await readFile(join(a, "agentrc.lock"));
    assert.deepEqual(bytesA, await readFile(join(b, "agentrc.lock")));
    const before = await stat(join(a, "agentrc.lock"));
    await new Promise((r) => setTimeout(r, 20));
    await lock({ dir: a });
    assert.equal(
      (await stat(join(a, "agentrc.lock"))).mtimeMs,
      before.mtimeMs,
      "an unchanged lockfile is not rewritten",
    );
  });

  it("--frozen-lockfile fails on a missing or stale lockfile and passes on a current one", async () => {
    const dir = await testdir({ Agentfile: AGENTFILE });
    const missing = await runCli(["lock", dir, "--frozen-lockfile", "--no-color"]);
    assert.equal(missing.code, 1);
    assert.match(
      missing.stderr,
      /agentrc.lock:1:1 error LOCKFILE_STALE agentrc.lock is missing and --frozen-lockfile forbids creating it/,
    );
    assert.equal((await runCli(["lock", dir])).code, 0);
    assert.equal((await runCli(["lock", dir, "--frozen-lockfile"])).code, 0);
    await writeFile(
      join(dir, "Agentfile"),
      AGENTFILE.replace("CRED zeta env:ZETA_TOKEN", "CRED omega env:OMEGA"),
    );
    const stale = await runCli(["lock", dir, "--frozen-lockfile", "--json"]);
    assert.equal(stale.code, 1);
    const out = JSON.parse(stale.stdout);
    assert.equal(out.diagnostics[0].code, "LOCKFILE_STALE");
    assert.equal(
      out.diagnostics[0].message,
      "agentrc.lock does not match the inputs (agentfile_hash, credential_names changed)",
    );
  });

  it("reports an invalid lockfile with LOCKFILE_INVALID", async () => {
    const dir = await testdir({ Agentfile: AGENTFILE, "agentrc.lock": '{"version": 2}' });
    const r = await lock({ dir });
    const codes = r.diagnostics.map((d) => d.code);
    assert.ok(codes.includes("LOCKFILE_INVALID"), codes.join());
  });
});
