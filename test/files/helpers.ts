import { execFileSync } from "node:child_process";
import { chmod, mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after } from "node:test";
import type { AgentrcConfig, Diagnostic } from "../../src/index.js";
import { lint } from "../../src/index.js";

/** A file's content, or a special entry. */
export type Entry =
  | string
  | Uint8Array
  | { symlink: string }
  | { fifo: true }
  | { content: string; mode: number }
  | { dir: true };

/**
 * A temporary directory holding `entries` (created in the given order), removed after the test file. Returns the
 * directory; agent trees usually live in `<dir>/agent` so that `outside.txt`-style targets sit beside them.
 */
export async function tree(entries: Record<string, Entry>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "agentrc-files-"));
  after(() => rm(dir, { recursive: true, force: true }));
  await populate(dir, entries);
  return dir;
}

export async function populate(dir: string, entries: Record<string, Entry>): Promise<void> {
  for (const [rel, entry] of Object.entries(entries)) {
    const target = join(dir, rel);
    await mkdir(dirname(target), { recursive: true });
    if (typeof entry === "string" || entry instanceof Uint8Array) await writeFile(target, entry);
    else if ("symlink" in entry) await symlink(entry.symlink, target);
    else if ("fifo" in entry) execFileSync("mkfifo", [target]);
    else if ("dir" in entry) await mkdir(target, { recursive: true });
    else {
      await writeFile(target, entry.content);
      await chmod(target, entry.mode);
    }
  }
}

/** Lints the agent in `dir` with an optional inline configuration. */
export async function lintDir(dir: string, config?: AgentrcConfig) {
  const result = await lint({ dir, ...(config ? { config } : {}) });
  return { ...result, compilation: result.compilation };
}

/** `file:line:column CODE` for each diagnostic, in the compilation's (sorted) order. */
export const where = (diagnostics: readonly Diagnostic[]): string[] =>
  diagnostics.map((d) => `${d.location?.file}:${d.location?.line}:${d.location?.column} ${d.code}`);

/** The diagnostics of one code. */
export const only = (diagnostics: readonly Diagnostic[], code: string): Diagnostic[] =>
  diagnostics.filter((d) => d.code === code);

/** Package paths of a layer, in insertion order, `*` marking executables. */
export function layer(
  compilation: { files: Map<string, Map<string, { path: string; executable: boolean }>> },
  key: string,
): string[] {
  return [...(compilation.files.get(key)?.values() ?? [])].map((f) => `${f.path}${f.executable ? "*" : ""}`);
}

export const HEAD = "AGENT demo\nAUDIT basic\n";
