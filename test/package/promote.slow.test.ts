import assert from "node:assert/strict";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { RegistryClient } from "../../src/registry/client.js";
import { FIXTURES } from "../helpers/build.js";
import { runCli } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import type { TestRegistry } from "../helpers/registry.js";
import { type RegistryWorkspace, registryWorkspace } from "../helpers/registryWorkspace.js";

interface Promoted {
  digest: string;
  from: string;
  to: string;
  added: string[];
  removed: string[];
  record: string;
  history: Array<{ state: string; from: string; sequence: number; record: string }>;
}

describe("promote: skillimage's states and tag rules, the manifest digest unchanged", () => {
  let ws: RegistryWorkspace;
  let registry: TestRegistry;
  let client: RegistryClient;
  let base: string;
  let agent: string;
  let env: NodeJS.ProcessEnv;
  const cli = (args: string[], code = 0) => ws.cli(args, code);
  before(async () => {
    ws = await registryWorkspace({ name: "promote" });
    ({ registry, base, agent, env } = ws);
    client = new RegistryClient(registry.host, { plainHttp: true });
  });
  after(async () => {
    await client?.close();
    await ws?.close();
  });

  const tagsOf = async (repo: string) =>
    (await client.listTags(repo)).filter((t) => !t.startsWith("sha256-")).sort();
  const at = async (repo: string, tag: string) => (await client.headManifest(repo, tag))?.digest;

  test("on a registry: draft → testing → published → deprecated → archived, the image following", async () => {
    const repo = "agents/full";
    const draft = `${registry.host}/${repo}:1.0-draft`;
    const built = await ws.buildPush(draft, { image: true });
    const digest = built.digest as string;
    const image = built.image.digest as string;
    assert.deepEqual(await tagsOf(repo), ["1.0-draft", "1.0-draft-image"]);

    const testing = (await cli(["promote", draft, "--to", "testing", "--plain-http"])) as Promoted;
    assert.deepEqual([testing.digest, testing.from, testing.to], [digest, "draft", "testing"]);
    assert.deepEqual(testing.added, ["1.0-testing", "1.0-testing-image"]);
    assert.deepEqual(testing.removed, ["1.0-draft", "1.0-draft-image"]);
    assert.deepEqual(await tagsOf(repo), ["1.0-testing", "1.0-testing-image"]);
    assert.equal(await at(repo, "1.0-testing"), digest, "the manifest digest stays the same");
    assert.equal(await at(repo, "1.0-testing-image"), image);

    const wrong = await cli(
      ["promote", `${registry.host}/${repo}:1.0-testing`, "--to", "deprecated", "--plain-http"],
      1,
    );
    assert.equal(wrong.error.code, "PROMOTE_TRANSITION_INVALID");
    assert.match(
      wrong.error.message,
      /is testing: it cannot be promoted to deprecated \(the next state is published\)/,
    );

    const published = (await cli([
      "promote",
      `${registry.host}/${repo}:1.0-testing`,
      "--to",
      "published",
      "--plain-http",
    ])) as Promoted;
    assert.deepEqual(published.added, ["1.0", "1.0-image", "latest", "latest-image"]);
    assert.deepEqual(await tagsOf(repo), ["1.0", "1.0-image", "latest", "latest-image"]);
    assert.equal(await at(repo, "latest"), digest);

    const deprecated = (await cli([
      "promote",
      `${registry.host}/${repo}:1.0`,
      "--to",
      "deprecated",
      "--plain-http",
    ])) as Promoted;
    assert.deepEqual(deprecated.removed, ["latest", "latest-image"]);
    assert.deepEqual(await tagsOf(repo), ["1.0", "1.0-image"]);

    const archived = (await cli([
      "promote",
      `${registry.host}/${repo}:1.0`,
      "--to",
      "archived",
      "--plain-http",
    ])) as Promoted;
    assert.deepEqual(archived.added, []);
    assert.deepEqual(archived.removed, ["1.0", "1.0-image"]);
    assert.deepEqual(await tagsOf(repo), [], "archived: digest only");
    assert.equal(await at(repo, digest), digest, "the package is still there by digest");
    const after = await cli(
      ["promote", `${registry.host}/${repo}@${digest}`, "--to", "testing", "--plain-http"],
      1,
    );
    assert.match(
      after.error.message,
      /is archived: it cannot be promoted to testing \(archived is the last state\)/,
    );

    // The package is the one that was built: same digest, still verifies; inspect shows the history.
    const byDigest = `${registry.host}/${repo}@${digest}`;
    assert.equal((await cli(["verify", byDigest, "--plain-http"])).ok, true);
    const inspected = await cli(["inspect", byDigest, "--remote", "--plain-http"]);
    assert.equal(inspected.descriptor.digest, digest);
    assert.equal(inspected.promotion.state, "archived");
    assert.deepEqual(
      inspected.promotion.history.map((e: { from: string; state: string; sequence: number }) => [
        e.sequence,
        e.from,
        e.state,
      ]),
      [
        [1, "draft", "testing"],
        [2, "testing", "published"],
        [3, "published", "deprecated"],
        [4, "deprecated", "archived"],
      ],
    );
    assert.deepEqual(
      inspected.promotion.history.map((e: { record: string }) => e.record),
      [testing.record, published.record, deprecated.record, archived.record],
    );
    const text = await runCli(["inspect", byDigest, "--remote", "--plain-http"], { env });
    assert.match(text.stdout, /Lifecycle: archived\n +1\. draft → testing {2}\d{4}-/);
  });

  test("in the local store (--local): the same rules; an archived package stays by digest with its history", async () => {
    const draft = "localhost/promo:2.0-draft";
    const built = await cli(["build", agent, "-t", draft]);
    const digest = built.digest as string;
    const testing = (await cli(["promote", draft, "--to", "testing", "--local"])) as Promoted;
    assert.deepEqual(
      [testing.digest, testing.added, testing.removed],
      [digest, ["2.0-testing"], ["2.0-draft"]],
    );
    const listed = await cli(["list", "localhost/promo"]);
    assert.deepEqual(
      listed.packages.map((p: { ref: string; digest: string }) => [p.ref, p.digest]),
      [["localhost/promo:2.0-testing", digest]],
    );
    await cli(["promote", "localhost/promo:2.0-testing", "--to", "published", "--local"]);
    assert.deepEqual(
      (await cli(["list", "localhost/promo"])).packages.map((p: { ref: string }) => p.ref).sort(),
      ["localhost/promo:2.0", "localhost/promo:latest"],
    );
    await cli(["promote", "localhost/promo:2.0", "--to", "deprecated", "--local"]);
    await cli(["promote", "localhost/promo:2.0", "--to", "archived", "--local"]);
    assert.deepEqual((await cli(["list", "localhost/promo"])).packages, [], "no tag is left");
    const inspected = await cli(["inspect", digest]);
    assert.equal(inspected.descriptor.digest, digest);
    assert.equal(inspected.promotion.state, "archived");
    assert.equal(inspected.promotion.history.length, 4);

    const other = join(base, "minimal");
    await copyTree(join(FIXTURES, "valid/minimal"), other);
    await cli(["build", other, "-t", "localhost/nover:latest"]);
    const unknown = await cli(["promote", "localhost/nover:latest", "--to", "testing", "--local"], 1);
    assert.equal(unknown.error.code, "PROMOTE_VERSION_UNKNOWN");
    assert.match(
      unknown.error.message,
      /nover:latest has no org\.opencontainers\.image\.version annotation and no lifecycle tag/,
    );
  });
});
