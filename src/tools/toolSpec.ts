import { checkJsonSchema } from "../fs/jsonSource.js";

/**
 * Tool specs in the formats tools already publish, normalised to one shape. Each format is told apart by where it
 * keeps the input schema:
 *
 * | format | input schema | output schema | example |
 * |---|---|---|---|
 * | MCP (`tools/list` entry) | `inputSchema` | `outputSchema` | `{ name, title, description, inputSchema, annotations }` |
 * | OpenAI function | `parameters`, or `function.parameters` | – | `{ type: "function", function: { name, parameters } }` |
 * | Anthropic tool | `input_schema` | `output_schema` (agentrc) | `{ name, description, input_schema }` |
 * | UTCP manual tool | `inputs` | `outputs` | `{ name, description, inputs, outputs, tool_call_template }` |
 * | plain | `input` | `output` | `{ name, description, input, output }` |
 *
 * A file may also hold several tools: an array, an MCP `tools/list` result or a UTCP manual (`{ tools: [...] }`);
 * the entry whose name is the TOOL's is used.
 */
export type ToolSpecFormat = "mcp" | "openai" | "anthropic" | "utcp" | "plain";

interface FormatShape {
  format: ToolSpecFormat;
  label: string;
  /** JSON pointer (relative to the tool object) of the object holding name, description and the schemas. */
  base: string;
  input: string;
  output?: string;
}

const SHAPES: readonly FormatShape[] = [
  { format: "openai", label: "OpenAI (function.parameters)", base: "/function", input: "parameters" },
  {
    format: "mcp",
    label: "MCP (inputSchema, outputSchema)",
    base: "",
    input: "inputSchema",
    output: "outputSchema",
  },
  {
    format: "anthropic",
    label: "Anthropic (input_schema, output_schema)",
    base: "",
    input: "input_schema",
    output: "output_schema",
  },
  { format: "openai", label: "OpenAI (parameters)", base: "", input: "parameters" },
  { format: "utcp", label: "UTCP (inputs, outputs)", base: "", input: "inputs", output: "outputs" },
  { format: "plain", label: "plain (input, output)", base: "", input: "input", output: "output" },
];

/** The formats, for messages: `MCP (inputSchema, outputSchema), OpenAI (parameters), …`. */
export const TOOL_SPEC_FORMATS =
  "MCP (inputSchema, outputSchema), OpenAI (parameters, or function.parameters), Anthropic (input_schema), UTCP (inputs, outputs) or plain (input, output)";

export interface NormalisedToolSpec {
  format: ToolSpecFormat;
  name: string;
  description?: string;
  inputSchema: unknown;
  outputSchema?: unknown;
  /** JSON pointer of the tool object in the file (`""`, or `/tools/2` in a list). */
  pointer: string;
}

export interface ToolSpecProblem {
  code: "INVALID_TOOL_SPEC" | "TOOL_SPEC_UNRECOGNISED" | "TOOL_SPEC_NO_OUTPUT_SCHEMA";
  message: string;
  /** JSON pointer into the file. */
  pointer: string;
  /** A fix hint more precise than the code's. */
  hint?: string;
}

export interface ToolSpecResult {
  /** Present when the spec was recognised and has no INVALID_TOOL_SPEC problem. */
  spec?: NormalisedToolSpec;
  problems: ToolSpecProblem[];
}

type JsonObject = Record<string, unknown>;
const isObject = (v: unknown): v is JsonObject => v !== null && typeof v === "object" && !Array.isArray(v);

function shapeOf(tool: JsonObject): FormatShape | undefined {
  return SHAPES.find((s) => {
    if (s.base === "") {
      // `{ type: "function", function: {…} }` is OpenAI's wrapper, never a tool with a `parameters` of its own.
      return s.input in tool && !(tool.type === "function" && isObject(tool.function));
    }
    const inner = tool[s.base.slice(1)];
    return isObject(inner) && s.input in inner && (tool.type === undefined || tool.type === "function");
  });
}

/** The name of a tool object in any format (for choosing an entry of a list). */
function nameOf(tool: unknown): unknown {
  if (!isObject(tool)) return undefined;
  return isObject(tool.function) && tool.type === "function" ? tool.function.name : tool.name;
}

/**
 * The tool list of a file holding several tools: an array (OpenAI `tools`), `{ tools: [...] }` (an MCP `tools/list`
 * result, a UTCP manual) or a whole JSON-RPC response `{ result: { tools: [...] } }`.
 */
function toolList(value: unknown): { list: unknown[]; prefix: string } | undefined {
  if (Array.isArray(value)) return { list: value, prefix: "" };
  if (!isObject(value) || shapeOf(value)) return undefined;
  if (Array.isArray(value.tools)) return { list: value.tools, prefix: "/tools" };
  if (isObject(value.result) && Array.isArray(value.result.tools))
    return { list: value.result.tools, prefix: "/result/tools" };
  return undefined;
}

/**
 * Normalises the parsed JSON of a tool spec for the TOOL whose accepted names are `names` (its reference, what
 * follows the namespace, and for MCP what follows the server). Every schema present must compile as JSON Schema.
 */
export function normaliseToolSpec(value: unknown, names: readonly string[]): ToolSpecResult {
  const problems: ToolSpecProblem[] = [];
  const found = toolList(value);
  let tool: unknown = value;
  let pointer = "";
  if (found) {
    const { list, prefix } = found;
    const index = list.findIndex((t) => names.includes(nameOf(t) as string));
    if (index < 0) {
      const listed = list.map(nameOf).filter((n): n is string => typeof n === "string");
      problems.push({
        code: "INVALID_TOOL_SPEC",
        message: `lists no tool named ${names.map((n) => `"${n}"`).join(" or ")}${listed.length > 0 ? ` (it lists ${listed.join(", ")})` : ""}`,
        pointer: prefix,
      });
      return { problems };
    }
    tool = list[index];
    pointer = `${prefix}/${index}`;
  }
  if (!isObject(tool)) {
    problems.push({
      code: "INVALID_TOOL_SPEC",
      message: `must be a JSON object (${TOOL_SPEC_FORMATS})`,
      pointer,
    });
    return { problems };
  }
  const shape = shapeOf(tool);
  if (!shape) {
    problems.push({
      code: "TOOL_SPEC_UNRECOGNISED",
      message: `is not a tool spec format agentrc knows: no input schema as in ${TOOL_SPEC_FORMATS}`,
      pointer,
      hint: "Add the tool's input schema under the key of its format (inputSchema for MCP, parameters for OpenAI, input_schema for Anthropic, inputs for UTCP, input for plain).",
    });
    return { problems };
  }
  const base = `${pointer}${shape.base}`;
  const body = (shape.base === "" ? tool : tool[shape.base.slice(1)]) as JsonObject;
  const invalid = (message: string, at: string) =>
    problems.push({ code: "INVALID_TOOL_SPEC", message, pointer: at });

  const name = body.name;
  if (!("name" in body)) invalid(`missing "name"`, base);
  else if (typeof name !== "string" || name === "")
    invalid(`"name" must be a non-empty string`, `${base}/name`);
  else if (!names.includes(name)) invalid(`"name" is "${name}" but the TOOL is ${names[0]}`, `${base}/name`);
  const description = body.description;
  if (description !== undefined && (typeof description !== "string" || description === ""))
    invalid(`"description" must be a non-empty string`, `${base}/description`);

  for (const key of [shape.input, shape.output]) {
    if (key === undefined || !(key in body)) continue;
    const check = checkJsonSchema(body[key]);
    if (!check.ok) {
      for (const e of check.errors) invalid(`${key}${e.pointer}: ${e.message}`, `${base}/${key}${e.pointer}`);
    }
  }
  const hasOutput = shape.output !== undefined && shape.output in body;
  if (!hasOutput) {
    problems.push({
      code: "TOOL_SPEC_NO_OUTPUT_SCHEMA",
      pointer: base,
      ...(shape.output === undefined
        ? {
            message: `has no output schema (${shape.label} has none): a runner cannot check what the tool returns`,
            hint: 'Publish the tool as MCP (outputSchema) or UTCP (outputs) to declare its output, or accept it with lint.rules: { TOOL_SPEC_NO_OUTPUT_SCHEMA: "off" }.',
          }
        : {
            message: `has no "${shape.output}": a runner cannot check what the tool returns`,
            hint: `Add "${shape.output}" (a JSON Schema of the result) beside "${shape.input}".`,
          }),
    });
  }
  if (problems.some((p) => p.code === "INVALID_TOOL_SPEC")) return { problems };
  return {
    spec: {
      format: shape.format,
      name: name as string,
      ...(typeof description === "string" ? { description } : {}),
      inputSchema: body[shape.input],
      ...(hasOutput ? { outputSchema: body[shape.output!] } : {}),
      pointer,
    },
    problems,
  };
}
