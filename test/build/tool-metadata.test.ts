import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { build, schemaValidator } from "../../src/index.js";
import { withPackage } from "../../src/package/open.js";
import { canonicalJson } from "../../src/util/canonicalJson.js";
import { buildCopy, FIXTURES } from "../helpers/build.js";
import { testdir } from "../helpers/testdir.js";
import { where } from "../policy/helpers.js";

const fixture = join(FIXTURES, "valid/tool-spec-formats");
const json = async (rel: string) => JSON.parse(await readFile(join(fixture, rel), "utf8"));
const sha256 = async (rel: string) =>
  `sha256:${createHash("sha256")
    .update(await readFile(join(fixture, rel)))
    .digest("hex")}`;

describe("the package config records normalised tool metadata", () => {
  it("name, description, input and output schema, digest and risk tier, whatever the spec's format", async () => {
    const { result, layout } = await buildCopy("valid/tool-spec-formats");
    assert.deepEqual(
      result.diagnostics.filter((d) => d.severity === "error"),
      [],
    );
    const { config } = await withPackage(`oci:${layout}:1`, {}, async (p) => p);
    const github = (await json("tools/github-tools.json")).result.tools[1];
    const weather = (await json("tools/weather.py.toolspec.json")).function;
    const stock = await json("tools/stock.json");
    const forecast = (await json("tools/weather-manual.json")).tools[0];
    const lint = await json("tools/lint.sh.toolspec.json");
    assert.deepEqual(config.tools, [
      {
        ref: "mcp:github.get_issue",
        namespace: "mcp",
        server: "github",
        name: "get_issue",
        riskTier: "medium",
        digest: await sha256("tools/github-tools.json"),
        specFormat: "mcp",
        description: github.description,
        inputSchema: github.inputSchema,
        outputSchema: github.outputSchema,
      },
      {
        ref: "openai:get_weather",
        namespace: "openai",
        name: "get_weather",
        riskTier: "medium",
        digest: await sha256("tools/weather.py"),
        specFormat: "openai",
        description: weather.description,
        inputSchema: weather.parameters,
      },
      {
        ref: "local:get_stock_price",
        namespace: "local",
        name: "get_stock_price",
        riskTier: "medium",
        digest: await sha256("tools/stock.json"),
        specFormat: "anthropic",
        description: stock.description,
        inputSchema: stock.input_schema,
      },
      {
        ref: "utcp:forecast",
        namespace: "utcp",
        name: "forecast",
        riskTier: "medium",
        digest: await sha256("tools/weather-manual.json"),
        specFormat: "utcp",
        description: forecast.description,
        inputSchema: forecast.inputs,
        outputSchema: forecast.outputs,
      },
      {
        ref: "local:lint",
        namespace: "local",
        name: "lint",
        riskTier: "medium",
        digest: await sha256("tools/lint.sh"),
        specFormat: "plain",
        description: lint.description,
        inputSchema: lint.input,
        outputSchema: lint.output,
      },
      { ref: "utcp:shell", namespace: "utcp", name: "shell", riskTier: "high" },
    ]);
    const validate = schemaValidator("package-config.schema.json");
    assert.equal(validate(config), true, JSON.stringify(validate.errors));
    const unknownKey = { ...config, tools: [{ ...config.tools![0], input_schema: {} }] };
    assert.equal(validate(unknownKey), false, "tool entries are normalised: no format-specific keys");
  });

  it("a tool directory's digest is that of the canonical list of its files; no TOOL, no tools key", async () => {
    const base = await testdir({
      "agent/Agentfile": "AGENT dir-tool\nAUDIT basic\nTOOL utcp:lint tools/lint/\nALLOW invoke utcp:lint\n",
      "agent/tools/lint/run.sh": "#!/bin/sh\n",
      "agent/tools/lint/rules.json": "{}",
      "plain/Agentfile": "AGENT no-tools\nAUDIT basic\n",
    });
    const built = async (name: string) => {
      const layout = join(base, `layout-${name}`);
      const r = await build({
        dir: join(base, name),
        cacheDir: join(base, "cache"),
        config: { build: { tags: ["localhost/t:1"], output: layout } },
      });
      assert.deepEqual(where(r.diagnostics), []);
      return (await withPackage(`oci:${layout}:1`, {}, async (p) => p)).config;
    };
    const config = await built("agent");
    const file = (rel: string) =>
      `sha256:${createHash("sha256")
        .update(rel === "tools/lint/run.sh" ? "#!/bin/sh\n" : "{}")
        .digest("hex")}`;
    const expected = canonicalJson([
      { path: "tools/lint/rules.json", sha256: file("tools/lint/rules.json") },
      { path: "tools/lint/run.sh", sha256: file("tools/lint/run.sh") },
    ]);
    assert.deepEqual(config.tools, [
      {
        ref: "utcp:lint",
        namespace: "utcp",
        name: "lint",
        riskTier: "medium",
        digest: `sha256:${createHash("sha256").update(expected).digest("hex")}`,
      },
    ]);
    assert.equal("tools" in (await built("plain")), false);
  });

  it("the configs of the reference agents validate against schemas/package-config.schema.json", async () => {
    const validate = schemaValidator("package-config.schema.json");
    for (const fixture of ["agents/full", "valid/github-triager", "valid/spec-code-reviewer"]) {
      const { layout } = await buildCopy(fixture);
      const { config } = await withPackage(`oci:${layout}:1`, {}, async (p) => p);
      assert.equal(validate(config), true, `${fixture}: ${JSON.stringify(validate.errors)}`);
    }
  });
});
