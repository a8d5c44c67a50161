import { createHash } from "node:crypto";
import { createReadStream, rmSync } from "node:fs";
import { rm } from "node:fs/promises";
import {
  type Compilation,
  canonicalJson,
  diagnostic,
  isAgentrcError,
  mapLimit,
  oci,
  PACKAGE_FORMAT_VERSION,
  type RegistryLayerCache,
} from "../../src/core.js";
import { packToTemp } from "./packTemp.js";
import { tarLayerSources } from "./plan.js";

/** What decides a tar layer's bytes; its digest keys the blob cache and the layers packed ahead. */
export interface LayerKeyInputs {
  mediaType: string;
  /** The layer's title: the tar is written below it, so it decides the bytes too. */
  root: string;
  compressor: string;
  epoch: number;
  entries: ReadonlyArray<{ path: string; executable: boolean; digest: string }>;
}

export function layerKey(inputs: LayerKeyInputs): string {
  return createHash("sha256")
    .update(
      canonicalJson({
        format: PACKAGE_FORMAT_VERSION,
        compressor: inputs.compressor,
        epoch: inputs.epoch,
        mediaType: inputs.mediaType,
        root: inputs.root,
        entries: inputs.entries.map((e) => ({ path: e.path, executable: e.executable, digest: e.digest })),
      }),
    )
    .digest("hex");
}

interface Packed {
  temp: string;
  result: oci.PackedLayer;
}

/**
 * Layers packed during `check`, keyed by layer key, waiting for `packLayer` to claim them. Whatever is not claimed
 * (the build stopped at an error — a secret found, say — or a plugin changed the plan) is deleted by `discard`.
 */
export class LayersPackedAhead {
  readonly #byKey = new Map<string, Packed>();

  add(key: string, packed: Packed): void {
    const old = this.#byKey.get(key);
    if (old) rmSync(old.temp, { force: true });
    this.#byKey.set(key, packed);
  }

  /** The packed layer for `key`, now the caller's to commit or delete. */
  take(key: string): Packed | undefined {
    const packed = this.#byKey.get(key);
    this.#byKey.delete(key);
    return packed;
  }

  async discard(): Promise<void> {
    const temps = [...this.#byKey.values()].map((p) => p.temp);
    this.#byKey.clear();
    await Promise.all(temps.map((t) => rm(t, { force: true })));
  }

  /** For a run that threw: synchronous, from a sync hook. */
  discardSync(): void {
    for (const { temp } of this.#byKey.values()) rmSync(temp, { force: true });
    this.#byKey.clear();
  }
}

/**
 * Build mode, before the secret scan: packs every directory layer of the default plan whose files are not all known
 * (digest cached and layer in the blob cache), reading each file once. The same read digests the file (recorded in
 * the digest cache, so the lockfile and the plan do not read it) and hands its bytes to the content observers (the
 * secret scan), so that neither reads it again. A layer that fails here (a file vanished, changed size, a path
 * collision) is simply not packed ahead: the normal pack reports the problem.
 */
export async function packAhead(
  compilation: Compilation,
  options: { epoch: number; compressor: string; into: LayersPackedAhead },
): Promise<void> {
  // Skill and toolset packages are one directory layer, packed by their own path after the checks.
  if (compilation.hasErrors() || compilation.kind !== "agent") return;
  let layers: ReturnType<typeof tarLayerSources>;
  try {
    layers = tarLayerSources(compilation);
  } catch {
    return;
  }
  const digests = compilation.compiler.fileDigests;
  const cache = await compilation.compiler.blobCache();
  const keyOf = (layer: (typeof layers)[number], digestOf: (path: string) => string) =>
    layerKey({
      mediaType: layer.mediaType,
      root: layer.title,
      compressor: options.compressor,
      epoch: options.epoch,
      entries: layer.files.map(({ path, file }) => ({
        path,
        executable: file.executable,
        digest: digestOf(path),
      })),
    });
  const shared = compilation.compiler.sharedCaches();
  // Two packs at once keep both cores deflating; with a shared cache most layers wait on the network instead.
  await mapLimit(layers, shared.length > 0 ? 6 : 2, async (layer) => {
    const known = await Promise.all(
      layer.files.map(({ file }) => digests.peek(file.source).catch(() => undefined)),
    );
    if (known.every((k) => k?.digest)) {
      const cachedDigests = new Map(layer.files.map(({ path }, i) => [path, known[i]!.digest!]));
      if (await cache.lookup(keyOf(layer, (p) => cachedDigests.get(p)!))) return;
    }
    const read = new Map<string, string>();
    let observed = false;
    const entriesOf = (observe: boolean) =>
      layer.files.map(({ path, file }, i) => ({
        path,
        kind: "file" as const,
        executable: file.executable,
        size: file.size,
        content: async function* () {
          const hash = createHash("sha256");
          const sink = observe ? compilation.observeContent(file, known[i]?.digest) : undefined;
          for await (const chunk of createReadStream(file.source) as AsyncIterable<Buffer>) {
            hash.update(chunk);
            sink?.update(chunk);
            yield chunk;
          }
          const digest = `sha256:${hash.digest("hex")}`;
          if (read.has(path) && read.get(path) !== digest)
            throw new Error(`${path} changed while it was read`);
          read.set(path, digest);
          // The stat behind `known` was taken before this read: a file changed meanwhile is hashed again next run.
          if (!known[i]?.digest) known[i]?.record(digest);
          sink?.end();
        },
      }));
    if (shared.length > 0) {
      // A shared cache: one read digests, scans and hashes the tar (no deflate), and a verified entry spares the pack.
      let diffId: string;
      try {
        diffId = await oci.tarDigest(entriesOf(true), { epoch: options.epoch, root: layer.title });
      } catch {
        return; // the normal pack reports the problem
      }
      observed = true;
      const key = keyOf(layer, (p) => read.get(p)!);
      if (await cache.lookup(key)) return;
      if (
        await restoreShared(compilation, shared, key, {
          diffId,
          mediaType: layer.mediaType,
          title: layer.title,
        })
      )
        return;
    }
    const progress = compilation.hooks.packProgress;
    const total = layer.files.reduce((n, { file }) => n + 512 + Math.ceil(file.size / 512) * 512, 1024);
    try {
      const { temp, result } = await packToTemp(
        compilation,
        cache,
        { title: layer.title, entries: entriesOf(!observed), total },
        options.epoch,
      );
      options.into.add(
        keyOf(layer, (p) => read.get(p)!),
        { temp, result },
      );
      if (progress.isUsed()) {
        progress.call({ title: layer.title, bytes: result.uncompressedSize, total, done: true }, compilation);
      }
    } catch {
      // packLayer removed the temp file; the layer is packed (and its problem reported) the usual way.
    }
  });
}

/**
 * Fetches the layer for `key` from the first shared cache with a trustworthy entry into the local blob cache.
 * A cache that cannot be read is reported once (BUILD_CACHE_UNAVAILABLE) and skipped; an entry that does not match
 * this build's files is reported (BUILD_CACHE_ENTRY_REJECTED) and the layer is packed here.
 */
async function restoreShared(
  compilation: Compilation,
  shared: readonly RegistryLayerCache[],
  key: string,
  expected: { diffId: string; mediaType: string; title: string },
): Promise<boolean> {
  const cache = await compilation.compiler.blobCache();
  for (const remote of shared) {
    if (unavailable.get(compilation)?.has(remote.ref)) continue;
    let result: Awaited<ReturnType<RegistryLayerCache["restore"]>>;
    try {
      result = await remote.restore(key, expected, cache);
    } catch (err) {
      if (!isAgentrcError(err)) throw err;
      const seen = unavailable.get(compilation) ?? new Set<string>();
      unavailable.set(compilation, seen);
      if (seen.has(remote.ref)) continue; // two layers asked at once: reported by the first
      seen.add(remote.ref);
      compilation.report(
        diagnostic(
          "BUILD_CACHE_UNAVAILABLE",
          `the shared build cache ${remote.ref} cannot be read (${err.code}: ${err.message}); layers are packed here`,
          undefined,
          { plugin: "oci-packager" },
        ),
      );
      continue;
    }
    if (result === undefined) continue;
    if ("reason" in result) {
      compilation.report(
        diagnostic(
          "BUILD_CACHE_ENTRY_REJECTED",
          `layer ${expected.title}: the entry of ${result.ref} was not used: ${result.reason}`,
          undefined,
          { plugin: "oci-packager" },
        ),
      );
      continue;
    }
    return true;
  }
  return false;
}

const unavailable = new WeakMap<Compilation, Set<string>>();
