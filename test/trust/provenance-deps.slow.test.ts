import assert from "node:assert/strict";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { listReferrers } from "../../src/oci/referrers.js";
import { LocalStore } from "../../src/oci/store.js";
import { runCli } from "../helpers/cli.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";
import { storeEnv } from "../helpers/storeEnv.js";

/**
 * The provenance of a build with a FROM base, a `SKILL oci://` skill and a TOOLSET package, all pushed to the real
 * test registry first: `predicate.buildDefinition.resolvedDependencies` names each by its oci:// uri, its role and the
 * digest agentrc.lock pinned (docs/trust.md "Provenance").
 */
let base: string;
let registry: TestRegistry;
before(async () => {
  base = await mkdtemp(join(tmpdir(), "agentrc-provenance-deps-"));
  registry = await startRegistry({ mode: "open" });
});
after(async () => {
  await registry?.stop();
  await rm(base, { recursive: true, force: true });
});

const env = (store: string): NodeJS.ProcessEnv => storeEnv(base, store);

async function write(dir: string, files: Record<string, string>): Promise<string> {
  for (const [rel, text] of Object.entries(files)) {
    await mkdir(join(dir, rel, ".."), { recursive: true });
    await writeFile(join(dir, rel), text);
  }
  return dir;
}

/** `agentrc build <dir> -t <ref> [--push] --json` from a test directory; returns the manifest digest. */
async function build(dir: string, ref: string, store: string, push: boolean): Promise<string> {
  const r = await runCli(["build", dir, "-t", ref, ...(push ? ["--push"] : []), "--json"], {
    env: env(store),
    cwd: base,
  });
  assert.equal(r.code, 0, r.stdout + r.stderr);
  return (JSON.parse(r.stdout) as { digest: string }).digest;
}

interface ResourceDescriptor {
  uri?: string;
  name?: string;
  digest: Record<string, string>;
  annotations?: Record<string, string>;
}

describe("provenance: resolved dependencies", () => {
  test("FROM, SKILL oci:// and TOOLSET are recorded with their oci:// uri, role and the digest pinned in agentrc.lock", async () => {
    const baseRef = `${registry.host}/prov/base:1`;
    const skillRef = `${registry.host}/prov/skill:1`;
    const toolsetRef = `${registry.host}/prov/toolset:1`;
    const pushedBase = await build(
      await write(join(base, "base"), { Agentfile: "AGENT base\nAUDIT basic\n" }),
      baseRef,
      "publisher",
      true,
    );
    const pushedSkill = await build(
      await write(join(base, "skill"), {
        "SKILL.md": "---\nname: triage\ndescription: Triage issues.\n---\n\n# Triage\n",
      }),
      skillRef,
      "publisher",
      true,
    );
    const pushedToolset = await build(
      await write(join(base, "toolset"), {
        "toolset.json": JSON.stringify({
          name: "issues",
          version: "1.0.0",
          tools: [{ ref: "mcp:issues.get", spec: "specs/get.json" }],
        }),
        "specs/get.json": JSON.stringify({
          name: "get",
          description: "Reads one issue.",
          inputSchema: { type: "object" },
        }),
      }),
      toolsetRef,
      "publisher",
      true,
    );

    const app = await write(join(base, "app"), {
      Agentfile: `AGENT app\nFROM ${baseRef}\nSKILL oci://${skillRef}\nTOOLSET oci://${toolsetRef}\nAUDIT basic\n`,
    });
    const digest = await build(app, `${registry.host}/prov/app:1`, "consumer", false);

    const lock = JSON.parse(await readFile(join(app, "agentrc.lock"), "utf8")) as {
      base_image: { ref: string; digest: string };
      skills: Array<{ name: string; source: string; digest: string }>;
      toolsets: Record<string, { source: string; digest: string }>;
    };
    // The lock pins what was pushed (an independent check of the digests the provenance must repeat).
    assert.equal(lock.base_image.digest, pushedBase);
    assert.deepEqual(
      lock.skills.map((s) => [s.source, s.digest]),
      [[`oci://${skillRef}`, pushedSkill]],
    );
    assert.deepEqual(
      Object.values(lock.toolsets).map((t) => [t.source, t.digest]),
      [[`oci://${toolsetRef}`, pushedToolset]],
    );

    const store = await LocalStore.open({ path: join(base, "consumer") });
    const referrers = await listReferrers(store, digest);
    assert.deepEqual(
      referrers.map((r) => r.artifactType),
      ["application/vnd.in-toto+json"],
    );
    const manifest = JSON.parse(await readFile(store.layout.blobPath(referrers[0]!.digest), "utf8")) as {
      layers: Array<{ digest: string }>;
    };
    const statement = JSON.parse(
      await readFile(store.layout.blobPath(manifest.layers[0]!.digest), "utf8"),
    ) as {
      subject: Array<{ digest: Record<string, string> }>;
      predicate: { buildDefinition: { resolvedDependencies: ResourceDescriptor[] } };
    };
    assert.deepEqual(statement.subject[0]!.digest, { sha256: digest.slice("sha256:".length) });
    const hex = (d: string) => ({ sha256: d.slice("sha256:".length) });
    const byRole = statement.predicate.buildDefinition.resolvedDependencies.filter(
      (d) => d.annotations?.role !== undefined,
    );
    const skill = lock.skills[0]!;
    const [toolsetKey, toolset] = Object.entries(lock.toolsets)[0]!;
    assert.deepEqual(byRole, [
      { uri: `oci://${baseRef}`, digest: hex(lock.base_image.digest), annotations: { role: "base" } },
      {
        uri: `oci://${skillRef}`,
        name: skill.name,
        digest: hex(skill.digest),
        annotations: { role: "skill" },
      },
      {
        uri: `oci://${toolsetRef}`,
        name: toolsetKey,
        digest: hex(toolset.digest),
        annotations: { role: "toolset" },
      },
    ]);
  });
});
