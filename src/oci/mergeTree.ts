import { lstat, readdir, rename } from "node:fs/promises";
import { join } from "node:path";
import { AgentrcError } from "../diagnostics/AgentrcError.js";

/**
 * Moves the extracted layer tree `from` into `to` (both directories this process created): new names are renamed
 * into place, directories present on both sides are merged, anything else (the same file from two layers, a file
 * over a directory) is refused with OCI_EXTRACT_DUPLICATE_PATH. Existing entries are inspected with lstat, never
 * followed. Returns the number of files moved.
 */
export async function mergeTree(from: string, to: string): Promise<number> {
  return mergeInto(from, to, "");
}

async function mergeInto(from: string, to: string, rel: string): Promise<number> {
  let files = 0;
  for (const entry of await readdir(from, { withFileTypes: true })) {
    const src = join(from, entry.name);
    const dst = join(to, entry.name);
    const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
    const existing = await lstat(dst).catch((err: NodeJS.ErrnoException) => {
      if (err.code === "ENOENT") return undefined;
      throw err;
    });
    if (entry.isDirectory()) {
      if (existing?.isDirectory()) {
        files += await mergeInto(src, dst, path);
        continue;
      }
      if (existing === undefined) {
        files += await countFiles(src);
        await rename(src, dst);
        continue;
      }
    } else if (entry.isFile() && existing === undefined) {
      await rename(src, dst);
      files++;
      continue;
    }
    throw new AgentrcError(
      "OCI_EXTRACT_DUPLICATE_PATH",
      `${JSON.stringify(path)} is provided by more than one layer.`,
    );
  }
  return files;
}

async function countFiles(dir: string): Promise<number> {
  let n = 0;
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    if (entry.isDirectory()) n += await countFiles(join(dir, entry.name));
    else n++;
  }
  return n;
}
