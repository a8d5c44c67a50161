// `npm run build`, after tsc: converts the shipped Cedar schema (schemas/agentrc.cedarschema) to Cedar's JSON form
// once, with the real Cedar engine, into dist/validators/agentrc.cedarschema.json, stamped with the sha256 of the
// text and the engine's version (plugins/policy/cedar.ts uses it only when both match, and converts otherwise).
import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as cedar from "@cedar-policy/cedar-wasm/nodejs";
import { cedarVersion, PRECOMPILED_SCHEMA, SCHEMA_FILE } from "../dist/plugins/policy/cedar.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const text = await readFile(join(root, "schemas", SCHEMA_FILE), "utf8");
const answer = cedar.schemaToJson(text);
if (answer.type !== "success") {
  throw new Error(`schemas/${SCHEMA_FILE} does not convert: ${JSON.stringify(answer.errors)}`);
}
const file = join(root, PRECOMPILED_SCHEMA);
await mkdir(dirname(file), { recursive: true });
const stored = {
  textSha256: createHash("sha256").update(text, "utf8").digest("hex"),
  cedarVersion: cedarVersion(),
  json: answer.json,
};
await writeFile(`${file}.tmp`, `${JSON.stringify(stored)}\n`);
await rename(`${file}.tmp`, file);
