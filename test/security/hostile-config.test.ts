import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { oci } from "../../src/index.js";
import { runCli } from "../helpers/cli.js";
import { testdir } from "../helpers/testdir.js";

describe("inspect refuses a package config it cannot read", () => {
  for (const [name, config] of [
    ["not JSON", "{not json"],
    ["an empty object", "{}"],
    [
      "directives that are not objects",
      JSON.stringify({ agent: { name: "x", directives: [1, null] }, layers: [], files: [] }),
    ],
  ] as const) {
    it(name, async () => {
      const dir = join(await testdir(), "layout");
      const layout = await oci.OciLayout.create(dir);
      const configInfo = await layout.putBlob(Buffer.from(config));
      const manifest = Buffer.from(
        JSON.stringify({
          schemaVersion: 2,
          mediaType: oci.MEDIA_TYPE_OCI_MANIFEST,
          artifactType: oci.ARTIFACT_TYPE_AGENT,
          config: {
            mediaType: oci.MEDIA_TYPE_AGENT_CONFIG,
            digest: configInfo.digest,
            size: configInfo.size,
          },
          layers: [],
        }),
      );
      await layout.putManifest(manifest, { tag: "1" });
      const r = await runCli(["inspect", `oci:${dir}:1`, "--no-color"]);
      assert.equal(r.code, 1);
      assert.match(
        r.stderr,
        /error PACKAGE_CONFIG_INVALID the package config of 1 (is not JSON|lacks agent\.name)/,
      );
    });
  }
});
