import type { Diagnostic } from "../../src/core.js";
import { lint } from "../../src/index.js";
import { testdir } from "../helpers/testdir.js";

/** A temporary agent tree holding `files` (written in the given order), removed after the test file. */
export const agentTree = testdir;

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
