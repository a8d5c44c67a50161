import { type Compilation, type Lockfile, normaliseRelative } from "../../src/core.js";

/** The lock's `tools`: every TOOL in source order, with the content digest of its file when it names one. */
export async function lockTools(lock: Lockfile, compilation: Compilation): Promise<Lockfile> {
  const tools = compilation.directives<{ ref: string; path?: string }>("TOOL");
  if (tools.length === 0) return lock;
  const entries = await Promise.all(
    tools.map(async (t) => {
      const file = t.args.path
        ? compilation.files.get("tools")?.get(normaliseRelative(t.args.path) ?? t.args.path)
        : undefined;
      return {
        name: t.args.ref,
        ...(t.args.path ? { path: t.args.path } : {}),
        ...(file ? { digest: (await compilation.fileDigest(file)).digest } : {}),
      };
    }),
  );
  return { ...lock, tools: entries };
}
