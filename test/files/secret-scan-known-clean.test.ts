import assert from "node:assert/strict";
import { appendFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { SecretScanSink } from "../../plugins/secret-scan/secrets.js";
import { build } from "../../src/index.js";
import { testdir } from "../helpers/testdir.js";

/** Counts the bytes the real scanner is handed (the scanner itself runs unchanged). */
function countScanned(): { bytes: () => number; restore: () => void } {
  const original = SecretScanSink.prototype.update;
  let bytes = 0;
  SecretScanSink.prototype.update = function (this: SecretScanSink, chunk: Buffer) {
    bytes += chunk.length;
    original.call(this, chunk);
  };
  return { bytes: () => bytes, restore: () => (SecretScanSink.prototype.update = original) };
}

describe("secret scan of a layer packed again", () => {
  it("scans only the changed file, not the content it found clean before, and still finds a new secret", async () => {
    const files: Record<string, string> = { Agentfile: "AGENT rescan\nAUDIT basic\nINGEST docs/**\n" };
    for (let i = 0; i < 10; i++)
      files[`docs/page-${i}.md`] = `# Page ${i}\n${"plain words\n".repeat(20_000)}`;
    const dir = await testdir(files);
    // Past the digest cache's racy window (2 s of mtime and ctime), so that the second build trusts the digests.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const base = await testdir();
    const run = (output: string) =>
      build({
        dir,
        cacheDir: join(base, "cache"),
        config: { build: { tags: ["x:1"], output: join(base, output) } },
      });

    const first = countScanned();
    try {
      assert.deepEqual((await run("one")).diagnostics, []);
    } finally {
      first.restore();
    }
    assert.ok(first.bytes() >= 10 * 240_000, "the cold build scans every page");

    const changed = join(dir, "docs/page-4.md");
    await appendFile(changed, `token: ghp_${"a1B2".repeat(9)}\n`);
    const second = countScanned();
    let rebuilt: Awaited<ReturnType<typeof run>> | undefined;
    let failure: { code?: string } | undefined;
    try {
      rebuilt = await run("two");
    } catch (err) {
      failure = err as { code?: string };
    } finally {
      second.restore();
    }
    const codes = rebuilt ? rebuilt.diagnostics.map((d) => `${d.code} ${d.location?.file}`) : [failure?.code];
    assert.deepEqual(codes, ["SECRET_IN_FILE docs/page-4.md"]);
    // Only page 4 (about 240 kB) was fed to the scanner; the nine unchanged pages were not scanned again.
    assert.ok(second.bytes() < 2 * 240_100, `${second.bytes()} bytes scanned`);
    assert.ok(second.bytes() >= 240_000);
  });
});
