import assert from "node:assert/strict";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  agentrcCedarSchema,
  cedarVersion,
  loadCedar,
  PRECOMPILED_SCHEMA,
  parsedSchema,
  precompiledSchema,
} from "../../plugins/policy/cedar.js";
import { packageRoot } from "../../src/util/packageRoot.js";
import { testdir } from "../helpers/testdir.js";

describe("the Cedar schema's JSON form, converted by npm run build", () => {
  it("is what the real Cedar engine converts the shipped schema to, and is used without converting", async () => {
    const cedar = await loadCedar();
    const text = agentrcCedarSchema();
    const converted = cedar.schemaToJson(text);
    assert.equal(converted.type, "success");
    const stored = precompiledSchema(text);
    assert.ok(stored, `${PRECOMPILED_SCHEMA} exists (npm run build) and matches the schema`);
    assert.deepEqual(stored, converted.type === "success" ? converted.json : undefined);
    // An engine whose conversion throws shows that parsedSchema read the stored form instead.
    const refusing = {
      ...cedar,
      schemaToJson: () => {
        throw new Error("converted at start");
      },
    } as typeof cedar;
    assert.deepEqual(parsedSchema(refusing, text), stored);
  });

  it("is ignored when stale: another schema text, or another Cedar version", async () => {
    const text = agentrcCedarSchema();
    const file = join(packageRoot(), PRECOMPILED_SCHEMA);
    assert.ok(precompiledSchema(text, file));
    assert.equal(precompiledSchema(`${text}\n// edited since the build\n`, file), undefined);
    const dir = await testdir();
    const other = join(dir, "other-version.json");
    const { createHash } = await import("node:crypto");
    await writeFile(
      other,
      JSON.stringify({
        textSha256: createHash("sha256").update(text, "utf8").digest("hex"),
        cedarVersion: `${cedarVersion()}-other`,
        json: {},
      }),
    );
    assert.equal(precompiledSchema(text, other), undefined);
    assert.equal(precompiledSchema(text, join(dir, "missing.json")), undefined);
  });
});
