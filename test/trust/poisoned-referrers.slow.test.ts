import assert from "node:assert/strict";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { after, before, test } from "node:test";
import { FIXTURES } from "../helpers/build.js";
import { copyTree } from "../helpers/copyTree.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { storeCli } from "../helpers/storeEnv.js";
import { testdir } from "../helpers/testdir.js";

/**
 * Anyone who may push can tag something that is not an index as a package's referrers fallback tag
 * (`sha256-<hex>`, on registries without the referrers API). A pull that carries referrers then cannot list them:
 * it must fail before any blob moves or any tag is set, with the tag named, never after the package is stored.
 */
const base = await testdir();
let registry: TestRegistry;
before(async () => {
  registry = await startRegistry({ mode: "open" });
});
after(() => registry?.stop());

const cli = (args: string[], store: string) => storeCli(base, args, store);

test("a fallback tag that is not an index fails pull before anything is written, naming the tag", async () => {
  const agent = join(base, "agent");
  await copyTree(join(FIXTURES, "valid/minimal"), agent);
  const ref = `${registry.host}/poison/app:1`;
  const built = await cli(["build", agent, "-t", ref, "--push", "--json"], "builder");
  assert.equal(built.code, 0, built.stdout + built.stderr);
  const digest = (JSON.parse(built.stdout) as { digest: string }).digest;

  // The package's own manifest, tagged as its referrers tag: not an index.
  const mediaType = "application/vnd.oci.image.manifest.v1+json";
  const got = await fetch(`${registry.url}/v2/poison/app/manifests/${digest}`, {
    headers: { accept: mediaType },
  });
  assert.equal(got.status, 200);
  const tag = `sha256-${digest.slice("sha256:".length)}`;
  const put = await fetch(`${registry.url}/v2/poison/app/manifests/${tag}`, {
    method: "PUT",
    headers: { "content-type": mediaType },
    body: Buffer.from(await got.arrayBuffer()),
  });
  assert.equal(put.status, 201, await put.text());

  const pulled = await cli(["pull", ref, "--json"], "clean");
  assert.equal(pulled.code, 1, pulled.stdout + pulled.stderr);
  const error = (JSON.parse(pulled.stdout) as { error: { code: string; message: string } }).error;
  assert.equal(error.code, "REGISTRY_REFERRERS_INVALID");
  assert.match(error.message, new RegExp(`referrers tag ${tag} points at the subject itself`));
  const listed = await cli(["list", "--json"], "clean");
  assert.deepEqual((JSON.parse(listed.stdout) as { packages: unknown[] }).packages, [], "nothing tagged");
  const blobs = await readdir(join(base, "clean", "blobs", "sha256")).catch(() => []);
  assert.deepEqual(blobs, [], "no blob fetched");
});
