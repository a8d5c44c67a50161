import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdir, mkdtemp } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
/** Debian's golang-*-dev packages install Go sources here; the test programs build against them in GOPATH mode. */
const GOPATH = "/usr/share/gocode";

/**
 * Go's build cache, shared by every test process and kept between runs: compiling oras-go and its dependencies from
 * cold takes about 40 s of CPU, which every test file that uses the client paid again with a per-process cache. Go's
 * cache is keyed by the content of every input (sources, compiler, flags), so a changed source is rebuilt, and it
 * is safe for concurrent `go` processes. It lives in the user's own cache directory, not a shared /tmp path.
 */
const GO_CACHE = process.env.AGENTRC_TEST_GOCACHE ?? join(homedir(), ".cache", "agentrc-test", "go-build");

const builds = new Map<string, Promise<{ bin: string; home: string }>>();

/**
 * Builds the Go program in test/<name>/ once per process, offline, in GOPATH mode against Debian's sources, with its
 * HOME and binary in a temporary directory removed at exit and the shared build cache above; returns a runner for
 * it. Builds are serialised with flock(1), so test files starting together compile the dependencies once.
 */
export function goProgram(name: string): (args: string[], options?: { cwd?: string }) => Promise<string> {
  return async (args, options = {}) => {
    const { bin, home } = await buildOnce(name);
    // HOME without a docker config: a client reaches the open test registry anonymously.
    const env = { PATH: process.env.PATH, HOME: home };
    try {
      const { stdout } = await run(bin, args, { env, cwd: options.cwd, maxBuffer: 16 * 1024 * 1024 });
      return stdout.trim();
    } catch (err) {
      const e = err as { stderr?: string; message: string };
      throw new Error(`${name} ${args.join(" ")} failed: ${e.stderr?.trim() || e.message}`);
    }
  };
}

function buildOnce(name: string): Promise<{ bin: string; home: string }> {
  let built = builds.get(name);
  if (!built) {
    built = (async () => {
      const dir = await mkdtemp(join(tmpdir(), `agentrc-${name}-`));
      process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
      await mkdir(GO_CACHE, { recursive: true });
      const bin = join(dir, name);
      const source = fileURLToPath(new URL(`../${name}/`, import.meta.url));
      const lock = join(GO_CACHE, `.agentrc-${name}.lock`);
      await run("flock", [lock, "go", "build", "-o", bin, "."], { cwd: source, env: goEnv(dir) }).catch(
        (err) => {
          throw new Error(`building test/${name} failed: ${err.stderr || err.message}`);
        },
      );
      return { bin, home: dir };
    })();
    builds.set(name, built);
  }
  return built;
}

function goEnv(home: string): NodeJS.ProcessEnv {
  return {
    PATH: process.env.PATH,
    HOME: home,
    GOCACHE: GO_CACHE,
    GOPATH,
    GO111MODULE: "off",
    GOFLAGS: "",
    GOTOOLCHAIN: "local",
    CGO_ENABLED: "0",
  };
}
