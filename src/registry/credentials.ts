import { join } from "node:path";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import {
  agentrcAuthPath,
  entryCredentials,
  findKey,
  helperServerUrl,
  homeDir,
  keyHost,
  readAuthFile,
} from "./authFile.js";
import { runCredentialHelper } from "./credHelper.js";
import { normaliseRegistry } from "./reference.js";
import type { Credentials, ResolvedCredentials } from "./types.js";

export interface CredentialOptions {
  /** Environment to read variables and file locations from (default `process.env`). */
  env?: NodeJS.ProcessEnv;
}

/**
 * The credential sources, in precedence order (the first that has an entry for the host wins):
 * 1. `AGENTRC_REGISTRY_HOST` + `AGENTRC_REGISTRY_USERNAME`/`_PASSWORD` (or `_TOKEN`), only for exactly that host;
 * 2. agentrc's own file, `$XDG_CONFIG_HOME/agentrc/auth.json` (written by `agentrc login`);
 * 3. podman/containers auth files: `$REGISTRY_AUTH_FILE`, `$XDG_RUNTIME_DIR/containers/auth.json`,
 *    `$XDG_CONFIG_HOME/containers/auth.json` (podman's own order);
 * 4. Docker's `$DOCKER_CONFIG/config.json` (default `~/.docker/config.json`).
 * Within one file: `credHelpers[host]`, then `credsStore`, then `auths[host]`.
 */
export function credentialFiles(env: NodeJS.ProcessEnv): { path: string; source: string }[] {
  const home = homeDir(env);
  const config = env.XDG_CONFIG_HOME || join(home, ".config");
  const files: { path: string; source: string }[] = [{ path: agentrcAuthPath(env), source: "agentrc" }];
  if (env.REGISTRY_AUTH_FILE) files.push({ path: env.REGISTRY_AUTH_FILE, source: "REGISTRY_AUTH_FILE" });
  if (env.XDG_RUNTIME_DIR) {
    files.push({ path: join(env.XDG_RUNTIME_DIR, "containers", "auth.json"), source: "podman" });
  }
  files.push({ path: join(config, "containers", "auth.json"), source: "podman" });
  const docker = env.DOCKER_CONFIG || join(home, ".docker");
  files.push({ path: join(docker, "config.json"), source: "docker" });
  return files;
}

/** Finds credentials for a registry host (`host[:port]`, Docker Hub as `docker.io`). Undefined: anonymous. */
export async function resolveCredentials(
  host: string,
  options: CredentialOptions = {},
): Promise<ResolvedCredentials | undefined> {
  const env = options.env ?? process.env;
  const fromEnv = envCredentials(host, env);
  if (fromEnv) return { ...fromEnv, source: "environment (AGENTRC_REGISTRY_*)" };
  for (const file of credentialFiles(env)) {
    const found = await fromFile(file.path, host, env);
    if (found) return { ...found, source: `${file.source} (${file.path})` };
  }
  return undefined;
}

/** AGENTRC_REGISTRY_* credentials, only when AGENTRC_REGISTRY_HOST names exactly this host. */
export function envCredentials(host: string, env: NodeJS.ProcessEnv): Credentials | undefined {
  const scoped = env.AGENTRC_REGISTRY_HOST;
  if (!scoped || keyHost(scoped.trim()) !== normaliseRegistry(host)) return undefined;
  const username = env.AGENTRC_REGISTRY_USERNAME;
  const password = env.AGENTRC_REGISTRY_PASSWORD;
  const token = env.AGENTRC_REGISTRY_TOKEN;
  if (username && password !== undefined) return { username, password };
  if (token) return { registryToken: token };
  throw new AgentrcError(
    "REGISTRY_CREDENTIALS_INVALID",
    "AGENTRC_REGISTRY_HOST is set but neither AGENTRC_REGISTRY_USERNAME + AGENTRC_REGISTRY_PASSWORD nor AGENTRC_REGISTRY_TOKEN is",
  );
}

async function fromFile(
  path: string,
  host: string,
  env: NodeJS.ProcessEnv,
): Promise<Credentials | undefined> {
  const file = await readAuthFile(path);
  if (!file) return undefined;
  const helperKey = findKey(file.credHelpers, host);
  if (helperKey !== undefined) {
    return runCredentialHelper(String(file.credHelpers![helperKey]), helperServerUrl(host), env);
  }
  if (file.credsStore) {
    const fromStore = await runCredentialHelper(file.credsStore, helperServerUrl(host), env);
    if (fromStore) return fromStore;
  }
  const key = findKey(file.auths, host);
  if (key === undefined) return undefined;
  return entryCredentials(file.auths![key]!, `${path}: auths["${key}"]`);
}
