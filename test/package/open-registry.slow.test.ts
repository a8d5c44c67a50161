import assert from "node:assert/strict";
import { appendFile, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { openPackage, verify } from "../../src/api.js";
import { isAgentrcError } from "../../src/diagnostics/AgentrcError.js";
import { build, push } from "../../src/index.js";
import { FIXTURES } from "../helpers/build.js";
import { runCli } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { PackageTamper } from "../helpers/tamper.js";

let registry: TestRegistry;
let base: string;
let digest: string;
let ref: string;

before(async () => {
  registry = await startRegistry({ mode: "htpasswd" });
  base = await mkdtemp(join(tmpdir(), "agentrc-open-registry-"));
  ref = `${registry.host}/open/full:1`;
  const built = await build({
    dir: join(FIXTURES, "agents/full"),
    cacheDir: join(base, "cache"),
    config: { build: { tags: [ref], store: join(base, "store"), frozenLockfile: true } },
  });
  assert.equal(built.errorCount, 0);
  digest = built.compilation.package!.descriptor.digest;
  await push(ref, { ...registry.clientOptions(), store: join(base, "store") });
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

test("a reference the store lacks, naming its registry, is read from the registry; blobs on demand", async () => {
  const pkg = await openPackage(ref, { ...registry.clientOptions(), store: join(base, "empty-store") });
  try {
    assert.equal(pkg.kind, "registry");
    assert.equal(pkg.source, registry.url);
    assert.equal(pkg.descriptor.digest, digest);
    const lock = pkg.manifest.layers.find(
      (l) => l.annotations?.["org.opencontainers.image.title"] === "agentrc.lock",
    )!;
    assert.match((await pkg.readBlob(lock)).toString("utf8"), /"agentrc\.lock\/v1"/);
  } finally {
    await pkg.close();
  }
});

test("--remote reads the registry even when the store has the reference", async () => {
  const pkg = await openPackage(ref, {
    ...registry.clientOptions(),
    store: join(base, "store"),
    remote: true,
  });
  try {
    assert.equal(pkg.kind, "registry");
    assert.equal(pkg.descriptor.digest, digest);
  } finally {
    await pkg.close();
  }
  const local = await openPackage(ref, { ...registry.clientOptions(), store: join(base, "store") });
  await local.close();
  assert.equal(local.kind, "store");
});

test("a miss on a host the store has packages from stays local, with a hint at --remote", async () => {
  await assert.rejects(
    openPackage(`${registry.host}/open/other:1`, { ...registry.clientOptions(), store: join(base, "store") }),
    (err: unknown) => {
      assert.ok(isAgentrcError(err));
      assert.equal(err.code, "OCI_REF_NOT_FOUND");
      assert.match(err.message, /No tag/);
      assert.match(err.hint ?? "", /pass --remote/);
      return true;
    },
  );
});

test("verify --remote reads every blob from the registry; a lying file index pushed there fails", async () => {
  const good = await verify(ref, {
    ...registry.clientOptions(),
    store: join(base, "empty-store"),
    remote: true,
  });
  assert.equal(good.kind, "registry");
  assert.deepEqual(good.failures, []);

  const layout = join(base, "lying-layout");
  const built = await build({
    dir: join(FIXTURES, "agents/full"),
    cacheDir: join(base, "cache"),
    config: { build: { output: layout, frozenLockfile: true } },
  });
  assert.equal(built.errorCount, 0);
  const t = await PackageTamper.open(layout);
  t.config.files = t.config.files.filter((f: { path: string }) => f.path !== "data/docs/index.md");
  await t.commit();
  const lying = `${registry.host}/open/lying:1`;
  await push(lying, { ...registry.clientOptions(), store: layout, source: "latest" });
  const cli = await runCli(["verify", lying, "--json"], {
    env: {
      HOME: base,
      AGENTRC_STORE: join(base, "empty-store"),
      AGENTRC_CACHE: join(base, "cache"),
      AGENTRC_REGISTRY_HOST: registry.host,
      AGENTRC_REGISTRY_USERNAME: registry.users[0]!.name,
      AGENTRC_REGISTRY_PASSWORD: registry.users[0]!.password,
    },
  });
  assert.equal(cli.code, 1, cli.stdout);
  const result = JSON.parse(cli.stdout) as {
    kind: string;
    failures: Array<{ code: string; part: string; message: string }>;
  };
  assert.equal(result.kind, "registry", cli.stdout);
  assert.deepEqual(
    result.failures.map((f) => [f.code, f.part]),
    [["PACKAGE_FILE_UNLISTED", "file data/docs/index.md"]],
  );
  assert.match(result.failures[0]!.message, /layer data holds data\/docs\/index\.md/);
});

/** The file the test registry stores a blob in (docker-registry's filesystem driver layout). */
const registryBlobFile = (digest: string) => {
  const hex = digest.slice("sha256:".length);
  return join(registry.storageDir, "docker/registry/v2/blobs/sha256", hex.slice(0, 2), hex, "data");
};

test("verify --remote of a package whose blobs were altered in the registry's storage: each its own code", async () => {
  // A package of its own, so altering its blobs leaves the other tests' package alone.
  const dir = join(base, "altered-src");
  const layout = join(base, "altered-layout");
  await copyTree(join(FIXTURES, "agents/full"), dir);
  await appendFile(join(dir, "docs/index.md"), "\nOnly in the altered package.\n");
  const built = await build({ dir, cacheDir: join(base, "cache"), config: { build: { output: layout } } });
  assert.equal(built.errorCount, 0);
  const altered = `${registry.host}/open/altered:1`;
  await push(altered, { ...registry.clientOptions(), store: layout, source: "latest" });
  const layers = built.compilation.package!.manifest.layers;
  const layerOf = (title: string) =>
    layers.find((l) => l.annotations?.["org.opencontainers.image.title"] === title)!;

  // The data layer: same size, one byte flipped on the registry's disk. The policy layer: gone from its disk.
  const data = registryBlobFile(layerOf("data").digest);
  const bytes = await readFile(data);
  const at = bytes.length - 10;
  bytes[at] = bytes[at]! ^ 0xff;
  await writeFile(data, bytes);
  await rm(registryBlobFile(layerOf("policy/agent.cedar").digest));

  const cli = await runCli(["verify", altered, "--remote", "--json"], {
    env: {
      HOME: base,
      AGENTRC_STORE: join(base, "empty-store"),
      AGENTRC_CACHE: join(base, "cache"),
      AGENTRC_REGISTRY_HOST: registry.host,
      AGENTRC_REGISTRY_USERNAME: registry.users[0]!.name,
      AGENTRC_REGISTRY_PASSWORD: registry.users[0]!.password,
    },
  });
  assert.equal(cli.code, 1, cli.stdout + cli.stderr);
  const result = JSON.parse(cli.stdout) as {
    kind: string;
    failures: Array<{ check: string; code: string; part: string; message: string }>;
  };
  assert.equal(result.kind, "registry", cli.stdout);
  const byPart = new Map(result.failures.map((f) => [f.part, f]));
  assert.equal(byPart.get("layer data")?.code, "PACKAGE_BLOB_DIGEST_MISMATCH", cli.stdout);
  assert.match(byPart.get("layer data")!.message, /layer data/);
  assert.equal(byPart.get("layer policy/agent.cedar")?.code, "PACKAGE_BLOB_MISSING", cli.stdout);
  assert.match(byPart.get("layer policy/agent.cedar")!.message, /is not in http:\/\/127\.0\.0\.1:/);
});
