import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { describe, it } from "node:test";
import { renderErrorsDoc } from "../scripts/gen-errors-doc.js";
import { Compilation, Compiler } from "../src/index.js";

const doc = (name: string) => readFileSync(new URL(`../docs/${name}`, import.meta.url), "utf8");

describe("documentation stays in step with the code", () => {
  it("docs/hooks.md documents every hook", () => {
    const compiler = new Compiler({
      context: "/",
      agentfile: "Agentfile",
      plugins: [],
      registry: {},
      env: {},
      lint: { rules: {}, allowSecrets: [] },
      build: { tags: [], annotations: {} },
    });
    const compilation = new Compilation(compiler, "lint");
    const text = doc("hooks.md");
    for (const name of [...Object.keys(compiler.hooks), ...Object.keys(compilation.hooks)]) {
      assert.match(text, new RegExp(`\\| \`${name}\` \\|`), `hook ${name} is missing from docs/hooks.md`);
    }
  });

  it("docs/errors.md is generated from the current catalogue (run npm run docs:errors)", () => {
    assert.equal(doc("errors.md"), renderErrorsDoc());
  });
});
