import assert from "node:assert/strict";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { FIXTURES } from "./build.js";
import { runCli } from "./cli.js";
import { copyTree } from "./copyTree.js";
import { fileTree } from "./fileTree.js";
import { type StartOptions, startRegistry, type TestRegistry } from "./registry.js";

/** What `build --push --json` prints, as far as the registry tests read it. */
export interface PushedBuild {
  digest: string;
  image: { digest: string; config: { digest: string } };
  output: { tags: string[]; imageTags: string[] };
  pushed: Array<{ digest: string; reference: string; tag: string }>;
}

/** A test file's registry, temporary directory, copy of a fixture agent and CLI environment (see `registryWorkspace`). */
export interface RegistryWorkspace {
  registry: TestRegistry;
  /** The temporary directory everything lives in. */
  base: string;
  /** The fixture's copy, `<base>/agent`. */
  agent: string;
  /** PATH, and HOME, AGENTRC_STORE, AGENTRC_CACHE below `base` (with the overrides given). */
  env: NodeJS.ProcessEnv;
  /** `agentrc <args> --json` in `env`: asserts the exit code (stdout and stderr in the message), returns the JSON. */
  // biome-ignore lint/suspicious/noExplicitAny: each command's --json has its own shape (schemas/)
  cli(args: string[], code?: number): Promise<any>;
  /** `agentrc build <agent> -t <ref> --push --plain-http [--image] --json`, which must succeed. */
  buildPush(ref: string, options?: { image?: boolean; agent?: string }): Promise<PushedBuild>;
  /** `agentrc pull <ref> -o <fresh dir> --plain-http` (in `env` with `env` over it), then `fileTree` of the output. */
  pulledTree(ref: string, env?: NodeJS.ProcessEnv): Promise<Record<string, string>>;
  /** Stops the registry, removes `base`. */
  close(): Promise<void>;
}

/**
 * The setup of the tests that build a fixture and push it to the test registry (docker-registry, test/helpers/
 * registry.ts): call it in `before`, `close` in `after`. `env` entries set to undefined are left out (a test that
 * wants the XDG default store instead of `<base>/store`).
 */
export async function registryWorkspace(options: {
  /** The temporary directory's name starts `agentrc-<name>-`. */
  name: string;
  /** Below fixtures/ (default agents/full). */
  fixture?: string;
  registry?: StartOptions;
  env?: (base: string) => Record<string, string | undefined>;
}): Promise<RegistryWorkspace> {
  const registry = await startRegistry(options.registry ?? { mode: "open" });
  const base = await mkdtemp(join(tmpdir(), `agentrc-${options.name}-`));
  const agent = join(base, "agent");
  await copyTree(join(FIXTURES, options.fixture ?? "agents/full"), agent);
  const env = withoutUndefined({
    PATH: process.env.PATH,
    HOME: join(base, "home"),
    AGENTRC_STORE: join(base, "store"),
    AGENTRC_CACHE: join(base, "cache"),
    ...options.env?.(base),
  });
  let pulls = 0;
  const cli = async (args: string[], code = 0, runEnv = env) => {
    const r = await runCli([...args, "--json"], { env: runEnv });
    assert.equal(r.code, code, `agentrc ${args.join(" ")}: ${r.stdout}${r.stderr}`);
    return JSON.parse(r.stdout);
  };
  return {
    registry,
    base,
    agent,
    env,
    cli: (args, code) => cli(args, code),
    buildPush: async (ref, { image = false, agent: dir = agent } = {}) =>
      cli(["build", dir, ...(image ? ["--image"] : []), "-t", ref, "--push", "--plain-http"]),
    pulledTree: async (ref, extra = {}) => {
      const out = join(base, `pulled-${++pulls}`);
      await cli(["pull", ref, "-o", out, "--plain-http"], 0, withoutUndefined({ ...env, ...extra }));
      return fileTree(out);
    },
    close: async () => {
      await registry.stop();
      await rm(base, { recursive: true, force: true });
    },
  };
}

function withoutUndefined(env: Record<string, string | undefined>): NodeJS.ProcessEnv {
  return Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined));
}
