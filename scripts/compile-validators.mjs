// `npm run build`, after tsc: compiles agentrc's JSON Schemas ahead of time into standalone ajv validators in
// dist/validators/<schema>.cjs, each stamped with the sha256 of the schema bytes and the ajv version it came from
// (src/schema/validate.ts uses one only when both match, and compiles the schema itself otherwise).
import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import standalone from "ajv/dist/standalone/index.js";
import { ajvVersion, createAjv, PRECOMPILED_DIR } from "../dist/src/schema/validate.js";

const root = fileURLToPath(new URL("..", import.meta.url));
const out = join(root, PRECOMPILED_DIR);
await mkdir(out, { recursive: true });
const names = (await readdir(join(root, "schemas"))).filter((n) => n.endsWith(".schema.json")).sort();
for (const name of names) {
  const text = await readFile(join(root, "schemas", name), "utf8");
  const ajv = createAjv({ code: { source: true } });
  const code = standalone.default(ajv, ajv.compile(JSON.parse(text)));
  const stamp = [
    `module.exports.schemaSha256 = ${JSON.stringify(createHash("sha256").update(text).digest("hex"))};`,
    `module.exports.ajvVersion = ${JSON.stringify(ajvVersion())};`,
  ].join("\n");
  const file = join(out, `${name}.cjs`);
  await writeFile(`${file}.tmp`, `${code}\n${stamp}\n`);
  await rename(`${file}.tmp`, file);
}
