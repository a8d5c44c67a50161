import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { build, push } from "../../src/index.js";
import { FIXTURES } from "../helpers/build.js";
import { fileTree } from "../helpers/fileTree.js";
import { type RegistryWorkspace, registryWorkspace } from "../helpers/registryWorkspace.js";
import { openedFiles, straceBin } from "../helpers/strace.js";

/**
 * `agentrc install` unpacks the package from the download streams, as `pull -o` does (test/cli/pull-one-read): the
 * layout it pulls into is read back only by the verification, never again to unpack. Counted with strace.
 */
let ws: RegistryWorkspace;
let ref: string;
let layers: string[];

before(async () => {
  ws = await registryWorkspace({ name: "install-one-read" });
  ref = `${ws.registry.host}/one-read/install:1`;
  const layout = join(ws.base, "layout");
  const built = await build({
    dir: join(FIXTURES, "agents/full"),
    cacheDir: join(ws.base, "cache"),
    config: { build: { output: layout, frozenLockfile: true } },
  });
  assert.equal(built.errorCount, 0);
  layers = built.compilation.package!.manifest.layers.map((l) => l.digest);
  await push(ref, { ...ws.registry.clientOptions(), store: layout, source: "latest" });
});
after(() => ws?.close());

describe("install reads each layer once after the download", () => {
  test("the tree comes from the download; the pulled layout's layers are read once (verification)", async () => {
    const data = join(ws.base, "data");
    const { run: r, lines } = await straceBin(["install", ref, "--json"], {
      syscalls: "openat,open",
      traceFile: join(ws.base, "trace"),
      env: { ...ws.env, XDG_DATA_HOME: data },
    });
    assert.equal(r.status, 0, r.stdout + r.stderr);
    const installed = JSON.parse(r.stdout) as { status: string; installed: { path: string } };
    assert.equal(installed.status, "installed");

    const reads = new Map<string, number>(layers.map((d) => [d, 0]));
    // The private layout lives in the installation's staging directory while it is being installed.
    const blob = new RegExp(
      `^${data}/agentrc/installed/\\.staging-[^/]+/layout/blobs/sha256/([0-9a-f]{64})$`,
    );
    for (const { path, flags } of openedFiles(lines)) {
      const hex = /O_WRONLY|O_RDWR/.test(flags) ? undefined : blob.exec(path)?.[1];
      const digest = `sha256:${hex}`;
      if (hex !== undefined && reads.has(digest)) reads.set(digest, reads.get(digest)! + 1);
    }
    // verifyPackage scans every layer once (the lockfile's lock checks read the bytes that scan kept); the unpack
    // reads none of them.
    assert.deepEqual(
      [...reads].filter(([, n]) => n !== 1),
      [],
      "each layer is read back once, by the verification",
    );
    assert.deepEqual(await fileTree(installed.installed.path), await ws.pulledTree(ref));
  });
});
