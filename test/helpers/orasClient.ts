import { execFile } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

const run = promisify(execFile);
const SOURCE = fileURLToPath(new URL("../oras-client/", import.meta.url));
/** Debian's golang-oras-oras-go-dev installs oras-go v1 (and its dependencies) as GOPATH sources here. */
const GOPATH = "/usr/share/gocode";

let built: Promise<{ bin: string; home: string }> | undefined;

/**
 * Builds test/oras-client (a real oras-go v1 client) once per process, offline, in GOPATH mode against Debian's
 * sources, with its build cache and HOME in a temporary directory removed at exit.
 */
function buildOnce(): Promise<{ bin: string; home: string }> {
  built ??= (async () => {
    const dir = await mkdtemp(join(tmpdir(), "agentrc-oras-client-"));
    process.on("exit", () => rmSync(dir, { recursive: true, force: true }));
    const bin = join(dir, "oras-client");
    const env = goEnv(dir);
    await run("go", ["build", "-o", bin, "."], { cwd: SOURCE, env }).catch((err) => {
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
    GOCACHE: join(home, "gocache"),
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
