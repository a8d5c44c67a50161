import assert from "node:assert/strict";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { type AgentrcPlugin, build, type Compiler } from "../../src/index.js";
import { runCli } from "../helpers/cli.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { testdir } from "../helpers/testdir.js";

const SBOM = "application/vnd.acme.sbom.v1+json";
const ATTESTATION = "application/vnd.acme.attestation.v1+json";

/**
 * A plugin that adds two layers of its own media types: one through the plan with a title (`sbom.json`), one packed
 * by its own packLayer tap without a title.
 */
class AcmeLayersPlugin implements AgentrcPlugin {
  readonly name = "acme-layers";
  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(this.name, (compilation) => {
      compilation.hooks.layers.tap(this.name, (plan) => [
        ...plan,
        {
          kind: "blob",
          key: "sbom",
          mediaType: SBOM,
          title: "sbom.json",
          bytes: Buffer.from('{"sbom":1}\n'),
        },
        { kind: "blob", key: "attestation", mediaType: ATTESTATION, title: "-", bytes: Buffer.from("{}") },
      ]);
      compilation.hooks.packLayer.tapPromise({ name: this.name, stage: 10 }, async (layer) =>
        layer.key === "attestation" ? compiler.putBlob(Buffer.from('{"att":1}'), ATTESTATION) : undefined,
      );
    });
  }
}

describe("pull -o of a package with a plugin's layers", () => {
  let registry: TestRegistry;
  before(async () => {
    registry = await startRegistry({ mode: "open" });
  });
  after(() => registry?.stop());

  test("a titled layer is written at its title, an untitled one is skipped with PULL_LAYER_SKIPPED", async () => {
    const ref = `${registry.host}/acme/with-plugin:1`;
    const dir = await testdir({ Agentfile: "AGENT app\nAUDIT basic\n" });
    const built = await build({
      dir,
      cacheDir: join(dir, ".cache"),
      plugins: [new AcmeLayersPlugin()],
      registry: registry.clientOptions(),
      config: { build: { tags: [ref], output: join(dir, ".layout") } },
      push: {},
    });
    assert.equal(built.errorCount, 0, JSON.stringify(built.diagnostics));
    const types = built.compilation.package!.manifest.layers.map((l) => l.mediaType);
    assert.ok(types.includes(SBOM) && types.includes(ATTESTATION), types.join(", "));

    const root = await testdir();
    const out = join(root, "out");
    const env = { HOME: root, AGENTRC_STORE: join(root, "store") };
    const pulled = await runCli(["pull", ref, "-o", out, "--json"], { env });
    assert.equal(pulled.code, 0, pulled.stdout + pulled.stderr);
    const json = JSON.parse(pulled.stdout) as {
      warnings: Array<{ code: string; severity: string; message: string }>;
    };
    assert.deepEqual(
      json.warnings.map((w) => [w.code, w.severity]),
      [["PULL_LAYER_SKIPPED", "warning"]],
    );
    assert.match(
      json.warnings[0]!.message,
      /has media type application\/vnd\.acme\.attestation\.v1\+json and no org\.opencontainers\.image\.title; it was not unpacked/,
    );
    assert.equal(await readFile(join(out, "sbom.json"), "utf8"), '{"sbom":1}\n');
    assert.deepEqual((await readdir(out)).sort(), ["Agentfile", "agentrc.lock", "sbom.json"]);

    // without --json the warning is printed
    const again = await runCli(["pull", ref, "-o", join(root, "out2")], { env });
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /PULL_LAYER_SKIPPED/);
  });
});
