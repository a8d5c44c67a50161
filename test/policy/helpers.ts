import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { after } from "node:test";
import type { Diagnostic } from "../../src/core.js";
import { lint } from "../../src/index.js";

/** A temporary agent tree holding `files` (written in the given order), removed after the test file. */
export async function agentTree(files: Record<string, string | Uint8Array>): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), "agentrc-policy-"));
  after(() => rm(dir, { recursive: true, force: true }));
  for (const [rel, content] of Object.entries(files)) {
    const target = join(dir, rel);
    await mkdir(dirname(target), { recursive: true });
    await writeFile(target, content);
  }
  return dir;
}

/** Lints a tree built from `files`; returns the compiled policy and the diagnostics. */
export async function lintTree(files: Record<string, string | Uint8Array>) {
  const dir = await agentTree(files);
  const result = await lint({ dir });
  return { dir, policy: result.compilation.policy, diagnostics: result.diagnostics };
}

/** `file:line:column CODE` for each diagnostic, in the compilation's (sorted) order. */
export const where = (diagnostics: readonly Diagnostic[]): string[] =>
  diagnostics.map((d) => `${d.location?.file}:${d.location?.line}:${d.location?.column} ${d.code}`);

/** The diagnostics of one code. */
export const only = (diagnostics: readonly Diagnostic[], code: string): Diagnostic[] =>
  diagnostics.filter((d) => d.code === code);
