import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdir, mkdtemp } from "node:fs/promises";
import { homedir, tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const SOURCE = fileURLToPath(new URL("../oras-client/", import.meta.url));
/** Debian's golang-oras-oras-go-dev installs oras-go v1 (and its dependencies) as GOPATH sources here. */
const GOPATH = "/usr/share/gocode";

/**
 * Go's build cache, shared by every test process and kept between runs: compiling oras-go and its dependencies from
 * cold takes about 40 s of CPU, which every test file that uses the client paid again with a per-process cache. Go's
 * cache is keyed by the content of every input (sources, compiler, flags), so a changed source is rebuilt, and it
 * is safe for concurrent `go` processes. It lives in the user's own cache directory, not a shared /tmp path.
 */
const GO_CACHE = process.env.AGENTRC_TEST_GOCACHE ?? join(homedir(), ".cache", "agentrc-test", "go-build");

let built: Promise<{ bin: string; home: string }> | undefined;

/**
 * Builds test/oras-client (a real oras-go v1 client) once per process, offline, in GOPATH mode against Debian's
 * sources, with its HOME and binary in a temporary directory removed at exit and the shared build cache above.
 * Builds are serialised with flock(1), so test files starting together compile oras-go once, not once each.
 */
function buildOnce(): Promise<{ bin: string; home: string }> {
  built ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "agentrc-oras-client-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    await mkdir(GO_CACHE, { recursive: true });
    const bin = join(dir, "oras-client");
    const env = goEnv(dir);
    await run("flock", [join(GO_CACHE, ".agentrc-oras-client.lock"), "go", "build", "-o", bin, "."], {
      cwd: SOURCE,
      env,
    }).catch((err) => {
      throw new Error(`building test/oras-client failed: ${err.stderr || err.message}`);
    });
    return { bin, home: dir };
  })();
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

/** Runs the oras client (`pull <ref> <out>` or `push-dir <ref> <dir> <title>`); returns its stdout (the digest). */
export async function oras(args: string[], options: { cwd?: string } = {}): Promise<string> {
  const { bin, home } = await buildOnce();
  // HOME without a docker config: the client reaches the open test registry anonymously.
  const env = { PATH: process.env.PATH, HOME: home };
  try {
    const { stdout } = await run(bin, args, { env, cwd: options.cwd, maxBuffer: 16 * 1024 * 1024 });
    return stdout.trim();
  } catch (err) {
    const e = err as { stderr?: string; message: string };
    throw new Error(`oras-client ${args.join(" ")} failed: ${e.stderr?.trim() || e.message}`);
  }
}
