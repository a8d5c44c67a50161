import assert from "node:assert/strict";
import { homedir } from "node:os";
import { join } from "node:path";
import { test } from "node:test";
import { defaultStorePath, LocalStore } from "../../src/oci/store.js";
import { expectCode, listTree, tempDir, writeTinyPackage } from "./helpers.js";

test("store location: AGENTRC_STORE, then XDG_DATA_HOME, then ~/.local/share", () => {
  assert.equal(defaultStorePath({ AGENTRC_STORE: "/srv/store", XDG_DATA_HOME: "/x" }), "/srv/store");
  assert.equal(defaultStorePath({ XDG_DATA_HOME: "/data" }), "/data/agentrc/store");
  assert.equal(defaultStorePath({ HOME: "/home/ada" }), "/home/ada/.local/share/agentrc/store");
  assert.equal(
    defaultStorePath({ HOME: "/home/ada", XDG_DATA_HOME: "relative/dir" }),
    "/home/ada/.local/share/agentrc/store",
    "a relative XDG_DATA_HOME is ignored (XDG spec)",
  );
  assert.equal(
    defaultStorePath({ AGENTRC_STORE: "", XDG_DATA_HOME: "" }),
    join(homedir(), ".local/share/agentrc/store"),
  );
});

test("the store is one OCI layout addressed by full reference strings", async (t) => {
  const home = await tempDir(t);
  const store = await LocalStore.open({ env: { XDG_DATA_HOME: home } });
  assert.equal(store.path, join(home, "agentrc", "store"));
  assert.deepEqual(await listTree(store.path), ["blobs", "blobs/sha256", "index.json", "oci-layout"]);

  const one = await writeTinyPackage(store.layout, "one");
  const two = await writeTinyPackage(store.layout, "two");
  await store.tag("localhost/example:1.0", one.descriptor);
  await store.tag("ghcr.io/acme/reviewer:1.0", two.descriptor);
  await store.tag("localhost:5000/team/agent:v2-rc.1", two.descriptor);

  assert.equal((await store.resolve("localhost/example:1.0")).digest, one.descriptor.digest);
  assert.equal(
    (await store.resolve(`localhost/example@${one.descriptor.digest}`)).digest,
    one.descriptor.digest,
  );
  assert.equal((await store.resolve(two.descriptor.digest)).digest, two.descriptor.digest);
  assert.deepEqual(
    (await store.list()).map((e) => e.ref),
    ["ghcr.io/acme/reviewer:1.0", "localhost/example:1.0", "localhost:5000/team/agent:v2-rc.1"],
  );

  // Reopening (another command, same environment) sees the same tags.
  const again = await LocalStore.open({ env: { AGENTRC_STORE: store.path } });
  assert.equal((await again.resolve("ghcr.io/acme/reviewer:1.0")).digest, two.descriptor.digest);
  assert.equal(await again.untag("ghcr.io/acme/reviewer:1.0"), true);
  await expectCode(() => store.resolve("ghcr.io/acme/reviewer:1.0"), "OCI_REF_NOT_FOUND", /No tag/);
  await expectCode(() => store.tag("bad ref", one.descriptor), "OCI_REF_INVALID", /Invalid tag "bad ref"/);
});
