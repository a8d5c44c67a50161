import assert from "node:assert/strict";
import { describe, test } from "node:test";
import {
  type AgentrcPlugin,
  type Compiler,
  deps,
  lint,
  lock,
  type RunOptions,
  registry,
} from "../../src/index.js";
import { freePort } from "../helpers/registry.js";
import { testdir } from "../helpers/testdir.js";

const LOCKED = `sha256:${"1".repeat(64)}`;
const IN_REF = `sha256:${"2".repeat(64)}`;

/** A plugin (as a third party writes one, through the public API) that pins one dependency during `spec`. */
class PinOne implements AgentrcPlugin {
  readonly name = "test-pin-one";
  result: string | undefined | Error = new Error("spec did not run");
  constructor(
    readonly written: string,
    readonly locked: string | undefined,
  ) {}
  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(this.name, (compilation) => {
      compilation.hooks.spec.tapPromise(this.name, async () => {
        const [agent] = compilation.directives("AGENT");
        try {
          this.result = await deps.pinDependency(compilation, {
            dependency: {
              kind: "skill",
              written: this.written,
              reference: registry.parseReference(this.written),
            },
            locked: this.locked,
            aliases: ["my-skill"],
            what: `SKILL oci://${this.written}`,
            at: compilation.locate(agent!),
            plugin: this.name,
          });
        } catch (e) {
          this.result = e as Error;
        }
      });
    });
  }
}

async function pin(
  run: typeof lint,
  written: string,
  locked: string | undefined,
  options: Omit<RunOptions, "dir" | "plugins"> = {},
) {
  const dir = await testdir({ Agentfile: "AGENT app\nAUDIT basic\n" });
  const plugin = new PinOne(written, locked);
  const r = await run({ dir, cacheDir: `${dir}/.cache`, plugins: [plugin], ...options });
  const stale = r.diagnostics.filter((d) => d.code === "LOCKFILE_STALE" && d.plugin === plugin.name);
  return { result: plugin.result, stale };
}

describe("deps.pinDependency: the one pin rule of FROM, SKILL oci:// and TOOLSET oci://", () => {
  test("the reference's own digest wins, in lint and under --frozen-lockfile", async () => {
    const ref = `127.0.0.1:1/a/skill@${IN_REF}`;
    assert.deepEqual(await pin(lint, ref, LOCKED), { result: IN_REF, stale: [] });
    const frozen = await pin(lock, ref, undefined, { config: { build: { frozenLockfile: true } } });
    assert.deepEqual(frozen, { result: IN_REF, stale: [] });
  });

  test("the lock's digest, unless lock --update names the dependency (as written or by an alias) or updates all", async () => {
    const ref = "127.0.0.1:1/a/skill:1";
    assert.deepEqual(await pin(lint, ref, LOCKED), { result: LOCKED, stale: [] });
    assert.deepEqual(await pin(lint, ref, LOCKED, { update: ["other"] }), { result: LOCKED, stale: [] });
    // Named or all: the pin is not used; lint stays offline, so there is nothing to build with.
    for (const update of [[], [ref], ["my-skill"]]) {
      assert.deepEqual(
        await pin(lint, ref, LOCKED, { update }),
        { result: undefined, stale: [] },
        `${update}`,
      );
    }
  });

  test("unpinned: lint does not look it up; --frozen-lockfile is LOCKFILE_STALE at the directive", async () => {
    const ref = "127.0.0.1:1/a/skill:1";
    assert.deepEqual(await pin(lint, ref, undefined), { result: undefined, stale: [] });
    const frozen = await pin(lock, ref, undefined, { config: { build: { frozenLockfile: true } } });
    assert.equal(frozen.result, undefined);
    assert.deepEqual(
      frozen.stale.map((d) => [d.severity, d.message, d.location?.line]),
      [
        [
          "error",
          `agentrc.lock does not pin SKILL oci://${ref} and --frozen-lockfile forbids resolving it`,
          1,
        ],
      ],
    );
  });

  test("unpinned outside lint: the tag is resolved now, and a failure is thrown to the caller", async () => {
    const port = await freePort(); // nothing listens there
    const ref = `127.0.0.1:${port}/a/skill:1`;
    const { result, stale } = await pin(lock, ref, undefined, { registry: { plainHttp: true } });
    assert.deepEqual(stale, []);
    assert.ok(result instanceof Error, `expected a resolution error, got ${String(result)}`);
    assert.match(result.message, /ECONNREFUSED|connect|refused/i);
  });
});
