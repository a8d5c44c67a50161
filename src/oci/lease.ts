import { randomUUID } from "node:crypto";
import { mkdir, readdir, readFile, rename, stat, unlink, writeFile } from "node:fs/promises";
import { hostname } from "node:os";
import { join } from "node:path";
import type { OciLayout } from "./layout.js";
import { processAlive } from "./lock.js";

/**
 * Leases keep blobs that a writer has not indexed yet safe from garbage collection (containerd's leases, in
 * files). A writer writes blobs first and the index last, so between the two its blobs look unreferenced; the
 * lease names them. A lease is created and extended under the layout's index lock, and `prune` holds that lock
 * for its whole mark and sweep: a lease either existed when the sweep began (its digests are kept) or is taken
 * after the sweep ended (the writer then sees the swept state and writes what is missing).
 *
 * Files: `<layout>/leases/<uuid>.json` holding `{pid, host, time, digests}`. A lease whose process is dead on
 * this host, or one from another host older than a day, no longer counts (its holder crashed).
 */
export const LEASES_DIR = "leases";
const FOREIGN_LEASE_MAX_AGE_MS = 24 * 60 * 60 * 1000;
const HOST = hostname();

interface LeaseFile {
  pid: number;
  host: string;
  time: number;
  digests: string[];
}

export class Lease {
  readonly #layout: OciLayout;
  readonly #path: string;
  readonly #digests = new Set<string>();
  readonly #time = Date.now();
  #released = false;

  private constructor(layout: OciLayout) {
    this.#layout = layout;
    this.#path = join(layout.root, LEASES_DIR, `${randomUUID()}.json`);
  }

  /** Takes a lease on `digests` (present or about to be written) in `layout`. */
  static async acquire(layout: OciLayout, digests: Iterable<string> = []): Promise<Lease> {
    const lease = new Lease(layout);
    await mkdir(join(layout.root, LEASES_DIR), { recursive: true });
    await lease.extend(digests);
    return lease;
  }

  /**
   * Adds `digests` to the lease, then runs `whileLocked` (if given) still under the index lock: a check that a
   * blob exists, or its rename into place, cannot then race a sweep.
   */
  async extend<T>(digests: Iterable<string>, whileLocked?: () => Promise<T>): Promise<T | undefined> {
    return this.#layout.withIndexLock(async () => {
      for (const d of digests) this.#digests.add(d);
      this.#released = false;
      const file: LeaseFile = { pid: process.pid, host: HOST, time: this.#time, digests: [...this.#digests] };
      const temp = `${this.#path}.${randomUUID()}.tmp`;
      await writeFile(temp, JSON.stringify(file));
      await rename(temp, this.#path);
      return whileLocked?.();
    });
  }

  /** Ends the lease; the blobs are kept only if something else references them. Idempotent. */
  async release(): Promise<void> {
    if (this.#released) return;
    this.#released = true;
    await unlink(this.#path).catch(() => {});
  }
}

/** Runs `fn` with a lease on `digests`, released afterwards whatever happens. */
export async function withLease<T>(
  layout: OciLayout,
  digests: Iterable<string>,
  fn: (lease: Lease) => Promise<T>,
): Promise<T> {
  const lease = await Lease.acquire(layout, digests);
  try {
    return await fn(lease);
  } finally {
    await lease.release();
  }
}

/**
 * Digests held by live leases; leases of crashed holders are deleted. Call it holding the index lock
 * (`layout.withIndexLock`), as prune does, or the answer may be stale at once.
 */
export async function leasedDigests(layout: OciLayout, now = Date.now()): Promise<Set<string>> {
  const dir = join(layout.root, LEASES_DIR);
  const names = await readdir(dir).catch((err: NodeJS.ErrnoException) => {
    if (err.code === "ENOENT") return [] as string[];
    throw err;
  });
  const out = new Set<string>();
  for (const name of names) {
    const path = join(dir, name);
    if (!name.endsWith(".json")) {
      // A temp file of a holder killed between write and rename (the lock is held meanwhile, so it is stale).
      await unlink(path).catch(() => {});
      continue;
    }
    const lease = await readLease(path);
    if (lease === undefined) {
      // Unreadable: judged by age only, so a file another process is replacing right now is not lost.
      const age = await stat(path).then(
        (s) => now - s.mtimeMs,
        () => 0,
      );
      if (age > FOREIGN_LEASE_MAX_AGE_MS) await unlink(path).catch(() => {});
      continue;
    }
    if (!leaseIsLive(lease, now)) {
      await unlink(path).catch(() => {});
      continue;
    }
    for (const d of lease.digests) out.add(d);
  }
  return out;
}

function leaseIsLive(lease: LeaseFile, now: number): boolean {
  if (lease.host === HOST) return processAlive(lease.pid);
  return now - lease.time < FOREIGN_LEASE_MAX_AGE_MS;
}

async function readLease(path: string): Promise<LeaseFile | undefined> {
  try {
    const v = JSON.parse(await readFile(path, "utf8")) as Partial<LeaseFile>;
    if (
      typeof v.pid === "number" &&
      typeof v.host === "string" &&
      typeof v.time === "number" &&
      Array.isArray(v.digests) &&
      v.digests.every((d) => typeof d === "string")
    ) {
      return v as LeaseFile;
    }
  } catch {
    // vanished or garbage
  }
  return undefined;
}
