import assert from "node:assert/strict";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { runBin, runCli } from "../helpers/cli.js";
import { testdir } from "../helpers/testdir.js";

describe("agentrc init", () => {
  it("scaffolds a tree that lints clean (the built binary, as a newcomer runs it)", async () => {
    const dir = join(await testdir(), "My Agent");
    const init = runBin(["init", dir]);
    assert.equal(init.code, 0, init.stderr);
    assert.match(init.stdout, /Created agent my-agent in /);
    for (const f of ["Agentfile", "policy/agent.cedar", "skills/summarize/SKILL.md"]) {
      assert.ok((await readFile(join(dir, f), "utf8")).length > 0, f);
    }
    const agentfile = await readFile(join(dir, "Agentfile"), "utf8");
    for (const d of ["AGENT my-agent", "SKILL summarize", "TOOL utcp:", "POLICY", "END"])
      assert.ok(agentfile.includes(d), d);
    const lint = runBin(["lint", dir, "--json"]);
    assert.equal(lint.code, 0, lint.stdout);
    assert.deepEqual(JSON.parse(lint.stdout).diagnostics, []);
  });

  it("refuses to overwrite anything without --force, and writes nothing", async () => {
    const dir = await testdir({ Agentfile: "AGENT mine\n" });
    const r = await runCli(["init", dir, "--no-color"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error INIT_WOULD_OVERWRITE .* already has Agentfile; nothing was written/);
    assert.match(r.stderr, /hint: Pass --force/);
    assert.equal(await readFile(join(dir, "Agentfile"), "utf8"), "AGENT mine\n");
    await assert.rejects(readFile(join(dir, "policy/agent.cedar")));
    const forced = await runCli(["init", dir, "--force", "--name", "forced"]);
    assert.equal(forced.code, 0, forced.stderr);
    assert.match(await readFile(join(dir, "Agentfile"), "utf8"), /^AGENT forced$/m);
  });

  it("rejects a name that is not a DNS label", async () => {
    const dir = await testdir();
    const r = await runCli(["init", dir, "--name", "Bad_Name", "--json"]);
    assert.equal(r.code, 2);
    assert.equal(JSON.parse(r.stdout).error.code, "USAGE");
    await writeFile(join(dir, "x"), "");
  });
});
