import {
  chmod,
  lstat,
  mkdir,
  readdir,
  readFile,
  readlink,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { dirname, join } from "node:path";

export interface CopyOptions {
  /** Create files in reverse order of the sorted listing. */
  reverse?: boolean;
  /** mtime for every copied file (seconds); default: now. */
  mtime?: (path: string) => number;
  /** umask in force while creating files (the executable bit is carried over as `chmod +x` under it). */
  umask?: number;
}

/** Copies a tree with controllable creation order, mtimes and umask, to prove the build does not depend on them. */
export async function copyTree(src: string, dst: string, options: CopyOptions = {}): Promise<void> {
  const files: string[] = [];
  const walk = async (rel: string) => {
    for (const e of await readdir(join(src, rel), { withFileTypes: true })) {
      const p = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(p);
      else files.push(p);
    }
  };
  await walk("");
  files.sort();
  if (options.reverse) files.reverse();
  const previous = options.umask === undefined ? undefined : process.umask(options.umask);
  try {
    for (const rel of files) {
      const from = join(src, rel);
      const to = join(dst, rel);
      await mkdir(dirname(to), { recursive: true });
      const s = await lstat(from);
      if (s.isSymbolicLink()) {
        await symlink(await readlink(from), to);
        continue;
      }
      await writeFile(to, await readFile(from));
      if (s.mode & 0o111) await chmod(to, 0o777 & ~(options.umask ?? 0o022));
      const t = options.mtime ? options.mtime(rel) : Date.now() / 1000;
      await utimes(to, t, t);
    }
  } finally {
    if (previous !== undefined) process.umask(previous);
  }
}
