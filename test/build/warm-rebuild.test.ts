import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join, relative } from "node:path";
import { describe, it } from "node:test";
import { FIXTURES } from "../helpers/build.js";
import { BIN } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { testdir } from "../helpers/testdir.js";

interface Syscall {
  call: string;
  path: string;
  flags: string;
}

/** The file system calls strace saw (openat, rename, link, unlink, mkdir) with their first path and flags. */
function parseTrace(text: string): Syscall[] {
  const out: Syscall[] = [];
  for (const line of text.split("\n")) {
    const m =
      /^(?:\d+\s+)?(openat|open|rename|renameat2?|link|linkat|unlink|unlinkat|mkdir|mkdirat)\((?:AT_FDCWD, )?"([^"]*)"(.*)$/.exec(
        line,
      );
    if (!m || /= -1 /.test(line)) continue;
    out.push({ call: m[1]!, path: m[2]!, flags: m[3]! });
  }
  return out;
}

describe("a warm rebuild with nothing changed", () => {
  it("reads no selected file, does not load Cedar, and writes only the store's index", async () => {
    const base = await testdir();
    const agent = join(base, "agent");
    await copyTree(join(FIXTURES, "agents/full"), agent);
    // Digests taken within 2 s of a file's last change are "racily clean" and hashed again by the next run
    // (src/fs/fileDigest.ts); let the copied files settle first, as checked-out files have.
    await new Promise((resolve) => setTimeout(resolve, 2100));
    const env = { ...process.env, AGENTRC_CACHE: join(base, "cache"), AGENTRC_STORE: join(base, "store") };
    const args = [BIN, "build", agent, "-t", "localhost/full:1", "--json"];
    const cold = spawnSync(process.execPath, args, { encoding: "utf8", env });
    assert.equal(cold.status, 0, cold.stderr);
    const trace = join(base, "trace");
    const warm = spawnSync(
      "strace",
      [
        "-f",
        "-qq",
        // Successful calls only, each printed whole at its exit: with -f, a call interrupted by another thread is
        // otherwise split into an "unfinished" line without its result, and a failed open would look like a read.
        "-z",
        "-e",
        "trace=openat,open,rename,renameat,renameat2,link,linkat,mkdir,mkdirat",
        "-o",
        trace,
        process.execPath,
        ...args,
      ],
      { encoding: "utf8", env },
    );
    assert.equal(warm.status, 0, warm.stderr);
    assert.equal(JSON.parse(warm.stdout).digest, JSON.parse(cold.stdout).digest);
    const calls = parseTrace(await readFile(trace, "utf8"));
    assert.ok(calls.length > 20, "strace recorded the build");

    // Inputs that are read on every run: the Agentfile, the lockfile, and the policy files (the key of the cached
    // Cedar verdict is their text). Directories are listed to find new files. Nothing else in the agent is opened.
    const inAgent = calls
      .filter(
        (c) =>
          c.call.startsWith("open") && c.path.startsWith(`${agent}/`) && !c.flags.includes("O_DIRECTORY"),
      )
      .map((c) => relative(agent, c.path));
    assert.deepEqual([...new Set(inAgent)].sort(), ["Agentfile", "agentrc.lock", "policy/agent.cedar"]);

    assert.deepEqual(
      calls.filter((c) => /cedar_wasm/.test(c.path)).map((c) => c.path),
      [],
      "the Cedar engine is not loaded",
    );
    // Nor sigstore-js's signing side (its Fulcio and HTTP clients): an unsigned build only loads it to sign.
    assert.deepEqual(
      calls.filter((c) => /node_modules\/@sigstore\/sign\//.test(c.path)).map((c) => c.path),
      [],
      "@sigstore/sign is not loaded",
    );

    // Writes: only index.json of the store (temp, lock, rename) besides the cache's and the store's leases; no blob, no cache
    // entry, no lockfile rewrite.
    const written = calls
      .filter(
        (c) =>
          (c.call.startsWith("open") && /O_WRONLY|O_RDWR|O_CREAT/.test(c.flags)) ||
          !c.call.startsWith("open"),
      )
      .filter((c) => c.path.startsWith(base))
      // Leases of the blob cache and the store (src/oci/lease.ts): this build's own bookkeeping, removed when it ends.
      .filter(
        (c) => !/^(cache\/blobs\/(leases\/|index\.json\.lock$)|store\/leases\/)/.test(relative(base, c.path)),
      )
      .map((c) => `${c.call} ${relative(base, c.path).replace(/tmp-[0-9a-f-]+$/, "tmp-*")}`);
    assert.deepEqual([...new Set(written)].sort(), [
      "openat store/index.json.lock",
      "openat store/index.json.tmp-*",
      "rename store/index.json.tmp-*",
    ]);
  });
});
