import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  addAgentrcSchemas,
  ajvVersion,
  createAjv,
  loadPrecompiled,
  PRECOMPILED_DIR,
  schemasDigest,
  schemaValidator,
} from "../../src/schema/validate.js";
import { packageRoot } from "../../src/util/packageRoot.js";

const SCHEMAS = (await readdir(join(packageRoot(), "schemas"))).filter((n) => n.endsWith(".schema.json"));

describe("schemas compiled ahead of time by npm run build", () => {
  it("exist for every schema, stamped with the schema files' digest and the ajv version, and are the ones used", async () => {
    assert.ok(SCHEMAS.length >= 5);
    const require = createRequire(import.meta.url);
    for (const name of SCHEMAS) {
      const file = join(packageRoot(), PRECOMPILED_DIR, `${name}.cjs`);
      const module = require(file) as { schemaSha256: string; ajvVersion: string };
      assert.equal(module.schemaSha256, schemasDigest(), name);
      assert.equal(module.ajvVersion, ajvVersion());
      assert.equal(schemaValidator(name), module, `${name}: the precompiled validator is used`);
    }
  });

  it("give the same verdicts and errors as compiling the schema at run time", async () => {
    const text = await readFile(join(packageRoot(), "schemas", "config.schema.json"), "utf8");
    const fresh = createAjv();
    addAgentrcSchemas(fresh);
    const runtime = fresh.getSchema((JSON.parse(text) as { $id: string }).$id)!;
    assert.equal(typeof runtime, "function");
    const pre = schemaValidator("config.schema.json");
    for (const config of [
      {},
      { build: { tags: ["a:1"] } },
      { lint: { rules: { lower: "off" } } },
      { plugins: [42] },
      { build: { frozenLockfile: "yes", extra: 1 } },
    ]) {
      assert.equal(pre(config), runtime(config), JSON.stringify(config));
      assert.deepEqual(pre.errors ?? null, runtime.errors ?? null, JSON.stringify(config));
    }
  });

  it("is ignored when stale: compiled from other schema bytes or by another ajv", async () => {
    const dir = join(packageRoot(), PRECOMPILED_DIR);
    const fresh = join(dir, "config.schema.json.cjs");
    const digest = schemasDigest();
    assert.equal(typeof loadPrecompiled(fresh, digest), "function");
    assert.equal(
      loadPrecompiled(fresh, createHash("sha256").update("other").digest("hex")),
      undefined,
      "schemas edited since the build",
    );
    // Beside the real ones, so that its require()s of ajv's runtime resolve the same way.
    const otherAjv = join(dir, `.test-other-ajv-${process.pid}.cjs`);
    await writeFile(
      otherAjv,
      (await readFile(fresh, "utf8")).replace(/ajvVersion = "[^"]*"/, 'ajvVersion = "0.0.1"'),
    );
    try {
      assert.equal(loadPrecompiled(otherAjv, digest), undefined, "another ajv version");
    } finally {
      await rm(otherAjv, { force: true });
    }
    assert.equal(loadPrecompiled(join(dir, "missing.cjs"), digest), undefined, "not built");
  });
});
