import { createHash } from "node:crypto";
import { type BigIntStats, createReadStream } from "node:fs";
import { mkdir, readFile, rename, stat, writeFile } from "node:fs/promises";
import { homedir } from "node:os";
import { dirname, join } from "node:path";

/** Stat fields that change whenever a file's content may have changed (mtime in ns, size, inode, ctime). */
function statKey(s: { size: number; mtimeNs: bigint; ctimeNs: bigint; ino: number }): string {
  return `${s.size}:${s.mtimeNs}:${s.ctimeNs}:${s.ino}`;
}

/**
 * Timestamps are only as fine as the filesystem keeps them (1 s on ext2/ext3 with small inodes and HFS+, 2 s on
 * FAT, a clock tick on older kernels): a file rewritten with the same size within that granule keeps its stat key.
 * As git does with "racily clean" entries, a digest taken less than this long after the file last changed is
 * trusted only by the run that computed it; a later run hashes the file again.
 */
const RACY_NS = 2_000_000_000n;

interface Entry {
  key: string;
  digest: string;
  /** When the file was statted for this digest, ms since 1970. */
  at: number;
}

export function defaultCacheDir(env: NodeJS.ProcessEnv = process.env): string {
  if (env.AGENTRC_CACHE) return env.AGENTRC_CACHE;
  return join(env.XDG_CACHE_HOME || join(homedir(), ".cache"), "agentrc");
}

/**
 * sha256 of files, streamed, memoised per process and persisted across runs keyed by path and stat fields, so a
 * warm rebuild only stats unchanged files (ARCHITECTURE.md, src/cache and src/fs). The cache is advisory: a missing, corrupt
 * or concurrently replaced cache file only costs re-hashing.
 */
export class FileDigestCache {
  readonly #file: string | undefined;
  readonly #stat: (path: string) => Promise<BigIntStats>;
  #entries = new Map<string, Entry>();
  /** Paths hashed by the current run: their digests are trusted until `save()`, racy or not. */
  readonly #thisRun = new Set<string>();
  /**
   * Each path's stat (and when it was taken), once per run: the layer input digests, the file index, packing ahead
   * and the secret scan all ask about the same files, and one snapshot per run is also what they must agree on.
   */
  readonly #stats = new Map<string, Promise<{ stats: BigIntStats; at: number }>>();
  #loaded: Promise<void> | undefined;
  #dirty = false;
  /** Files hashed at once: callers may ask for thousands together, and each open stream holds a 64 KiB buffer. */
  readonly #gate = new Gate(8);

  /** `cacheDir` undefined keeps the cache in memory only; `options.stat` replaces `fs.promises.stat` (tests count). */
  constructor(cacheDir?: string, options: { stat?: (path: string) => Promise<BigIntStats> } = {}) {
    this.#file = cacheDir ? join(cacheDir, "file-digests.json") : undefined;
    this.#stat = options.stat ?? ((path) => stat(path, { bigint: true }));
  }

  async digest(path: string): Promise<{ digest: string; size: number }> {
    const { key, at, size, hit } = await this.#lookup(path);
    if (hit) return { digest: hit, size };
    const digest = await this.#gate.run(() => hashFile(path));
    this.#remember(path, { key, digest, at });
    return { digest, size };
  }

  /**
   * For a caller that reads the file anyway (the secret scan): the cached digest if the file is unchanged, else a
   * `record` function to store the digest the caller computed while reading. The stat is taken before the read, so a
   * file changed during the read is hashed again next time.
   */
  async peek(path: string): Promise<{ digest?: string; record: (digest: string) => void }> {
    const { key, at, hit } = await this.#lookup(path);
    return hit
      ? { digest: hit, record: () => {} }
      : { record: (digest) => this.#remember(path, { key, digest, at }) };
  }

  async #lookup(path: string): Promise<{ key: string; at: number; size: number; hit?: string }> {
    await this.#load();
    const { stats: s, at } = await this.#statOnce(path);
    const key = statKey({ size: Number(s.size), mtimeNs: s.mtimeNs, ctimeNs: s.ctimeNs, ino: Number(s.ino) });
    const hit = this.#entries.get(path);
    const settled = (ns: bigint, at: number) => ns + RACY_NS <= BigInt(at) * 1_000_000n;
    const trusted =
      hit !== undefined &&
      hit.key === key &&
      (this.#thisRun.has(path) || (settled(s.mtimeNs, hit.at) && settled(s.ctimeNs, hit.at)));
    return trusted ? { key, at, size: Number(s.size), hit: hit.digest } : { key, at, size: Number(s.size) };
  }

  #statOnce(path: string): Promise<{ stats: BigIntStats; at: number }> {
    let taken = this.#stats.get(path);
    if (taken === undefined) {
      const at = Date.now();
      taken = this.#stat(path).then((stats) => ({ stats, at }));
      // A failed stat (a file removed) is not remembered: the next ask sees the file as it is then.
      const failed = taken;
      failed.catch(() => {
        if (this.#stats.get(path) === failed) this.#stats.delete(path);
      });
      this.#stats.set(path, taken);
    }
    return taken;
  }

  /** Ends the run: its stats and its trust in racy digests end with it. `save()` does this too. */
  endRun(): void {
    this.#thisRun.clear();
    this.#stats.clear();
  }

  #remember(path: string, entry: Entry): void {
    this.#entries.set(path, entry);
    this.#thisRun.add(path);
    this.#dirty = true;
  }

  /** Writes the cache (temp file + rename); errors are ignored, a cache is never worth failing a build. */
  async save(): Promise<void> {
    this.endRun();
    if (!this.#file || !this.#dirty) return;
    try {
      await mkdir(dirname(this.#file), { recursive: true });
      const temp = `${this.#file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      await writeFile(temp, JSON.stringify(Object.fromEntries(this.#entries)));
      await rename(temp, this.#file);
      this.#dirty = false;
    } catch {
      // advisory cache
    }
  }

  #load(): Promise<void> {
    this.#loaded ??= (async () => {
      if (!this.#file) return;
      try {
        const data = JSON.parse(await readFile(this.#file, "utf8")) as Record<string, Entry>;
        for (const [k, v] of Object.entries(data)) {
          if (typeof v?.key === "string" && typeof v.digest === "string" && Number.isSafeInteger(v.at)) {
            this.#entries.set(k, v);
          }
        }
      } catch {
        // no cache yet, or unreadable: start empty
      }
    })();
    return this.#loaded;
  }
}

/** `sha256:<hex>` of a file's bytes, read as a stream. */
export function hashFile(path: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const h = createHash("sha256");
    createReadStream(path)
      .on("data", (c) => h.update(c))
      .on("error", reject)
      .on("end", () => resolve(`sha256:${h.digest("hex")}`));
  });
}

/** At most `limit` tasks run at once; the rest wait in order. */
export class Gate {
  #active = 0;
  readonly #waiting: Array<() => void> = [];
  constructor(private readonly limit: number) {}

  async run<T>(task: () => Promise<T>): Promise<T> {
    if (this.#active >= this.limit) await new Promise<void>((resolve) => this.#waiting.push(resolve));
    this.#active++;
    try {
      return await task();
    } finally {
      this.#active--;
      this.#waiting.shift()?.();
    }
  }
}
