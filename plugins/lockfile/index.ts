import { readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import {
  AgentrcError,
  type AgentrcPlugin,
  type Compilation,
  type Compiler,
  canonicalJson,
  canonicalJsonPretty,
  diagnostic,
  LOCKFILE_NAME,
  type Lockfile,
  pinnedDependencies,
  STAGE,
  schemaValidator,
  selectedForUpdate,
} from "../../src/core.js";

const NAME = "lockfile";

/**
 * Reads agentrc.lock at the start of `spec` (other plugins read `compilation.lock`), and at `STAGE.LOCK_WRITE` of the
 * `lock` hook, once every plugin has added its own section, compares the lock with the file and writes it when it
 * changed — or, with --frozen-lockfile, fails instead (LOCKFILE_STALE). It fills no section itself: each feature
 * records its own facts. The bytes are canonical (sorted keys, two-space indent, final newline) and hold no
 * timestamps, so unchanged inputs give unchanged bytes.
 */
export class LockfilePlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      compilation.hooks.spec.tapPromise({ name: NAME, stage: STAGE.SPEC_READ_LOCK }, () =>
        readLock(compilation),
      );
      compilation.hooks.lock.tapPromise({ name: NAME, stage: STAGE.LOCK_WRITE }, async (lock) => {
        await writeLock(compilation, lock);
        return lock;
      });
    });
  }
}

async function readLock(compilation: Compilation): Promise<void> {
  let text: string;
  try {
    text = await readFile(join(compilation.context, LOCKFILE_NAME), "utf8");
  } catch {
    return;
  }
  const at = { file: LOCKFILE_NAME, line: 1, column: 1 };
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (e) {
    compilation.report(
      diagnostic("LOCKFILE_INVALID", `${LOCKFILE_NAME} is not valid JSON: ${(e as Error).message}`, at, {
        plugin: NAME,
      }),
    );
    return;
  }
  const validate = schemaValidator("lockfile.schema.json");
  if (!validate(data)) {
    for (const e of validate.errors ?? []) {
      if (e.keyword === "if") continue;
      compilation.report(
        diagnostic("LOCKFILE_INVALID", `${LOCKFILE_NAME}${e.instancePath || ""}: ${e.message}`, at, {
          plugin: NAME,
        }),
      );
    }
    return;
  }
  compilation.lock = data as Lockfile;
}

async function writeLock(compilation: Compilation, lock: Lockfile): Promise<void> {
  // `lock --update <name>`: a name that is no registry dependency of the agent is a mistake, not a no-op.
  const names = compilation.options.build.update ?? [];
  const known = pinnedDependencies(lock);
  for (const name of names) {
    if (known.some((d) => selectedForUpdate(d, [name]))) continue;
    compilation.report(
      diagnostic(
        "LOCK_UPDATE_UNKNOWN",
        `lock --update ${name}: the agent has no FROM, SKILL oci:// or TOOLSET oci:// dependency of that reference or name`,
        undefined,
        {
          plugin: NAME,
          hint:
            known.length > 0
              ? `Its dependencies: ${known.map((d) => d.name ?? d.ref).join(", ")}.`
              : "The agent has no registry dependencies: nothing to update.",
        },
      ),
    );
  }
  // A section that reported an error (an unresolvable reference) is missing or partial: never write that lock.
  if (compilation.hasErrors()) return;
  const path = join(compilation.context, LOCKFILE_NAME);
  const bytes = canonicalJsonPretty(lock);
  const current = await readFile(path, "utf8").catch(() => undefined);
  // Same content in another form (CRLF from a Windows checkout, another indent) is current, not stale: keep it.
  if (current === bytes || (current !== undefined && sameJson(current, lock))) {
    compilation.lockfileStatus = "current";
    return;
  }
  if (compilation.options.build.readOnlyLockfile) {
    // Packaged as resolved, never written: the caller reports the status.
    compilation.lockfileStatus = "stale";
    return;
  }
  if (compilation.options.build.frozenLockfile) {
    compilation.lockfileStatus = "stale";
    compilation.report(
      diagnostic(
        "LOCKFILE_STALE",
        current === undefined
          ? `${LOCKFILE_NAME} is missing and --frozen-lockfile forbids creating it`
          : `${LOCKFILE_NAME} does not match the inputs (${changedSections(current, lock).join(", ")} changed)`,
        { file: LOCKFILE_NAME, line: 1, column: 1 },
        { plugin: NAME },
      ),
    );
    return;
  }
  // Unique per write: two builds of one agent in one process (the API) must not share a temp file.
  const temp = `${path}.${process.pid}.${Math.random().toString(36).slice(2)}.tmp`;
  try {
    await writeFile(temp, bytes, { mode: 0o644 });
    await rename(temp, path);
    compilation.lockfileStatus = current === undefined ? "created" : "updated";
  } catch (e) {
    await rm(temp, { force: true });
    throw new AgentrcError("LOCKFILE_WRITE_FAILED", `cannot write ${path}: ${(e as Error).message}`, {
      cause: e,
    });
  }
}

function sameJson(text: string, lock: Lockfile): boolean {
  try {
    return canonicalJson(JSON.parse(text)) === canonicalJson(lock);
  } catch {
    return false;
  }
}

function changedSections(current: string, next: Lockfile): string[] {
  let old: Record<string, unknown> = {};
  try {
    old = JSON.parse(current) as Record<string, unknown>;
  } catch {
    return ["everything"];
  }
  const keys = new Set([...Object.keys(old), ...Object.keys(next)]);
  return [...keys]
    .filter(
      (k) =>
        canonicalJson(old[k] ?? null) !==
        canonicalJson((next as unknown as Record<string, unknown>)[k] ?? null),
    )
    .sort();
}
