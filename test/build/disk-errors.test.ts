import assert from "node:assert/strict";
import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtemp, readdir, rmdir, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, describe, it } from "node:test";
import { extractTar } from "../../src/oci/extract.js";
import { runCli } from "../helpers/cli.js";
import { testdir } from "../helpers/testdir.js";

/**
 * A 1 MiB tmpfs: a real full disk. Mounting needs root, which CI has; without it this fails loudly rather than
 * skipping, so a missing privilege is never mistaken for a pass.
 */
async function tinyDisk(): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "agentrc-tiny-"));
  const r = spawnSync("mount", ["-t", "tmpfs", "-o", "size=1m", "tmpfs", dir], { encoding: "utf8" });
  if (r.status !== 0) {
    await rmdir(dir);
    throw new Error(
      `these tests mount a 1 MiB tmpfs and need root (CI runs as root): mount said ${r.stderr}`,
    );
  }
  after(async () => {
    execFileSync("umount", [dir]);
    await rmdir(dir);
  });
  return dir;
}

/** Every file below `dir` (relative paths). */
async function filesBelow(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { recursive: true, withFileTypes: true });
  return entries.filter((e) => e.isFile()).map((e) => join(e.parentPath, e.name).slice(dir.length + 1));
}

/** An agent with 3 MiB of incompressible data: more than the tiny disk holds. */
async function bigAgent(): Promise<string> {
  const dir = await testdir({ Agentfile: "AGENT big\nAUDIT basic\nINCLUDE data.bin\n" });
  await writeFile(join(dir, "data.bin"), randomBytes(3 * 1024 * 1024));
  return dir;
}

function assertClean(r: { stdout: string; stderr: string }): void {
  assert.doesNotMatch(r.stderr + r.stdout, /\n\s+at |INTERNAL|PLUGIN_FAILED/, r.stderr);
}

describe("a full disk is FS_NO_SPACE with the path, nothing half-written", () => {
  it("build --output onto a full disk", async () => {
    const tiny = await tinyDisk();
    const agent = await bigAgent();
    const cache = await testdir();
    const r = await runCli(["build", agent, "--output", join(tiny, "out"), "--no-color"], {
      env: { AGENTRC_CACHE: cache },
    });
    assert.equal(r.code, 1);
    assertClean(r);
    assert.match(r.stderr, new RegExp(`error FS_NO_SPACE no space left on the device writing ${tiny}/out/`));
    assert.deepEqual(
      (await filesBelow(tiny)).filter((f) => f.includes(".tmp-")),
      [],
      "no temporary file is left behind",
    );
  });

  it("build with the cache on a full disk, and into a store on a full disk", async () => {
    const tiny = await tinyDisk();
    const agent = await bigAgent();
    const cached = await runCli(["build", agent, "--store", join(await testdir(), "store"), "--json"], {
      env: { AGENTRC_CACHE: join(tiny, "cache") },
    });
    assert.equal(cached.code, 1);
    assertClean(cached);
    const out = JSON.parse(cached.stdout) as { error: { code: string; message: string } };
    assert.equal(out.error.code, "FS_NO_SPACE");
    assert.match(out.error.message, new RegExp(`^no space left on the device writing ${tiny}/cache/`));
    const stored = await runCli(["build", agent, "--store", join(tiny, "store"), "--no-color"], {
      env: { AGENTRC_CACHE: await testdir() },
    });
    assert.equal(stored.code, 1);
    assertClean(stored);
    assert.match(
      stored.stderr,
      new RegExp(`error FS_NO_SPACE no space left on the device writing ${tiny}/store/`),
    );
  });

  it("extracting onto a full disk removes what it wrote", async () => {
    const tiny = await tinyDisk();
    const { createLayerStream } = await import("../../src/oci/pack.js");
    const layer = createLayerStream(
      [{ path: "data.bin", kind: "file", content: randomBytes(3 * 1024 * 1024) }],
      { epoch: 0 },
    ).stream;
    await assert.rejects(
      () => extractTar(layer, join(tiny, "out")),
      (err: Error & { code?: string }) => {
        assert.equal(err.code, "FS_NO_SPACE");
        assert.match(err.message, new RegExp(`no space left on the device writing ${tiny}/out/data.bin`));
        return true;
      },
    );
    assert.deepEqual(await readdir(tiny), []);
  });
});

describe("a path over the system's name limit is FS_NAME_TOO_LONG with the path", () => {
  const long = "n".repeat(300);

  it("build --output into a directory with a 300-character name", async () => {
    const base = await testdir();
    const r = await runCli(
      [
        "build",
        await testdir({ Agentfile: "AGENT long\nAUDIT basic\n" }),
        "--output",
        join(base, long, "out"),
      ],
      { env: { AGENTRC_CACHE: join(base, "cache") } },
    );
    assert.equal(r.code, 1);
    assertClean(r);
    assert.match(r.stderr, new RegExp(`error FS_NAME_TOO_LONG a file name is too long: ${base}/${long}`));
  });

  it("list --store with a 300-character name (not INTERNAL)", async () => {
    const base = await testdir();
    const r = await runCli(["list", "--store", join(base, long), "--json"]);
    assert.equal(r.code, 1);
    assertClean(r);
    const out = JSON.parse(r.stdout) as { error: { code: string; message: string } };
    assert.equal(out.error.code, "FS_NAME_TOO_LONG");
    assert.equal(out.error.message, `a file name is too long: ${join(base, long)}`);
  });
});
