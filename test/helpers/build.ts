import { mkdtemp } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { build, type LintResult, type RunOptions } from "../../src/index.js";
import { type CopyOptions, copyTree } from "./copyTree.js";
import { testdir } from "./testdir.js";

export const FIXTURES = fileURLToPath(new URL("../../fixtures/", import.meta.url));

/** Runs `fn` with SOURCE_DATE_EPOCH set (or unset), restoring it afterwards. */
export async function withEpoch<T>(epoch: string | undefined, fn: () => Promise<T>): Promise<T> {
  const saved = process.env.SOURCE_DATE_EPOCH;
  if (epoch === undefined) delete process.env.SOURCE_DATE_EPOCH;
  else process.env.SOURCE_DATE_EPOCH = epoch;
  try {
    return await fn();
  } finally {
    if (saved === undefined) delete process.env.SOURCE_DATE_EPOCH;
    else process.env.SOURCE_DATE_EPOCH = saved;
  }
}

/**
 * Copies a fixture into a fresh temporary directory (never building inside the repository) and builds it into a
 * standalone layout with its own cache, so no state is shared between builds.
 */
export async function buildCopy(
  fixture: string,
  options: {
    copy?: CopyOptions;
    epoch?: string;
    run?: Omit<RunOptions, "dir">;
    /** Directory to build in (default: a fresh testdir, removed after the test file; a `before` hook must pass one). */
    base?: string;
  } = {},
): Promise<{ result: LintResult; digest: string; dir: string; layout: string }> {
  const base = options.base ?? (await testdir());
  const dir = await mkdtemp(join(base, "src-"));
  await copyTree(join(FIXTURES, fixture), dir, options.copy);
  const layout = join(base, "layout");
  const result = await withEpoch(options.epoch, () =>
    build({
      dir,
      cacheDir: join(base, "cache"),
      ...options.run,
      config: {
        ...options.run?.config,
        build: { tags: ["localhost/test:1"], output: layout, ...options.run?.config?.build },
      },
    }),
  );
  const digest = result.compilation.package?.descriptor.digest ?? "";
  return { result, digest, dir, layout };
}
