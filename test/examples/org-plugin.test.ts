import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { cp, mkdir, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { lint } from "agentrc";
import { AcmePolicyPlugin } from "../../examples/org-plugin/index.js";
import { runBin } from "../helpers/cli.js";
import { testdir } from "../helpers/testdir.js";

const REPO = fileURLToPath(new URL("../../", import.meta.url));
const TSC = join(REPO, "node_modules", "typescript", "bin", "tsc");
const EXAMPLE = fileURLToPath(new URL("../../examples/org-plugin/", import.meta.url));

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

  it("works copied outside the repository, importing agentrc as an installed package", async () => {
    // A user's project: agentrc in node_modules, the plugin in its own folder, a TypeScript config using it.
    const project = await testdir({
      "agent/Agentfile": "AGENT a\nAUDIT basic\n",
      "agent/agentrc.config.ts": [
        'import { defineConfig } from "agentrc";',
        'import { AcmePolicyPlugin } from "../org-plugin/index.ts";',
        "export default defineConfig({ plugins: [new AcmePolicyPlugin()] });",
        "",
      ].join("\n"),
    });
    await mkdir(join(project, "node_modules"));
    await symlink(REPO, join(project, "node_modules", "agentrc"), "dir");
    await cp(EXAMPLE, join(project, "org-plugin"), { recursive: true });
    await writeFile(
      join(project, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "NodeNext",
          moduleResolution: "NodeNext",
          strict: true,
          noEmit: true,
          allowImportingTsExtensions: true,
          skipLibCheck: true,
          typeRoots: [join(REPO, "node_modules", "@types")],
          types: ["node"],
        },
        include: ["org-plugin", "agent/agentrc.config.ts"],
      }),
    );
    // It type-checks against the installed package's declarations, as in the user's editor and CI.
    const tsc = spawnSync(process.execPath, [TSC, "-p", project], { encoding: "utf8" });
    assert.equal(tsc.status, 0, tsc.stdout + tsc.stderr);
    const r = runBin(["lint", join(project, "agent"), "--json"]);
    assert.equal(r.code, 1, r.stderr);
    assert.deepEqual(
      JSON.parse(r.stdout).diagnostics.map((d: { code: string; plugin?: string }) => [d.code, d.plugin]),
      [
        ["ACME_OWNER_MISSING", "acme-policy"],
        ["ACME_AUDIT_LEVEL", "acme-policy"],
      ],
    );
  });
});
