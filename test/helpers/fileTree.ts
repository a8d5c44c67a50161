import { createHash } from "node:crypto";
import { readdir, readFile } from "node:fs/promises";
import { join } from "node:path";

/** `sha256:<hex>` of `bytes`, the form of an OCI digest. */
export function sha256(bytes: Buffer | string): string {
  return `sha256:${createHash("sha256").update(bytes).digest("hex")}`;
}

/**
 * Every regular file below `root`, dot-files included: relative path (with `/`) → `sha256` of its bytes, sorted by
 * path. Unpacked packages and images hold only files and directories, so anything else (a link, a device) throws,
 * naming it.
 */
export async function fileTree(root: string): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  async function walk(rel: string): Promise<void> {
    for (const entry of await readdir(join(root, rel), { withFileTypes: true })) {
      const path = rel === "" ? entry.name : `${rel}/${entry.name}`;
      if (entry.isDirectory()) await walk(path);
      else if (entry.isFile()) out[path] = sha256(await readFile(join(root, path)));
      else throw new Error(`${path} in ${root} is neither a file nor a directory`);
    }
  }
  await walk("");
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}
