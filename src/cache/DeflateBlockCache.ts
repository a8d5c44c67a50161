import { createHash } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { DeflateBlockStore, DeflatedBlock } from "../oci/gzip.js";
import type { OciLayout } from "../oci/layout.js";

/** One recorded block: where its deflate output lies in a cached blob, and that output's sha256. */
interface BlockEntry {
  blob: string;
  offset: number;
  length: number;
  sha256: string;
}

const KEY = /^[0-9a-f]{64}$/;
const BLOB = /^sha256:[0-9a-f]{64}$/;

/**
 * The deflate blocks of packed layers, by block key (src/oci/gzip.ts `deflateBlockKey`): each entry points into a
 * blob of the build cache, so a layer packed again after a small edit copies its unchanged blocks from the old blob
 * instead of deflating them. Entries hold no bytes of their own. A block is read back only if its sha256 matches
 * the entry: an entry whose blob was pruned, truncated or replaced is a miss, never wrong bytes.
 */
export class DeflateBlockCache implements DeflateBlockStore {
  readonly #dir: string;
  readonly #layout: OciLayout;

  constructor(dir: string, layout: OciLayout) {
    this.#dir = dir;
    this.#layout = layout;
  }

  async get(key: string): Promise<Buffer | undefined> {
    if (!KEY.test(key)) return undefined;
    let entry: BlockEntry;
    try {
      entry = JSON.parse(await readFile(this.#entryPath(key), "utf8")) as BlockEntry;
    } catch {
      return undefined;
    }
    if (!isEntry(entry)) return undefined;
    let handle: Awaited<ReturnType<typeof open>> | undefined;
    try {
      handle = await open(this.#layout.blobPath(entry.blob), "r");
      const bytes = Buffer.allocUnsafe(entry.length);
      const { bytesRead } = await handle.read(bytes, 0, entry.length, entry.offset);
      if (bytesRead !== entry.length) return undefined;
      return createHash("sha256").update(bytes).digest("hex") === entry.sha256 ? bytes : undefined;
    } catch {
      return undefined;
    } finally {
      await handle?.close().catch(() => {});
    }
  }

  /** Records the blocks of `blob` (a blob now in the cache). Only multi-block layers are worth recording. */
  async record(blob: string, blocks: readonly DeflatedBlock[] | undefined): Promise<void> {
    if (!blocks || blocks.length < 2) return;
    await mkdir(this.#dir, { recursive: true });
    for (const block of blocks) {
      const entry: BlockEntry = { blob, offset: block.offset, length: block.length, sha256: block.sha256 };
      const file = this.#entryPath(block.key);
      const temp = `${file}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
      try {
        await writeFile(temp, JSON.stringify(entry));
        await rename(temp, file);
      } catch {
        // Advisory: a block not recorded is only deflated again next time.
        await rm(temp, { force: true });
      }
    }
  }

  /** Deletes entries whose blob is gone (all of them with `all`); returns how many. */
  async prune(options: { all?: boolean } = {}): Promise<number> {
    let names: string[];
    try {
      names = await readdir(this.#dir);
    } catch {
      return 0;
    }
    let removed = 0;
    for (const name of names) {
      const path = join(this.#dir, name);
      const entry = name.endsWith(".json") ? await readEntry(path) : undefined;
      const keep = !options.all && entry !== undefined && (await this.#layout.hasBlob(entry.blob));
      if (keep) continue;
      await unlink(path).catch(() => {});
      if (name.endsWith(".json")) removed += 1;
    }
    return removed;
  }

  #entryPath(key: string): string {
    return join(this.#dir, `${key}.json`);
  }
}

function isEntry(e: unknown): e is BlockEntry {
  const x = e as BlockEntry;
  return (
    typeof x === "object" &&
    x !== null &&
    typeof x.blob === "string" &&
    BLOB.test(x.blob) &&
    Number.isSafeInteger(x.offset) &&
    x.offset >= 0 &&
    Number.isSafeInteger(x.length) &&
    x.length > 0 &&
    x.length <= 64 * 1024 * 1024 &&
    typeof x.sha256 === "string"
  );
}

async function readEntry(path: string): Promise<BlockEntry | undefined> {
  try {
    const entry = JSON.parse(await readFile(path, "utf8")) as unknown;
    return isEntry(entry) ? entry : undefined;
  } catch {
    return undefined;
  }
}
