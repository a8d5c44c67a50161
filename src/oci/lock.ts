import { randomUUID } from "node:crypto";
import { link, open, readFile, rename, stat, unlink } from "node:fs/promises";
import { hostname } from "node:os";
import { setTimeout as sleep } from "node:timers/promises";
import { AgentrcError } from "../diagnostics/AgentrcError.js";

/**
 * A cross-process lock file created with O_EXCL (`wx`). The file holds `{pid, host, token, time}`.
 * A lock is stale when its holder is a dead process on this host, or when it is older than `staleMs`
 * (holders keep it for milliseconds). Breaking a stale lock renames it away first, so that two breakers
 * cannot both remove it, and restores it if a live holder's lock was taken by mistake.
 */
export interface LockOptions {
  /** Give up after this long (default 30 s). */
  timeoutMs?: number;
  /** A lock older than this is stale whoever holds it (default 60 s). */
  staleMs?: number;
}

interface LockInfo {
  pid: number;
  host: string;
  token: string;
  time: number;
}

const HOST = hostname();

export async function withLock<T>(
  lockPath: string,
  fn: () => Promise<T>,
  options: LockOptions = {},
): Promise<T> {
  const token = await acquireLock(lockPath, options);
  try {
    return await fn();
  } finally {
    await releaseLock(lockPath, token);
  }
}

export async function acquireLock(lockPath: string, options: LockOptions = {}): Promise<string> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  const staleMs = options.staleMs ?? 60_000;
  const token = randomUUID();
  const info: LockInfo = { pid: process.pid, host: HOST, token, time: Date.now() };
  const deadline = Date.now() + timeoutMs;
  let delay = 1;
  for (;;) {
    try {
      const fh = await open(lockPath, "wx");
      try {
        await fh.writeFile(JSON.stringify(info));
      } finally {
        await fh.close();
      }
      return token;
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
    }
    if (await breakIfStale(lockPath, staleMs)) continue;
    if (Date.now() >= deadline) {
      const holder = await readInfo(lockPath);
      throw new AgentrcError(
        "OCI_LAYOUT_LOCKED",
        `Timed out after ${timeoutMs} ms waiting for ${lockPath}${holder ? ` (held by pid ${holder.pid} on ${holder.host})` : ""}.`,
      );
    }
    await sleep(delay + Math.random() * delay);
    delay = Math.min(delay * 2, 25);
  }
}

export async function releaseLock(lockPath: string, token: string): Promise<void> {
  const info = await readInfo(lockPath);
  // Only remove our own lock (it may have been broken as stale and re-taken by someone else).
  if (info?.token === token) await unlink(lockPath).catch(() => {});
}

async function readInfo(lockPath: string): Promise<LockInfo | undefined> {
  const raw = await readFile(lockPath, "utf8").catch(() => undefined);
  return raw === undefined ? undefined : parseInfo(raw);
}

function parseInfo(raw: string): LockInfo | undefined {
  try {
    const v = JSON.parse(raw) as Partial<LockInfo>;
    if (typeof v.pid === "number" && typeof v.host === "string" && typeof v.token === "string") {
      return { pid: v.pid, host: v.host, token: v.token, time: typeof v.time === "number" ? v.time : 0 };
    }
  } catch {
    // Empty (holder still writing it) or garbage: judged by age only.
  }
  return undefined;
}

/** True when `pid` is a running process on this host (EPERM: alive, owned by someone else). */
export function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** Removes the lock if stale; true when the caller should retry at once. */
async function breakIfStale(lockPath: string, staleMs: number): Promise<boolean> {
  let raw: string;
  let mtimeMs: number;
  try {
    raw = await readFile(lockPath, "utf8");
    mtimeMs = (await stat(lockPath)).mtimeMs;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return true; // released meanwhile
    throw err;
  }
  const info = parseInfo(raw);
  const deadHolder = info !== undefined && info.host === HOST && !processAlive(info.pid);
  const old = Date.now() - mtimeMs > staleMs;
  if (!deadHolder && !old) return false;
  const aside = `${lockPath}.stale-${randomUUID()}`;
  try {
    await rename(lockPath, aside);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === "ENOENT") return true; // another breaker won
    throw err;
  }
  const moved = await readFile(aside, "utf8").catch(() => raw);
  if (moved !== raw) {
    // We moved a lock taken after our check: put it back unless someone holds the path already.
    await link(aside, lockPath).catch(() => {});
  }
  await unlink(aside).catch(() => {});
  return true;
}
