import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { lint, loadConfig } from "../../src/index.js";
import { testdir } from "../helpers/testdir.js";

const repo = fileURLToPath(new URL("../../", import.meta.url));
const CONFIG = { lint: { rules: { AUDIT_MISSING: "off" } } };

describe("configuration discovery (cosmiconfig)", () => {
  const forms: Array<[string, string]> = [
    [
      "agentrc.config.ts",
      `const config: { lint: { rules: Record<string, string> } } = ${JSON.stringify(CONFIG)};\nexport default config;\n`,
    ],
    ["agentrc.config.mjs", `export default ${JSON.stringify(CONFIG)};\n`],
    ["agentrc.config.js", `module.exports = ${JSON.stringify(CONFIG)};\n`],
    ["agentrc.config.json", JSON.stringify(CONFIG)],
    ["agentrc.config.yaml", "lint:\n  rules:\n    AUDIT_MISSING: off\n"],
    [".agentrcrc", 'lint:\n  rules:\n    AUDIT_MISSING: "off"\n'],
    ["package.json", JSON.stringify({ name: "x", agentrc: CONFIG })],
  ];
  for (const [file, text] of forms) {
    it(`loads ${file}`, async () => {
      const dir = await testdir({ [file]: text, Agentfile: "AGENT a\n" });
      const loaded = await loadConfig(dir);
      assert.equal(loaded.filepath, join(dir, file));
      assert.deepEqual(loaded.config, CONFIG);
      const result = await lint({ dir });
      assert.deepEqual(result.diagnostics, [], "AUDIT_MISSING is switched off by the config");
    });
  }

  it("finds nothing in a directory without configuration, and does not look in parents", async () => {
    const parent = await testdir({
      "agentrc.config.json": JSON.stringify({ agentfile: "Nope" }),
      "child/Agentfile": "AGENT a\n",
    });
    const loaded = await loadConfig(join(parent, "child"));
    assert.equal(loaded.filepath, undefined);
    assert.deepEqual(loaded.config, {});
  });

  it("reports every schema error with CONFIG_INVALID", async () => {
    const dir = await testdir({
      "agentrc.config.json": JSON.stringify({ lint: { rules: { AUDIT_MISSING: "loud" } }, bulid: {} }),
    });
    await assert.rejects(
      loadConfig(dir),
      (e: Error & { code: string; diagnostics: Array<{ message: string }> }) => {
        assert.equal(e.code, "CONFIG_INVALID");
        const messages = e.diagnostics.map((d) => d.message);
        assert.ok(messages.includes('unknown property "bulid"'), messages.join(" | "));
        assert.ok(
          messages.some((m) =>
            m.startsWith("lint.rules.AUDIT_MISSING: must be equal to one of the allowed values"),
          ),
        );
        return true;
      },
    );
  });

  it("refuses a plugin without apply()", async () => {
    const dir = await testdir({
      "agentrc.config.mjs": 'export default { plugins: [{ name: "broken" }] };\n',
    });
    await assert.rejects(loadConfig(dir), {
      code: "PLUGIN_INVALID",
      message: /plugins\[0\] \(broken\) .* has no apply\(compiler\) function/,
    });
  });

  it("applies plugins from the config: a custom directive and a gate", async () => {
    const dir = await testdir({
      Agentfile: "AGENT a\nAUDIT basic\nOWNER team-x\n",
      "agentrc.config.mjs": `export default { plugins: [{
        name: "owners",
        apply(compiler) {
          compiler.registerDirective({ name: "OWNER", summary: "team", params: ["team"],
            schema: { type: "object", properties: { team: { type: "string", pattern: "^team-" } } } }, "owners");
        },
      }] };\n`,
    });
    assert.deepEqual((await lint({ dir })).diagnostics, []);
    await writeFile(join(dir, "Agentfile"), "AGENT a\nAUDIT basic\nOWNER nobody\n");
    const bad = await lint({ dir });
    assert.deepEqual(
      bad.diagnostics.map((d) => [d.code, d.plugin, d.location?.line, d.location?.column]),
      [["INVALID_ARGUMENTS", "owners", 3, 7]],
    );
  });
});

describe("agentrc.config.ts without TypeScript", () => {
  it("loads when `typescript` cannot be resolved at all", async () => {
    const dir = await testdir({
      Agentfile: "AGENT a\n",
      "agentrc.config.ts": `interface Cfg { lint: { rules: Record<string, "off"> } }\nconst c: Cfg = { lint: { rules: { AUDIT_MISSING: "off" } } };\nexport default c;\n`,
    });
    // Block every way of reaching the TypeScript package: CommonJS require and ESM import.
    const blocker = join(dir, "block-typescript.cjs");
    await writeFile(
      blocker,
      `const Module = require("node:module");
const original = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  if (request === "typescript" || request.startsWith("typescript/")) throw new Error("typescript is not installed");
  return original.call(this, request, ...rest);
};
Module.register("data:text/javascript," + encodeURIComponent(
  'export async function resolve(s, c, next) { if (s === "typescript" || s.startsWith("typescript/")) throw new Error("typescript is not installed"); return next(s, c); }'
));
`,
    );
    const script = `
      const { lint } = await import(${JSON.stringify(join(repo, "dist/src/index.js"))});
      let blocked = false;
      try { await import("typescript"); } catch { blocked = true; }
      const r = await lint({ dir: ${JSON.stringify(dir)} });
      console.log(JSON.stringify({ blocked, diagnostics: r.diagnostics }));
    `;
    const r = spawnSync(process.execPath, ["--require", blocker, "--input-type=module", "-e", script], {
      encoding: "utf8",
    });
    assert.equal(r.status, 0, r.stderr);
    const out = JSON.parse(r.stdout.trim().split("\n").pop()!);
    assert.equal(out.blocked, true, "the test really hides TypeScript");
    assert.deepEqual(out.diagnostics, []);
  });
});

describe("the repository's own agentrc.config.ts", () => {
  it("lints the reference agent with the example organisation plugin", async () => {
    const result = await lint({ dir: repo });
    assert.equal(result.compilation.context, join(repo, "fixtures/agents/reference"));
    assert.deepEqual(result.diagnostics, []);
    assert.equal(result.compilation.directives("OWNER")[0]?.plugin, "acme-policy");
  });

  it("imports the library as `agentrc`, never from src/: every command run in the repository loads it", async () => {
    // jiti would transpile the whole of src/ for each `verify`, `pull` or `install` run from the repository root
    // (tens of seconds each, most of the test suite's time once); `agentrc` is the built package, loaded natively.
    for (const file of ["agentrc.config.ts", "examples/org-plugin/index.ts"]) {
      const text = await readFile(join(repo, file), "utf8");
      const specifiers = [...text.matchAll(/^\s*(?:import|export)\b[^;]*?from\s+"([^"]+)"/gms)].map(
        (m) => m[1]!,
      );
      assert.ok(specifiers.length > 0, `${file} has imports`);
      assert.deepEqual(
        specifiers.filter((s) => /^\.{1,2}\/(?:\.\.\/)*(?:src|plugins)\//.test(s)),
        [],
        `${file} imports the library's sources`,
      );
    }
  });
});
