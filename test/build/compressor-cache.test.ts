import assert from "node:assert/strict";
import { createRequire } from "node:module";
import { join } from "node:path";
import { describe, it } from "node:test";
import type zlibTypes from "node:zlib";
import { build } from "../../src/index.js";
import { testdir } from "../helpers/testdir.js";

/**
 * Makes node:zlib deflate as another zlib would (a distribution Node linked to system zlib or zlib-ng): here level 5
 * instead of 6, which changes the bytes the same way. The gzip writer looks the functions up on each call.
 */
async function withOtherZlib<T>(fn: () => Promise<T>): Promise<T> {
  // The module object itself (an ESM namespace is read-only); createDeflateRaw is configurable, not writable.
  const zlib = createRequire(import.meta.url)("node:zlib") as typeof zlibTypes;
  const { createDeflateRaw, deflateRawSync } = zlib;
  const set = (name: string, value: unknown) =>
    Object.defineProperty(zlib, name, { value, writable: false, enumerable: true, configurable: true });
  set("createDeflateRaw", (o: zlibTypes.ZlibOptions) => createDeflateRaw({ ...o, level: 5 }));
  set("deflateRawSync", (d: zlibTypes.InputType, o: zlibTypes.ZlibOptions) =>
    deflateRawSync(d, { ...o, level: 5 }),
  );
  try {
    return await fn();
  } finally {
    set("createDeflateRaw", createDeflateRaw);
    set("deflateRawSync", deflateRawSync);
  }
}

describe("layers packed by another zlib", () => {
  it("are not reused from a cache filled by the reference zlib, and the build warns", async () => {
    const files: Record<string, string> = { Agentfile: "AGENT zlib-probe\nAUDIT basic\nINCLUDE data\n" };
    for (let i = 0; i < 20; i++) files[`data/f${i}.txt`] = `line ${i} `.repeat(500 + i);
    const dir = await testdir(files);
    const base = await testdir();
    const run = (cache: string, out: string) =>
      build({
        dir,
        cacheDir: join(base, cache),
        config: { build: { tags: ["x:1"], output: join(base, out) } },
      });

    const reference = await run("cache", "out1");
    assert.deepEqual(reference.diagnostics, []);
    const [warm, cold] = await withOtherZlib(async () => [
      await run("cache", "out2"),
      await run("cold", "out3"),
    ]);
    assert.notEqual(
      cold.compilation.package!.descriptor.digest,
      reference.compilation.package!.descriptor.digest,
    );
    assert.equal(warm.compilation.package!.descriptor.digest, cold.compilation.package!.descriptor.digest);
    for (const r of [warm, cold]) {
      assert.deepEqual(
        r.diagnostics.map((d) => `${d.severity} ${d.code}`),
        ["warning OCI_ZLIB_NONSTANDARD"],
      );
    }
  });
});
