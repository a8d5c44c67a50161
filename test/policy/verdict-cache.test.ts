import assert from "node:assert/strict";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { lint } from "../../src/index.js";
import { testdir } from "../helpers/testdir.js";

const AGENTFILE = [
  "AGENT demo",
  "AUDIT basic",
  "TOOL local:fmt tools/fmt.sh",
  "TOOL local:rm tools/rm.sh",
  "ALLOW invoke local:fmt",
  "",
].join("\n");

const summary = (ds: ReadonlyArray<{ code: string; message: string; location?: { line: number } }>) =>
  ds.map((d) => `${d.location?.line}: ${d.code} ${d.message}`);

describe("Cedar verdicts are cached by the digest of their inputs", () => {
  it("an unchanged policy is not validated again; a changed one is; a damaged entry is recomputed", async () => {
    const dir = await testdir({
      Agentfile: AGENTFILE,
      "tools/fmt.sh": "#!/bin/sh\n",
      "tools/rm.sh": "#!/bin/sh\n",
      "policy/extra.cedar":
        'forbid (principal, action, resource == AgentRC::Tool::"local:fmt") when { false };\n',
    });
    const cacheDir = await testdir();
    const first = await lint({ dir, cacheDir });
    const findings = summary(first.diagnostics.filter((d) => d.plugin === "policy"));
    assert.ok(
      findings.some((f) => f.startsWith("4: TOOL_NOT_PERMITTED TOOL local:rm is not permitted")),
      findings.join("\n"),
    );
    const policy = first.compilation.policy;
    assert.ok(policy?.hash.startsWith("sha256:"));

    // The verdict is on disk, one entry; edit its message to see whether the next run reads it or asks Cedar.
    const entries = join(cacheDir, "policy-verdicts");
    const [entry, ...more] = await readdir(entries);
    assert.deepEqual(more, []);
    const file = join(entries, entry!);
    const stored = await readFile(file, "utf8");
    await writeFile(file, stored.replace("is not permitted", "is NOT permitted (from the cache)"));
    const second = await lint({ dir, cacheDir });
    assert.deepEqual(
      summary(second.diagnostics.filter((d) => d.plugin === "policy")),
      findings.map((f) => f.replace("is not permitted", "is NOT permitted (from the cache)")),
    );
    assert.deepEqual(second.compilation.policy, policy);

    // A change to any input (here the policy file) is a new key: Cedar runs and the new policy permits rm.
    await writeFile(
      join(dir, "policy/extra.cedar"),
      'permit (principal, action, resource == AgentRC::Tool::"local:rm");\n',
    );
    const third = await lint({ dir, cacheDir });
    assert.deepEqual(
      third.diagnostics.filter((d) => d.code === "TOOL_NOT_PERMITTED"),
      [],
    );
    assert.notEqual(third.compilation.policy?.hash, policy?.hash);
    assert.equal((await readdir(entries)).length, 2);

    // A damaged entry is ignored and computed again.
    await writeFile(file, "{not json");
    await writeFile(
      join(dir, "policy/extra.cedar"),
      'forbid (principal, action, resource == AgentRC::Tool::"local:fmt") when { false };\n',
    );
    const fourth = await lint({ dir, cacheDir });
    assert.deepEqual(summary(fourth.diagnostics.filter((d) => d.plugin === "policy")), findings);
    assert.deepEqual(JSON.parse(await readFile(file, "utf8")), JSON.parse(stored));
  });
});
