import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { agentrcAuthPath, findKey, readAuthFile, writeAuthFile } from "./authFile.js";
import { RegistryClient, type RegistryClientOptions } from "./client.js";
import { parseRegistryHost } from "./reference.js";

export type LoginOptions = Omit<RegistryClientOptions, "credentials">;

const REFUSED = new Set(["REGISTRY_UNAUTHORIZED", "REGISTRY_DENIED", "REGISTRY_TOKEN_FAILED"]);

/**
 * Verifies the credentials against the registry (GET /v2/ with them, through the Basic or token flow it
 * announces) and only then stores them in agentrc's auth file (0600). Returns the file's path.
 */
export async function login(
  host: string,
  username: string,
  password: string,
  options: LoginOptions = {},
): Promise<{ registry: string; path: string }> {
  const registry = parseRegistryHost(host);
  const client = new RegistryClient(registry, { ...options, credentials: { username, password } });
  try {
    await client.ping();
  } catch (err) {
    if (err instanceof AgentrcError && REFUSED.has(err.code)) {
      throw new AgentrcError("REGISTRY_LOGIN_FAILED", `login to ${registry} failed: ${err.message}`, {
        cause: err,
      });
    }
    throw err;
  } finally {
    await client.close();
  }
  const path = agentrcAuthPath(options.env ?? process.env);
  const file = (await readAuthFile(path)) ?? {};
  const auths = { ...file.auths };
  const old = findKey(auths, registry);
  if (old !== undefined) delete auths[old];
  auths[registry] = { auth: Buffer.from(`${username}:${password}`).toString("base64") };
  await writeAuthFile(path, { ...file, auths });
  return { registry, path };
}

/** Removes the host's entry from agentrc's auth file. Returns false when there was none. */
export async function logout(host: string, options: { env?: NodeJS.ProcessEnv } = {}): Promise<boolean> {
  const registry = parseRegistryHost(host);
  const path = agentrcAuthPath(options.env ?? process.env);
  const file = await readAuthFile(path);
  const key = findKey(file?.auths, registry);
  if (!file || key === undefined) return false;
  const auths = { ...file.auths };
  delete auths[key];
  await writeAuthFile(path, { ...file, auths });
  return true;
}
