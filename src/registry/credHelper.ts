import { spawn } from "node:child_process";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import type { Credentials } from "./types.js";

const HELPER_NAME = /^[A-Za-z0-9_.-]+$/;
const OUTPUT_LIMIT = 1024 * 1024;
const TIMEOUT_MS = 30_000;

/**
 * Runs `docker-credential-<name> get` with the server URL on stdin and parses `{ServerURL, Username, Secret}`.
 * Undefined when the helper has no credentials for the server. A `<token>` user means Secret is an identity token.
 */
export async function runCredentialHelper(
  name: string,
  serverUrl: string,
  env: NodeJS.ProcessEnv,
): Promise<Credentials | undefined> {
  const program = `docker-credential-${name}`;
  if (!HELPER_NAME.test(name)) {
    throw new AgentrcError("REGISTRY_CRED_HELPER_FAILED", `invalid credential helper name "${name}"`);
  }
  const { code, stdout, stderr } = await run(program, serverUrl, env);
  if (code !== 0) {
    if (/credentials not found/i.test(stdout + stderr)) return undefined;
    const detail = (stdout.trim() || stderr.trim()).split("\n")[0]!.slice(0, 200);
    throw new AgentrcError("REGISTRY_CRED_HELPER_FAILED", `${program} get failed (exit ${code}): ${detail}`);
  }
  let parsed: { Username?: unknown; Secret?: unknown };
  try {
    parsed = JSON.parse(stdout);
  } catch {
    throw new AgentrcError(
      "REGISTRY_CRED_HELPER_FAILED",
      `${program} get printed something that is not JSON`,
    );
  }
  if (typeof parsed.Secret !== "string" || parsed.Secret === "") {
    throw new AgentrcError(
      "REGISTRY_CRED_HELPER_FAILED",
      `${program} get returned no Secret for ${serverUrl}`,
    );
  }
  const username = typeof parsed.Username === "string" ? parsed.Username : "";
  if (username === "<token>") return { identityToken: parsed.Secret };
  return { username, password: parsed.Secret };
}

function run(
  program: string,
  input: string,
  env: NodeJS.ProcessEnv,
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(program, ["get"], { env, stdio: ["pipe", "pipe", "pipe"] });
    const timer = setTimeout(() => child.kill("SIGKILL"), TIMEOUT_MS);
    let stdout = "";
    let stderr = "";
    const collect = (into: "out" | "err") => (chunk: Buffer) => {
      if (stdout.length + stderr.length > OUTPUT_LIMIT) {
        child.kill();
        return;
      }
      if (into === "out") stdout += chunk.toString("utf8");
      else stderr += chunk.toString("utf8");
    };
    child.stdout.on("data", collect("out"));
    child.stderr.on("data", collect("err"));
    child.stdin.on("error", () => {});
    child.on("error", (err: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      const message =
        err.code === "ENOENT" ? `${program} is not on PATH` : `cannot run ${program}: ${err.message}`;
      reject(new AgentrcError("REGISTRY_CRED_HELPER_FAILED", message, { cause: err }));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      resolve({ code: code ?? (signal ? 128 : 1), stdout, stderr });
    });
    child.stdin.end(input);
  });
}
