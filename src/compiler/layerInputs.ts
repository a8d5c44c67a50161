import { createHash } from "node:crypto";
import { join } from "node:path";
import { LOCKFILE_NAME } from "../lockfile/types.js";
import { canonicalJson } from "../util/canonicalJson.js";
import type { Compilation } from "./Compilation.js";
import type { LayerKey } from "./types.js";

/**
 * The digest of what decides a layer: every file's package path, executable bit and content digest, sorted by
 * path. Equal inputs give an equal digest whatever the files' mtimes or the order they were found in. agentrc.lock
 * itself is left out when a directive selects it (`BIND . …`): the lock cannot pin its own bytes, and a lock that
 * digested itself would change on every build. Undefined when nothing was selected for the layer.
 */
export async function layerInputDigest(compilation: Compilation, key: LayerKey): Promise<string | undefined> {
  const selected = compilation.files.get(key);
  if (!selected) return undefined;
  const lockPath = join(compilation.context, LOCKFILE_NAME);
  const files = [...selected.values()]
    .filter((f) => f.source !== lockPath)
    .sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  const entries = await Promise.all(
    files.map(async (f) => ({
      path: f.path,
      executable: f.executable,
      digest: (await compilation.fileDigest(f)).digest,
    })),
  );
  return `sha256:${createHash("sha256").update(canonicalJson(entries)).digest("hex")}`;
}

/** `layerInputDigest` of every layer with selected files, keyed and sorted by layer key (the lock's `layers`). */
export async function layerInputDigests(compilation: Compilation): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const keys = [...compilation.files.keys()].sort();
  const digests = await Promise.all(keys.map((key) => layerInputDigest(compilation, key)));
  keys.forEach((key, i) => {
    out[key] = digests[i]!;
  });
  return out;
}
