import { randomBytes } from "node:crypto";
import { chmod, mkdir, open, readFile, rename, rm } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { canonicalJsonPretty } from "../util/canonicalJson.js";
import { DOCKER_HUB, normaliseRegistry } from "./reference.js";
import type { Credentials } from "./types.js";

/** One `auths` entry of a Docker `config.json`, a podman `auth.json` or agentrc's own auth file. */
export interface AuthEntry {
  auth?: string;
  username?: string;
  password?: string;
  identitytoken?: string;
  registrytoken?: string;
}

/** The Docker/podman auth file format; agentrc's file uses the same `auths` shape. */
export interface AuthFile {
  auths?: Record<string, AuthEntry>;
  credsStore?: string;
  credHelpers?: Record<string, string>;
  [other: string]: unknown;
}

export function homeDir(env: NodeJS.ProcessEnv): string {
  return env.HOME || homedir();
}

/** `$XDG_CONFIG_HOME/agentrc/auth.json` (default `~/.config/agentrc/auth.json`). */
export function agentrcAuthPath(env: NodeJS.ProcessEnv = process.env): string {
  const config = env.XDG_CONFIG_HOME || join(homeDir(env), ".config");
  return join(config, "agentrc", "auth.json");
}

/** Parses an auth file; undefined when it does not exist. */
export async function readAuthFile(path: string): Promise<AuthFile | undefined> {
  let text: string;
  try {
    text = await readFile(path, "utf8");
  } catch (err) {
    if (
      (err as NodeJS.ErrnoException).code === "ENOENT" ||
      (err as NodeJS.ErrnoException).code === "ENOTDIR"
    ) {
      return undefined;
    }
    throw new AgentrcError("REGISTRY_CREDENTIALS_INVALID", `cannot read ${path}: ${(err as Error).message}`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    throw new AgentrcError("REGISTRY_CREDENTIALS_INVALID", `${path} is not valid JSON`);
  }
  if (parsed === null || typeof parsed !== "object" || Array.isArray(parsed)) {
    throw new AgentrcError("REGISTRY_CREDENTIALS_INVALID", `${path} is not a JSON object`);
  }
  const file = parsed as AuthFile;
  if (file.auths !== undefined && (typeof file.auths !== "object" || file.auths === null)) {
    throw new AgentrcError("REGISTRY_CREDENTIALS_INVALID", `${path}: "auths" is not an object`);
  }
  return file;
}

/** The host a key names: `https://index.docker.io/v1/` ⇒ `docker.io`, `https://host:5000/` ⇒ `host:5000`. */
export function keyHost(key: string): string {
  const withoutScheme = key.replace(/^[a-z]+:\/\//i, "");
  return normaliseRegistry(withoutScheme.split("/")[0]!);
}

/** The key for `host` in a map whose keys may be written in any of the legacy forms. */
export function findKey<T>(map: Record<string, T> | undefined, host: string): string | undefined {
  if (!map) return undefined;
  const wanted = normaliseRegistry(host);
  if (Object.hasOwn(map, host)) return host;
  return Object.keys(map).find((k) => keyHost(k) === wanted);
}

/** Credentials of one entry; `where` names it in errors. */
export function entryCredentials(entry: AuthEntry, where: string): Credentials | undefined {
  if (entry.registrytoken) return { registryToken: entry.registrytoken };
  if (entry.identitytoken) return { identityToken: entry.identitytoken };
  if (entry.auth) {
    const decoded = Buffer.from(entry.auth, "base64").toString("utf8");
    const colon = decoded.indexOf(":");
    if (colon <= 0) {
      throw new AgentrcError(
        "REGISTRY_CREDENTIALS_INVALID",
        `${where}: "auth" is not base64 of user:password`,
      );
    }
    return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
  }
  if (entry.username && entry.password !== undefined)
    return { username: entry.username, password: entry.password };
  return undefined;
}

/** The server URL Docker credential helpers expect for a host. */
export function helperServerUrl(host: string): string {
  return normaliseRegistry(host) === DOCKER_HUB ? "https://index.docker.io/v1/" : host;
}

/**
 * Writes agentrc's auth file: directory 0700, file 0600, via a temp file in the same directory and a rename,
 * so a failure never leaves a half-written file.
 */
export async function writeAuthFile(path: string, file: AuthFile): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  await chmod(dir, 0o700);
  const temp = join(dir, `.auth.json.${process.pid}.${randomBytes(6).toString("hex")}.tmp`);
  const handle = await open(temp, "wx", 0o600);
  try {
    await handle.writeFile(canonicalJsonPretty(file));
    await handle.chmod(0o600);
    await handle.sync();
  } catch (err) {
    await handle.close();
    await rm(temp, { force: true });
    throw err;
  }
  await handle.close();
  try {
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
}
