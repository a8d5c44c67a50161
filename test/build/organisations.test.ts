import assert from "node:assert/strict";
import { createReadStream } from "node:fs";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { builtinPlugins } from "../../plugins/index.js";
import {
  type AgentrcPlugin,
  build,
  type Compiler,
  isAgentrcError,
  lock,
  oci,
  type PackedBlob,
  STAGE,
} from "../../src/index.js";
import { testdir } from "../helpers/testdir.js";

const SHELL_AGENT = "AGENT ops\nAUDIT basic\nTOOL acme:shell\nCRED token env:TOKEN\n";
const POLICY_AGENT = [
  "AGENT ops",
  "AUDIT basic",
  "POLICY",
  'permit (principal == AgentRC::Agent::"ops", action == AgentRC::Action::"tool.invoke", resource);',
  "END",
  "",
].join("\n");

/** A fresh directory for a build's output layout. */
const outDir = async () => join(await testdir(), "out");

/** Nothing in these agents permits their tools; that warning is beside the point here. */
const quiet = { TOOL_NOT_PERMITTED: "off" } as const;

/** A plugin from one tap function, for the tests below. */
function plugin(name: string, apply: (compiler: Compiler) => void): AgentrcPlugin {
  return { name, apply };
}

describe("open for organisations", () => {
  it("a plugin adds a layer with its own media type; it is packed, indexed and in the manifest", async () => {
    const dir = await testdir({ Agentfile: "AGENT a\nAUDIT basic\n" });
    const sbom = Buffer.from('{"sbom":"acme"}\n');
    const r = await build({
      dir,
      config: { build: { output: await outDir() } },
      plugins: [
        plugin("acme-sbom", (compiler) =>
          compiler.hooks.compilation.tap("acme-sbom", (compilation) =>
            compilation.hooks.layers.tap("acme-sbom", (plan) => [
              ...plan,
              {
                kind: "blob",
                key: "acme-sbom",
                title: "acme/sbom.json",
                mediaType: "application/vnd.acme.sbom.v1+json",
                bytes: sbom,
              },
            ]),
          ),
        ),
      ],
    });
    assert.deepEqual(r.diagnostics, []);
    const pkg = r.compilation.package!;
    const last = pkg.manifest.layers.at(-1)!;
    assert.equal(last.mediaType, "application/vnd.acme.sbom.v1+json");
    assert.equal(last.digest, oci.sha256Digest(sbom));
    assert.equal(last.annotations?.[oci.ANNOTATION_TITLE], "acme/sbom.json");
    const config = JSON.parse(await readFile(pkg.config.path, "utf8"));
    assert.ok(config.files.some((f: { path: string; layer: string }) => f.path === "acme/sbom.json"));
  });

  it("a manifest tap sets artifactType and a field; the descriptor follows", async () => {
    const dir = await testdir({ Agentfile: "AGENT a\nAUDIT basic\n" });
    const r = await build({
      dir,
      config: { build: { output: await outDir() } },
      plugins: [
        plugin("acme-type", (compiler) =>
          compiler.hooks.compilation.tap("acme-type", (compilation) =>
            compilation.hooks.manifest.tap("acme-type", (manifest) => ({
              ...manifest,
              artifactType: "application/vnd.acme.agent.v1",
              annotations: { ...manifest.annotations, "com.acme.reviewed": "yes" },
            })),
          ),
        ),
      ],
    });
    assert.deepEqual(r.diagnostics, []);
    const pkg = r.compilation.package!;
    assert.equal(pkg.manifest.artifactType, "application/vnd.acme.agent.v1");
    assert.equal(pkg.descriptor.artifactType, "application/vnd.acme.agent.v1");
    const stored = JSON.parse(pkg.manifestBytes.toString("utf8"));
    assert.equal(stored.annotations["com.acme.reviewed"], "yes");
    assert.equal(pkg.descriptor.digest, oci.sha256Digest(pkg.manifestBytes));
  });

  it("a manifest tap that changes the layers is MANIFEST_HOOK_INVALID and nothing is emitted", async () => {
    const dir = await testdir({ Agentfile: "AGENT a\nAUDIT basic\n" });
    const output = await outDir();
    await assert.rejects(
      build({
        dir,
        config: { build: { output } },
        plugins: [
          plugin("acme-drop", (compiler) =>
            compiler.hooks.compilation.tap("acme-drop", (compilation) =>
              compilation.hooks.manifest.tap("acme-drop", (manifest) => ({ ...manifest, layers: [] })),
            ),
          ),
        ],
      }),
      (e: unknown) =>
        isAgentrcError(e) &&
        e.code === "MANIFEST_HOOK_INVALID" &&
        e.message === "a manifest tap changed layers",
    );
    await assert.rejects(readFile(join(output, "index.json")), { code: "ENOENT" });
  });

  describe("io.agentrc.risk.tier can be raised, never lowered", () => {
    const lowering = (hook: "annotations" | "manifest") =>
      plugin("acme-lower", (compiler) =>
        compiler.hooks.compilation.tap("acme-lower", (compilation) => {
          if (hook === "annotations") {
            compilation.hooks.annotations.tap("acme-lower", (a) => ({
              ...a,
              [oci.ANNOTATION_RISK_TIER]: "low",
            }));
          } else {
            compilation.hooks.manifest.tap("acme-lower", (m) => ({
              ...m,
              annotations: { ...m.annotations, [oci.ANNOTATION_RISK_TIER]: "low" },
            }));
          }
        }),
      );

    for (const hook of ["annotations", "manifest"] as const) {
      it(`lowering it in the ${hook} hook is RISK_TIER_LOWERED at the deciding directive; nothing is emitted`, async () => {
        const dir = await testdir({ Agentfile: SHELL_AGENT });
        const output = await outDir();
        const r = await build({
          dir,
          config: { build: { output }, lint: { rules: quiet } },
          plugins: [lowering(hook)],
        });
        assert.deepEqual(
          r.diagnostics.map((d) => [d.code, d.severity, d.plugin, d.location?.line, d.message]),
          [
            [
              "RISK_TIER_LOWERED",
              "error",
              "oci-packager",
              3,
              `io.agentrc.risk.tier is "low" (plugin acme-lower changed it from "high" in the ${hook} hook), but the agent's declarations make it "high" (TOOL at line 3)`,
            ],
          ],
        );
        await assert.rejects(readFile(join(output, "index.json")), { code: "ENOENT" });
      });
    }

    it("removing it is reported too; raising it is fine", async () => {
      const removing = plugin("acme-remove", (compiler) =>
        compiler.hooks.compilation.tap("acme-remove", (compilation) =>
          compilation.hooks.annotations.tap("acme-remove", (a) => {
            const { [oci.ANNOTATION_RISK_TIER]: _tier, ...rest } = a;
            return rest;
          }),
        ),
      );
      const low = await testdir({ Agentfile: "AGENT a\nAUDIT basic\n" });
      const removed = await build({
        dir: low,
        config: { build: { output: await outDir() } },
        plugins: [removing],
      });
      assert.deepEqual(
        removed.diagnostics.map((d) => [d.code, d.message]),
        [
          [
            "RISK_TIER_LOWERED",
            `io.agentrc.risk.tier is missing (plugin acme-remove changed it from "low" in the annotations hook), but the agent's declarations make it "low"`,
          ],
        ],
      );
      const raising = plugin("acme-raise", (compiler) =>
        compiler.hooks.compilation.tap("acme-raise", (compilation) =>
          compilation.hooks.annotations.tap("acme-raise", (a) => ({
            ...a,
            [oci.ANNOTATION_RISK_TIER]: "high",
          })),
        ),
      );
      const raised = await build({
        dir: low,
        config: { build: { output: await outDir() } },
        plugins: [raising],
      });
      assert.deepEqual(raised.diagnostics, []);
      assert.equal(raised.compilation.package!.manifest.annotations![oci.ANNOTATION_RISK_TIER], "high");
    });

    it("lint.rules can turn it into a warning, and then the package is emitted", async () => {
      const dir = await testdir({ Agentfile: SHELL_AGENT });
      const output = await outDir();
      const r = await build({
        dir,
        config: { build: { output }, lint: { rules: { ...quiet, RISK_TIER_LOWERED: "warning" } } },
        plugins: [lowering("annotations")],
      });
      assert.deepEqual(
        r.diagnostics.map((d) => [d.code, d.severity]),
        [["RISK_TIER_LOWERED", "warning"]],
      );
      assert.ok(
        (await readFile(join(output, "index.json"), "utf8")).includes(
          r.compilation.package!.descriptor.digest,
        ),
      );
    });
  });

  describe("built-in plugins can be switched off and replaced (config builtins)", () => {
    it("a custom publisher replaces the registry publisher", async () => {
      const dir = await testdir({ Agentfile: "AGENT a\nAUDIT basic\n" });
      const target = await outDir();
      const publisher = plugin("acme-publisher", (compiler) =>
        compiler.hooks.publish.tapPromise("acme-publisher", async (compilation, request) => {
          const pkg = compilation.package!;
          const layout = await oci.OciLayout.create(target);
          const blobs: PackedBlob[] = [pkg.config, ...pkg.layers];
          for (const b of blobs) await layout.putBlob(createReadStream(b.path), b.descriptor);
          for (const reference of request.references) {
            const descriptor = await layout.putManifest(pkg.manifestBytes, { tag: reference });
            request.results.push({
              digest: descriptor.digest,
              mediaType: descriptor.mediaType,
              size: descriptor.size,
              reference: `${reference}@${descriptor.digest}`,
              blobs: blobs.map((b) => ({
                digest: b.descriptor.digest,
                size: b.descriptor.size,
                status: "uploaded",
              })),
            });
          }
        }),
      );
      // Nothing listens on 127.0.0.1:9: the registry publisher, were it still on, would fail the build.
      const references = ["127.0.0.1:9/acme/agent:1"];
      const r = await build({
        dir,
        config: {
          builtins: { "registry-publisher": false },
          plugins: [publisher],
          build: { output: await outDir() },
        },
        push: { references },
      });
      assert.deepEqual(r.diagnostics, []);
      const digest = r.compilation.package!.descriptor.digest;
      assert.deepEqual(
        r.pushed?.map((p) => p.reference),
        [`127.0.0.1:9/acme/agent:1@${digest}`],
      );
      const layout = await oci.OciLayout.open(target);
      assert.equal((await layout.resolve(references[0]!)).digest, digest);

      await assert.rejects(
        build({
          dir,
          config: { plugins: [publisher], build: { output: await outDir() } },
          push: { references },
        }),
        (e: unknown) => isAgentrcError(e) && e.plugin === "registry-publisher",
        "with the built-in on, it pushes to the registry (and fails: nothing listens there)",
      );
    });

    it("each feature owns its facts: without the policy plugin there is no policy layer, hash or annotation", async () => {
      const dir = await testdir({ Agentfile: POLICY_AGENT });
      const on = await build({ dir, config: { build: { output: await outDir() } } });
      assert.deepEqual(on.diagnostics, []);
      const titles = (r: typeof on) =>
        r.compilation.package!.manifest.layers.map((l) => l.annotations?.[oci.ANNOTATION_TITLE]);
      assert.deepEqual(titles(on), ["Agentfile", "agentrc.lock", "policy/agent.cedar"]);
      assert.match(on.compilation.package!.manifest.annotations![oci.ANNOTATION_POLICY_HASH]!, /^sha256:/);
      assert.match(JSON.parse(await readFile(join(dir, "agentrc.lock"), "utf8")).policy_hash, /^sha256:/);

      const off = await build({
        dir,
        config: { builtins: { policy: false }, build: { output: await outDir() } },
      });
      assert.deepEqual(titles(off), ["Agentfile", "agentrc.lock"]);
      assert.equal(off.compilation.package!.manifest.annotations![oci.ANNOTATION_POLICY_HASH], undefined);
      const config = JSON.parse(await readFile(off.compilation.package!.config.path, "utf8"));
      assert.equal(config.policyHash, undefined);
      assert.equal(JSON.parse(await readFile(join(dir, "agentrc.lock"), "utf8")).policy_hash, undefined);
    });

    it("switching off the declarations plugin drops credential_names from the lock, and nothing else", async () => {
      const dir = await testdir({ Agentfile: SHELL_AGENT });
      await lock({ dir });
      const on = JSON.parse(await readFile(join(dir, "agentrc.lock"), "utf8"));
      assert.deepEqual(on.credential_names, ["token"]);
      await lock({ dir, config: { builtins: { declarations: false } } });
      const off = JSON.parse(await readFile(join(dir, "agentrc.lock"), "utf8"));
      const { credential_names: _names, ...rest } = on;
      assert.deepEqual(off, rest);
    });

    it("a name that is no built-in is CONFIG_INVALID with a suggestion, from a file and inline", async () => {
      const dir = await testdir({
        Agentfile: "AGENT a\n",
        "agentrc.config.json": JSON.stringify({ builtins: { "registry-publsher": false } }),
      });
      await assert.rejects(
        lock({ dir }),
        (e: unknown) =>
          isAgentrcError(e) &&
          e.code === "CONFIG_INVALID" &&
          /builtins.*must name a built-in plugin/.test(e.message),
      );
      await writeFile(join(dir, "agentrc.config.json"), "{}");
      await assert.rejects(
        lock({ dir, config: { builtins: { "registry-publsher": false } } }),
        (e: unknown) =>
          isAgentrcError(e) &&
          e.code === "CONFIG_INVALID" &&
          e.message ===
            'builtins.registry-publsher: there is no built-in plugin called "registry-publsher" (did you mean "registry-publisher"?)',
      );
    });

    it("the config schema lists exactly the built-in plugins", async () => {
      const schema = JSON.parse(
        await readFile(new URL("../../schemas/config.schema.json", import.meta.url), "utf8"),
      );
      assert.deepEqual(
        [...schema.properties.builtins.propertyNames.enum].sort(),
        builtinPlugins()
          .map((p) => p.name)
          .sort(),
      );
    });
  });

  it("every stage a built-in taps at is a named STAGE constant", async () => {
    const { readdir } = await import("node:fs/promises");
    const root = new URL("../../plugins/", import.meta.url);
    const found: string[] = [];
    for (const entry of await readdir(root, { recursive: true })) {
      if (!String(entry).endsWith(".ts")) continue;
      const text = await readFile(new URL(String(entry), root), "utf8");
      for (const m of text.matchAll(/stage:\s*([^,}\s]+)/g)) found.push(`${entry}: ${m[1]}`);
    }
    assert.ok(found.length >= 5, found.join("\n"));
    assert.deepEqual(
      found.filter((f) => !/: STAGE\.[A-Z_]+$/.test(f)),
      [],
    );
    for (const f of found) {
      const name = f.split("STAGE.")[1]!;
      assert.ok(name in STAGE, `${f} names no STAGE constant`);
    }
  });
});
