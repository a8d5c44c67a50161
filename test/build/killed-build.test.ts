import assert from "node:assert/strict";
import { spawn, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { readdir, stat, utimes, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import { BlobCache } from "../../src/cache/BlobCache.js";
import { LocalStore } from "../../src/oci/store.js";
import { BIN, runBin } from "../helpers/cli.js";
import { testdir } from "../helpers/testdir.js";

const tempsIn = async (dir: string) =>
  (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(".tmp-"));

describe("a killed build's temporary files do not stay in the cache", () => {
  it("SIGKILL while packing leaves a temp blob; the next build removes it", async () => {
    const agent = await testdir({ Agentfile: "AGENT killed\nAUDIT basic\nINCLUDE data.bin\n" });
    await writeFile(join(agent, "data.bin"), randomBytes(96 * 1024 * 1024));
    const cache = await testdir();
    const blobs = join(cache, "blobs", "blobs", "sha256");
    const child = spawn(
      process.execPath,
      [BIN, "build", agent, "--output", join(cache, "..", "out-killed")],
      {
        env: { PATH: process.env.PATH, AGENTRC_CACHE: cache },
        stdio: "ignore",
      },
    );
    const exited = new Promise<NodeJS.Signals | null>((resolve) => child.once("exit", (_c, s) => resolve(s)));
    // Kill it the moment a temp blob exists and has some bytes: the packer is writing it.
    let left: string[] = [];
    for (let i = 0; i < 6000 && child.exitCode === null; i++) {
      left = await tempsIn(blobs);
      if (left.length > 0 && (await stat(join(blobs, left[0]!)).catch(() => undefined))?.size) break;
      await sleep(10);
    }
    assert.ok(left.length > 0, "the build was caught while packing");
    child.kill("SIGKILL");
    assert.equal(await exited, "SIGKILL");
    assert.deepEqual(await tempsIn(blobs), left, "SIGKILL left the temp blob behind");
    assert.ok((await stat(join(blobs, left[0]!))).size > 0);

    const next = runBin(
      [
        "build",
        await testdir({ Agentfile: "AGENT next\nAUDIT basic\n" }),
        "--output",
        join(await testdir(), "out"),
      ],
      {
        env: { AGENTRC_CACHE: cache },
      },
    );
    assert.equal(next.code, 0, next.stderr);
    assert.deepEqual(await tempsIn(blobs), [], "the next build removed the dead build's temp blob");
  });

  it("a live writer's temp file is kept; an old one without a live owner is removed", async () => {
    const cache = await testdir();
    const first = await BlobCache.open(cache);
    const blobs = join(cache, "blobs", "blobs", "sha256");
    const mine = await first.layout.tempBlobPath();
    await writeFile(mine, "being written by this process");
    const unknownOwner = join(blobs, ".tmp-legacy-name-without-pid");
    await writeFile(unknownOwner, "x");
    const freshUnknown = join(blobs, ".tmp-another-legacy-name");
    await writeFile(freshUnknown, "x");
    const dayAgo = new Date(Date.now() - 25 * 3600 * 1000);
    await utimes(unknownOwner, dayAgo, dayAgo);
    await BlobCache.open(cache);
    assert.deepEqual(
      (await tempsIn(blobs)).sort(),
      [".tmp-another-legacy-name", mine.slice(blobs.length + 1)].sort(),
    );
  });

  it("the store drops a dead writer's temp blob when it is opened", async () => {
    const dir = await testdir();
    const store = await LocalStore.open({ path: dir });
    const dead = spawnSync(process.execPath, ["-e", ""]).pid!;
    const blobs = join(dir, "blobs", "sha256");
    await writeFile(join(blobs, `.tmp-${dead}-0e1f`), "left by a killed pull");
    const live = await store.layout.tempBlobPath();
    await writeFile(live, "being written");
    await LocalStore.open({ path: dir });
    assert.deepEqual(await tempsIn(blobs), [live.slice(blobs.length + 1)]);
  });
});
