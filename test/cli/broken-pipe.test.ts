import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { build } from "../../src/index.js";
import { LocalStore } from "../../src/oci/store.js";
import { BIN } from "../helpers/cli.js";
import { testdir } from "../helpers/testdir.js";

/** Runs `agentrc <args> | head -1` in a real shell pipeline: the CLI's stdout is the pipe that head closes. */
async function pipedIntoHead(args: string[]): Promise<{ status: number; stderr: string; first: string }> {
  const dir = await testdir();
  const files = { ERR_FILE: join(dir, "stderr"), STATUS_FILE: join(dir, "status") };
  const r = spawnSync(
    "sh",
    ["-c", '{ "$NODE" "$BIN" "$@" 2>"$ERR_FILE"; echo $? >"$STATUS_FILE"; } | head -1', "sh", ...args],
    { encoding: "utf8", env: { PATH: process.env.PATH, NODE: process.execPath, BIN, ...files } },
  );
  assert.equal(r.status, 0, r.stderr);
  return {
    status: Number((await readFile(files.STATUS_FILE, "utf8")).trim()),
    stderr: await readFile(files.ERR_FILE, "utf8"),
    first: r.stdout,
  };
}

describe("output into a closed pipe (`| head -1`)", async () => {
  // Enough output that the writer is still writing when head exits: 3,000 tags and 5,000 annotations.
  const base = await testdir({ "agent/Agentfile": "AGENT piped\nAUDIT basic\n" });
  const storeDir = join(base, "store");
  const annotations = Object.fromEntries(
    Array.from({ length: 5000 }, (_, i) => [`org.example.note-${i}`, "x".repeat(40)]),
  );
  const built = await build({
    dir: join(base, "agent"),
    cacheDir: join(base, "cache"),
    config: { build: { tags: ["localhost/piped:1"], store: storeDir, annotations } },
  });
  assert.equal(built.errorCount, 0);
  const store = await LocalStore.open({ path: storeDir });
  const descriptor = await store.resolve("localhost/piped:1");
  await store.layout.updateIndex((index) => {
    for (let i = 0; i < 3000; i++) {
      index.manifests.push({
        ...descriptor,
        annotations: { "org.opencontainers.image.ref.name": `localhost/piped:${i}-${"t".repeat(60)}` },
      });
    }
  });

  for (const args of [
    ["list", "--store", storeDir],
    ["list", "--store", storeDir, "--json"],
    ["inspect", "localhost/piped:1", "--store", storeDir],
    ["inspect", "localhost/piped:1", "--store", storeDir, "--json"],
  ]) {
    it(`agentrc ${args.filter((a) => a !== storeDir).join(" ")} | head -1 exits 0 without a stack trace`, async () => {
      const r = await pipedIntoHead(args);
      assert.equal(r.stderr, "", "nothing on stderr: no EPIPE, no stack trace");
      assert.equal(r.status, 0);
      assert.ok(r.first.length > 0, "head got the first line");
    });
  }
});
