import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { canonicalJson } from "../util/canonicalJson.js";

/**
 * Results of pure, costly checks (the Cedar validation of a policy set, …) keyed by the digest of everything they
 * depend on: `<cacheDir>/<namespace>/<key>.json`. A warm rebuild whose inputs are unchanged reads the result instead
 * of computing it. Advisory like every cache here: a missing, unreadable or malformed entry is computed again, a
 * failed write is ignored, and entries are written temp-then-rename so a reader never sees half of one.
 */
export class ResultCache<T> {
  readonly #dir: string | undefined;

  /**
   * `cacheDir` undefined keeps nothing. `isValid` guards against entries written by another version or
   * damaged on disk.
   */
  constructor(
    cacheDir: string | undefined,
    namespace: string,
    private readonly isValid: (value: unknown) => value is T,
  ) {
    this.#dir = cacheDir ? join(cacheDir, namespace) : undefined;
  }

  /** The key of `inputs`: sha256 of their canonical JSON. */
  static key(inputs: unknown): string {
    return createHash("sha256").update(canonicalJson(inputs)).digest("hex");
  }

  async get(key: string): Promise<T | undefined> {
    if (!this.#dir) return undefined;
    try {
      const value: unknown = JSON.parse(await readFile(join(this.#dir, `${key}.json`), "utf8"));
      return this.isValid(value) ? value : undefined;
    } catch {
      return undefined;
    }
  }

  async set(key: string, value: T): Promise<void> {
    if (!this.#dir) return;
    try {
      await mkdir(this.#dir, { recursive: true });
      const file = join(this.#dir, `${key}.json`);
      const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      await writeFile(temp, JSON.stringify(value));
      await rename(temp, file);
    } catch {
      // advisory cache
    }
  }

  /** The cached result for `inputs`, or `compute()`'s, which is then stored. */
  async getOrCompute(inputs: unknown, compute: () => Promise<T>): Promise<{ value: T; cached: boolean }> {
    const key = ResultCache.key(inputs);
    const hit = await this.get(key);
    if (hit !== undefined) return { value: hit, cached: true };
    const value = await compute();
    await this.set(key, value);
    return { value, cached: false };
  }
}
