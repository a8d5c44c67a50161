// `npm run build`, after tsc: compiles agentrc's JSON Schemas ahead of time into standalone ajv validators in
// dist/validators/<schema>.cjs, each stamped with the digest of the schema files (a schema may $ref another) and the
// ajv version it came from (src/schema/validate.ts uses one only when both match, and compiles the schema otherwise).
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import standalone from "ajv/dist/standalone/index.js";
import {
  addAgentrcSchemas,
  ajvVersion,
  createAjv,
  PRECOMPILED_DIR,
  schemasDigest,
} from "../dist/src/schema/validate.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = join(root, PRECOMPILED_DIR);
await mkdir(out, { recursive: true });
const names = (await readdir(join(root, "schemas"))).filter((n) => n.endsWith(".schema.json")).sort();
const digest = schemasDigest();
for (const name of names) {
  const schema = JSON.parse(await readFile(join(root, "schemas", name), "utf8"));
  const ajv = createAjv({ code: { source: true } });
  addAgentrcSchemas(ajv);
  const validate = ajv.getSchema(schema.$id);
  if (!validate) throw new Error(`schemas/${name} has no $id`);
  const code = standalone.default(ajv, validate);
  const stamp = [
    `module.exports.schemaSha256 = ${JSON.stringify(digest)};`,
    `module.exports.ajvVersion = ${JSON.stringify(ajvVersion())};`,
  ].join("\n");
  const file = join(out, `${name}.cjs`);
  await writeFile(`${file}.tmp`, `${code}\n${stamp}\n`);
  await rename(`${file}.tmp`, file);
}
