import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { test } from "node:test";
import { fileURLToPath } from "node:url";
import { OciLayout } from "../../src/oci/layout.js";
import { ANNOTATION_REF_NAME } from "../../src/oci/mediaTypes.js";
import { canonicalJson } from "../../src/util/canonicalJson.js";
import { tempDir } from "./helpers.js";

const HAMMER = fileURLToPath(new URL("./_hammer.ts", import.meta.url));

function run(args: string[]): Promise<{ code: number | null; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--import", "tsx", HAMMER, ...args], {
      stdio: ["ignore", "ignore", "pipe"],
    });
    let stderr = "";
    child.stderr.on("data", (c) => {
      stderr += c;
    });
    child.on("close", (code) => resolve({ code, stderr }));
  });
}

test("two processes building into one layout at once both succeed and leave a valid index", async (t) => {
  const dir = join(await tempDir(t), "shared-layout"); // not created yet: both processes create it
  const count = 60;
  const start = String(Date.now() + 1500);
  const [a, b] = await Promise.all([
    run([dir, "a", String(count), start]),
    run([dir, "b", String(count), start]),
  ]);
  assert.equal(a.code, 0, a.stderr);
  assert.equal(b.code, 0, b.stderr);

  const raw = await readFile(join(dir, "index.json"), "utf8");
  const index = JSON.parse(raw);
  assert.equal(raw, canonicalJson(index));
  const refs = index.manifests.map(
    (d: { annotations?: Record<string, string> }) => d.annotations?.[ANNOTATION_REF_NAME],
  );
  const expected: string[] = ["shared"];
  for (const p of ["a", "b"]) {
    for (let i = 0; i < count; i++) {
      const untagged = i % 5 === 3; // untagged by the process at i + 1
      if (!untagged) expected.push(`${p}-${i}`);
    }
  }
  assert.deepEqual([...refs].sort(), expected.sort(), "no tag was lost and none survived its untag");
  assert.equal(new Set(refs).size, refs.length, "one entry per tag");

  const layout = await OciLayout.open(dir);
  for (const e of await layout.list()) await layout.getManifest(e.descriptor.digest); // every manifest readable
  const leftovers = [
    ...(await readdir(dir)).filter((n) => n !== "oci-layout" && n !== "index.json" && n !== "blobs"),
    ...(await readdir(join(dir, "blobs", "sha256"))).filter((n) => !/^[0-9a-f]{64}$/.test(n)),
  ];
  assert.deepEqual(leftovers, [], "no lock or temp files remain");
});
