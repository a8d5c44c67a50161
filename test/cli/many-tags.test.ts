import assert from "node:assert/strict";
import { spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, it } from "node:test";
import { build } from "../../src/index.js";
import { LocalStore } from "../../src/oci/store.js";
import { BIN } from "../helpers/cli.js";

/**
 * A store where many tags name one manifest (docker's `:1`, `:1.2`, `:latest`, … or a CI tagging every build): `list`
 * and `inspect` read that manifest as often as with one tag, not once per tag. Reading it once per index entry made
 * both quadratic in practice: 3,000 tags of a 300 KB manifest took `inspect` over 30 s.
 */
const TAGS = 200;

// testdir() registers its cleanup where it is called, which in a `before` hook is too early: one directory per file.
let base: string;
let storeDir: string;
let manifestPath: string;
let traces = 0;

/** How many times `agentrc <args>` opens the package's manifest blob, counted by strace. */
async function manifestOpens(args: string[]): Promise<number> {
  const trace = join(base, `trace-${traces++}`);
  const r = spawnSync(
    "strace",
    ["-f", "-qq", "-e", "trace=openat,open", "-o", trace, process.execPath, BIN, ...args],
    { encoding: "utf8", env: { PATH: process.env.PATH, HOME: process.env.HOME } },
  );
  assert.equal(r.status, 0, r.stderr);
  assert.notEqual(r.stdout, "", "the command printed its listing");
  return (await readFile(trace, "utf8"))
    .split("\n")
    .filter((line) => line.includes(`"${manifestPath}"`) && !/ = -1 /.test(line)).length;
}

/** Adds `count` tags of localhost/many:1's manifest. */
async function addTags(count: number): Promise<void> {
  const store = await LocalStore.open({ path: storeDir });
  const descriptor = await store.resolve("localhost/many:1");
  await store.layout.updateIndex((index) => {
    for (let i = 0; i < count; i++) {
      index.manifests.push({
        ...descriptor,
        annotations: { "org.opencontainers.image.ref.name": `localhost/many:build-${i}` },
      });
    }
  });
}

describe("many tags of one manifest", () => {
  // The text and --json forms read the store the same way: one of each command is enough.
  const commands = [["list"], ["inspect", "localhost/many:1", "--json"]];
  const withOneTag = new Map<string, number>();

  before(async () => {
    base = await mkdtemp(join(tmpdir(), "agentrc-many-tags-"));
    await mkdir(join(base, "agent"));
    await writeFile(join(base, "agent/Agentfile"), "AGENT many\nAUDIT basic\n");
    storeDir = join(base, "store");
    const built = await build({
      dir: join(base, "agent"),
      cacheDir: join(base, "cache"),
      config: { build: { tags: ["localhost/many:1"], store: storeDir } },
    });
    assert.equal(built.errorCount, 0);
    const digest = built.compilation.package!.descriptor.digest;
    manifestPath = join(storeDir, "blobs", "sha256", digest.slice("sha256:".length));
    for (const args of commands)
      withOneTag.set(args.join(" "), await manifestOpens([...args, "--store", storeDir]));
    await addTags(TAGS);
  });
  after(() => rm(base, { recursive: true, force: true }));

  for (const args of commands) {
    it(`agentrc ${args.join(" ")} reads the manifest as often with ${TAGS + 1} tags as with one`, async () => {
      const once = withOneTag.get(args.join(" "))!;
      assert.ok(once >= 1, "the manifest is read at all (the trace sees the store)");
      assert.equal(await manifestOpens([...args, "--store", storeDir]), once);
    });
  }
});
