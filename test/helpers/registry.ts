import { type ChildProcess, execFile, spawn } from "node:child_process";
import { rmSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { request as httpRequest } from "node:http";
import { request as httpsRequest } from "node:https";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { promisify } from "node:util";
import type { RegistryClientOptions } from "../../src/registry/client.js";
import { makeServerTls, makeSigningCert } from "./pki.js";
import { TokenIssuer } from "./tokenIssuer.js";

const run = promisify(execFile);
const REGISTRY_BIN = "/usr/bin/docker-registry";

export type RegistryMode = "open" | "htpasswd" | "token" | "tls";

export interface RegistryUser {
  name: string;
  password: string;
  /** Token mode only: false makes the issuer refuse push (and delete) for this user. */
  push?: boolean;
}

export interface StartOptions {
  /** open: no auth; htpasswd: Basic; token: bearer tokens from a test issuer; tls: open over TLS with a private CA. */
  mode: RegistryMode;
  users?: RegistryUser[];
  /** Token mode: signing algorithm (default ES256). */
  alg?: "ES256" | "RS256";
}

export interface TestRegistry {
  mode: RegistryMode;
  /** `127.0.0.1:<port>` */
  host: string;
  port: number;
  /** `http://127.0.0.1:<port>` or `https://…` */
  url: string;
  storageDir: string;
  users: RegistryUser[];
  /** TLS mode: the private CA's certificate (PEM). */
  caFile?: string;
  /** Token mode: the issuer (counts requests, can expire tokens early or refuse push). */
  issuer?: TokenIssuer;
  /** Client options that reach this registry (plain HTTP or the CA), with the first user's credentials. */
  clientOptions(extra?: RegistryClientOptions): RegistryClientOptions;
  /** Stops the registry (and issuer) and deletes its storage. Safe to call twice. */
  stop(): Promise<void>;
}

const DEFAULT_USERS: RegistryUser[] = [
  { name: "alice", password: "alice-secret" },
  { name: "reader", password: "reader-secret", push: false },
];

/** Live registries, killed at process exit even when a test forgot (or failed before) stop(). */
const live = new Set<{ child: ChildProcess; dir: string }>();
process.on("exit", () => {
  for (const r of live) {
    r.child.kill("SIGKILL");
    rmSync(r.dir, { recursive: true, force: true });
  }
});

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolve(port));
    });
  });
}

/**
 * Starts Debian's docker-registry (CNCF distribution 2.8) on 127.0.0.1 with a random port and a temporary
 * storage directory, deletes enabled, in one of the four modes. Resolves once /v2/ answers.
 */
export async function startRegistry(options: StartOptions): Promise<TestRegistry> {
  const dir = await mkdtemp(join(tmpdir(), "agentrc-registry-"));
  const users = options.users ?? DEFAULT_USERS;
  let issuer: TokenIssuer | undefined;
  try {
    const storageDir = join(dir, "storage");
    await mkdir(storageDir);
    const config: string[] = [
      "version: 0.1",
      "log:",
      "  level: error",
      "  accesslog:",
      "    disabled: true",
      "storage:",
      "  filesystem:",
      `    rootdirectory: ${storageDir}`,
      "  delete:",
      "    enabled: true",
      "  maintenance:",
      "    uploadpurging:",
      "      enabled: false",
      "http:",
      "  addr: ADDR",
      "  secret: agentrc-test-secret",
    ];
    let caFile: string | undefined;
    if (options.mode === "tls") {
      const tls = await makeServerTls(dir);
      caFile = tls.caFile;
      config.push("  tls:", `    certificate: ${tls.certFile}`, `    key: ${tls.keyFile}`);
    }
    if (options.mode === "htpasswd") {
      const lines = await Promise.all(
        users.map(async (u) => (await run("htpasswd", ["-Bbn", u.name, u.password])).stdout.trim()),
      );
      const file = join(dir, "htpasswd");
      await writeFile(file, `${lines.join("\n")}\n`);
      config.push("auth:", "  htpasswd:", "    realm: agentrc-test", `    path: ${file}`);
    }
    if (options.mode === "token") {
      const alg = options.alg ?? "ES256";
      const signing = await makeSigningCert(dir, alg);
      issuer = new TokenIssuer();
      for (const u of users) issuer.users.set(u.name, { password: u.password, push: u.push !== false });
      await issuer.start(signing.keyFile, signing.certFile, alg);
      config.push(
        "auth:",
        "  token:",
        `    realm: ${issuer.realm}`,
        `    service: ${issuer.service}`,
        `    issuer: ${issuer.issuer}`,
        `    rootcertbundle: ${signing.certFile}`,
      );
    }
    const scheme = options.mode === "tls" ? "https" : "http";
    for (let attempt = 0; ; attempt++) {
      const port = await freePort();
      const configFile = join(dir, "config.yml");
      await writeFile(configFile, `${config.join("\n").replace("ADDR", `127.0.0.1:${port}`)}\n`);
      const child = spawn(REGISTRY_BIN, ["serve", configFile], { stdio: ["ignore", "ignore", "pipe"] });
      const entry = { child, dir };
      live.add(entry);
      let stderr = "";
      child.stderr!.on("data", (c: Buffer) => {
        stderr = (stderr + c.toString("utf8")).slice(-4000);
      });
      const url = `${scheme}://127.0.0.1:${port}`;
      const ready = await waitReady(url, child, caFile);
      if (!ready) {
        await kill(child);
        live.delete(entry);
        if (attempt < 2) continue;
        throw new Error(`docker-registry did not start (${options.mode}): ${stderr}`);
      }
      let stopped = false;
      const registry: TestRegistry = {
        mode: options.mode,
        host: `127.0.0.1:${port}`,
        port,
        url,
        storageDir,
        users,
        clientOptions(extra = {}) {
          const opts: RegistryClientOptions = { plainHttp: scheme === "http", env: {}, proxy: false };
          if (caFile) opts.caFile = caFile;
          const user = users[0];
          if (user && options.mode !== "open" && options.mode !== "tls") {
            opts.credentials = { username: user.name, password: user.password };
          }
          return { ...opts, ...extra };
        },
        async stop() {
          if (stopped) return;
          stopped = true;
          await kill(child);
          live.delete(entry);
          await issuer?.stop();
          await rm(dir, { recursive: true, force: true });
        },
      };
      if (caFile) registry.caFile = caFile;
      if (issuer) registry.issuer = issuer;
      return registry;
    }
  } catch (err) {
    await issuer?.stop();
    await rm(dir, { recursive: true, force: true });
    throw err;
  }
}

async function waitReady(url: string, child: ChildProcess, caFile: string | undefined): Promise<boolean> {
  const deadline = Date.now() + 10_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) return false;
    const status = await probe(`${url}/v2/`, caFile !== undefined);
    if (status === 200 || status === 401) return true;
    await sleep(50);
  }
  return false;
}

function probe(url: string, tls: boolean): Promise<number | undefined> {
  return new Promise((resolve) => {
    const req = (tls ? httpsRequest : httpRequest)(
      url,
      { rejectUnauthorized: false, timeout: 1000 },
      (res) => {
        res.resume();
        resolve(res.statusCode);
      },
    );
    req.on("error", () => resolve(undefined));
    req.on("timeout", () => req.destroy());
    req.end();
  });
}

async function kill(child: ChildProcess): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  child.kill("SIGTERM");
  const timer = setTimeout(() => child.kill("SIGKILL"), 2000);
  await exited;
  clearTimeout(timer);
}
