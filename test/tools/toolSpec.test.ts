import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { normaliseToolSpec, toolRefParts, toolShortNames } from "../../src/core.js";

const ISSUE_INPUT = {
  type: "object",
  properties: {
    owner: { type: "string", description: "Repository owner" },
    repo: { type: "string", description: "Repository name" },
    issue_number: { type: "number", description: "The number of the issue" },
  },
  required: ["owner", "repo", "issue_number"],
};

/** The names a TOOL accepts in its spec: the reference, what follows the namespace, the tool's own name. */
const namesOf = (ref: string): string[] => {
  const p = toolRefParts(ref)!;
  return [...new Set([ref, p.qualified, p.name])];
};

describe("tool references", () => {
  it("a tool's name follows its namespace; for MCP it follows the server", () => {
    assert.deepEqual(toolRefParts("mcp:github.get_issue"), {
      ref: "mcp:github.get_issue",
      namespace: "mcp",
      qualified: "github.get_issue",
      server: "github",
      name: "get_issue",
    });
    assert.deepEqual(toolRefParts("utcp:file_read"), {
      ref: "utcp:file_read",
      namespace: "utcp",
      qualified: "file_read",
      name: "file_read",
    });
    assert.deepEqual(toolShortNames("mcp:github.get_issue"), ["get_issue", "github.get_issue"]);
    assert.deepEqual(toolShortNames("utcp:a.b"), ["a.b"], "only MCP has servers");
    assert.equal(toolRefParts("nocolon"), undefined);
  });
});

describe("tool spec formats", () => {
  it("MCP: a tools/list entry (inputSchema, outputSchema, title, annotations)", () => {
    const entry = {
      name: "get_issue",
      title: "Get issue",
      description: "Get details of a specific issue in a GitHub repository.",
      inputSchema: ISSUE_INPUT,
      outputSchema: { type: "object", properties: { title: { type: "string" }, state: { type: "string" } } },
      annotations: { readOnlyHint: true, openWorldHint: true },
    };
    const r = normaliseToolSpec(entry, namesOf("mcp:github.get_issue"));
    assert.deepEqual(r.problems, []);
    assert.deepEqual(r.spec, {
      format: "mcp",
      name: "get_issue",
      description: entry.description,
      inputSchema: ISSUE_INPUT,
      outputSchema: entry.outputSchema,
      pointer: "",
    });
  });

  it("MCP: a whole tools/list JSON-RPC response picks the TOOL's entry", () => {
    const response = {
      jsonrpc: "2.0",
      id: 1,
      result: {
        tools: [
          { name: "list_issues", inputSchema: { type: "object" } },
          { name: "get_issue", inputSchema: ISSUE_INPUT, outputSchema: { type: "object" } },
        ],
      },
    };
    const r = normaliseToolSpec(response, namesOf("mcp:github.get_issue"));
    assert.deepEqual(r.problems, []);
    assert.equal(r.spec?.pointer, "/result/tools/1");
    assert.equal(r.spec?.format, "mcp");
    const missing = normaliseToolSpec(response, namesOf("mcp:github.create_issue"));
    assert.deepEqual(missing.problems, [
      {
        code: "INVALID_TOOL_SPEC",
        message:
          'lists no tool named "mcp:github.create_issue" or "github.create_issue" or "create_issue" (it lists list_issues, get_issue)',
        pointer: "/result/tools",
      },
    ]);
  });

  it('OpenAI: {"type":"function","function":{…}} (Chat Completions), and the flat Responses form', () => {
    const tool = {
      type: "function",
      function: {
        name: "get_weather",
        description: "Get current temperature for a given location.",
        parameters: {
          type: "object",
          properties: { location: { type: "string", description: "City and country e.g. Bogotá, Colombia" } },
          required: ["location"],
          additionalProperties: false,
        },
        strict: true,
      },
    };
    const r = normaliseToolSpec(tool, namesOf("openai:get_weather"));
    assert.equal(r.spec?.format, "openai");
    assert.equal(r.spec?.name, "get_weather");
    assert.deepEqual(r.spec?.inputSchema, tool.function.parameters);
    assert.equal(r.spec?.outputSchema, undefined);
    assert.deepEqual(r.problems, [
      {
        code: "TOOL_SPEC_NO_OUTPUT_SCHEMA",
        message:
          "has no output schema (OpenAI (function.parameters) has none): a runner cannot check what the tool returns",
        pointer: "/function",
        hint: 'Publish the tool as MCP (outputSchema) or UTCP (outputs) to declare its output, or accept it with lint.rules: { TOOL_SPEC_NO_OUTPUT_SCHEMA: "off" }.',
      },
    ]);
    const flat = normaliseToolSpec({ type: "function", ...tool.function }, namesOf("openai:get_weather"));
    assert.equal(flat.spec?.format, "openai");
    assert.equal(flat.problems[0]?.pointer, "");
  });

  it("OpenAI: an array of tools picks the entry named like the TOOL", () => {
    const r = normaliseToolSpec(
      [
        { type: "function", function: { name: "a", parameters: { type: "object" } } },
        { type: "function", function: { name: "get_weather", parameters: { type: "object" } } },
      ],
      namesOf("local:get_weather"),
    );
    assert.equal(r.spec?.pointer, "/1");
    assert.deepEqual(
      r.problems.map((p) => p.pointer),
      ["/1/function"],
    );
  });

  it("Anthropic: input_schema (and agentrc's output_schema beside it)", () => {
    const tool = {
      name: "get_stock_price",
      description: "Retrieves the current stock price for a given ticker symbol.",
      input_schema: {
        type: "object",
        properties: { ticker: { type: "string", description: "The stock ticker symbol, e.g. AAPL" } },
        required: ["ticker"],
      },
    };
    const r = normaliseToolSpec(tool, namesOf("local:get_stock_price"));
    assert.equal(r.spec?.format, "anthropic");
    assert.deepEqual(r.spec?.inputSchema, tool.input_schema);
    assert.deepEqual(
      r.problems.map((p) => p.code),
      ["TOOL_SPEC_NO_OUTPUT_SCHEMA"],
    );
    assert.equal(
      r.problems[0]!.message,
      'has no "output_schema": a runner cannot check what the tool returns',
    );
    const withOutput = normaliseToolSpec({ ...tool, output_schema: { type: "number" } }, ["get_stock_price"]);
    assert.deepEqual(withOutput.problems, []);
    assert.deepEqual(withOutput.spec?.outputSchema, { type: "number" });
  });

  it("UTCP: a tool of a UTCP manual (inputs, outputs, tool_call_template)", () => {
    const manual = {
      utcp_version: "1.0.1",
      manual_version: "1.0.0",
      tools: [
        {
          name: "get_weather",
          description: "Get current weather for a location",
          inputs: { type: "object", properties: { location: { type: "string" } }, required: ["location"] },
          outputs: {
            type: "object",
            properties: { temperature: { type: "number" }, conditions: { type: "string" } },
          },
          tags: ["weather"],
          tool_call_template: {
            call_template_type: "http",
            url: "https://api.weather.example/v1/current",
            http_method: "GET",
          },
        },
      ],
    };
    const r = normaliseToolSpec(manual, namesOf("utcp:get_weather"));
    assert.deepEqual(r.problems, []);
    assert.equal(r.spec?.format, "utcp");
    assert.equal(r.spec?.pointer, "/tools/0");
    assert.deepEqual(r.spec?.outputSchema, manual.tools[0]!.outputs);
  });

  it("plain: input and output, as the spec's prose says", () => {
    const r = normaliseToolSpec(
      { name: "utcp:lint", description: "Lints", input: { type: "object" }, output: { type: "array" } },
      namesOf("utcp:lint"),
    );
    assert.deepEqual(r.problems, []);
    assert.equal(r.spec?.format, "plain");
    assert.deepEqual(r.spec?.outputSchema, { type: "array" });
  });

  it("every schema present must be valid JSON Schema, reported at the keyword", () => {
    const r = normaliseToolSpec(
      {
        name: "get_issue",
        inputSchema: { type: "objekt" },
        outputSchema: { type: "object", minProperties: -1 },
      },
      namesOf("mcp:github.get_issue"),
    );
    assert.equal(r.spec, undefined);
    assert.deepEqual(
      r.problems.map((p) => [p.code, p.pointer]),
      [
        ["INVALID_TOOL_SPEC", "/inputSchema/type"],
        ["INVALID_TOOL_SPEC", "/outputSchema/minProperties"],
      ],
    );
    assert.match(r.problems[0]!.message, /^inputSchema\/type: must be equal to one of the allowed values/);
  });

  it("an unrecognised spec is a warning naming the formats; a name of another tool is an error", () => {
    const unknown = normaliseToolSpec({ name: "x", description: "no schema" }, ["x"]);
    assert.equal(unknown.spec, undefined);
    assert.deepEqual(unknown.problems, [
      {
        code: "TOOL_SPEC_UNRECOGNISED",
        message:
          "is not a tool spec format agentrc knows: no input schema as in MCP (inputSchema, outputSchema), OpenAI (parameters, or function.parameters), Anthropic (input_schema), UTCP (inputs, outputs) or plain (input, output)",
        pointer: "",
        hint: "Add the tool's input schema under the key of its format (inputSchema for MCP, parameters for OpenAI, input_schema for Anthropic, inputs for UTCP, input for plain).",
      },
    ]);
    const wrong = normaliseToolSpec(
      { name: "other", inputSchema: {}, outputSchema: {} },
      namesOf("mcp:gh.x"),
    );
    assert.deepEqual(wrong.problems, [
      { code: "INVALID_TOOL_SPEC", message: '"name" is "other" but the TOOL is mcp:gh.x', pointer: "/name" },
    ]);
    const notObject = normaliseToolSpec("get_issue", ["get_issue"]);
    assert.equal(notObject.problems[0]?.code, "INVALID_TOOL_SPEC");
  });
});
