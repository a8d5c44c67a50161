import { createHash } from "node:crypto";
import { rm } from "node:fs/promises";
import {
  AgentrcError,
  type AgentrcPlugin,
  type Compilation,
  type Compiler,
  diagnostic,
  type LayerPlan,
  layerInputDigests,
  oci,
  type PackageConfig,
  type PackedBlob,
  RegistryLayerCache,
  type SharedCacheOffer,
  STAGE,
} from "../../src/core.js";
import { LayersPackedAhead, layerKey, packAhead } from "./packAhead.js";
import { packToTemp } from "./packTemp.js";
import { planLayers } from "./plan.js";
import { riskTier } from "./risk.js";
import { guardRiskTier } from "./riskFloor.js";

const NAME = "oci-packager";

/**
 * Turns the selected files into the package (docs/package.md): the lock's `layers` section (the input digest of
 * every layer), the default layer plan (first, at `STAGE.LAYERS_DEFAULT_PLAN`), deterministic tar+gzip layers
 * (reused from the blob cache when their inputs are unchanged; last, at `STAGE.PACK_FALLBACK`, so any other tap —
 * a remote cache, a custom packer — is asked first), the package config with its file index, and the manifest
 * annotations with the derived risk tier, which no later tap may lower (riskFloor.ts).
 */
export class OciPackagerPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    const pending = new Set<LayersPackedAhead>();
    const offers = new WeakMap<Compilation, SharedCacheOffer[]>();
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      const offered: SharedCacheOffer[] = [];
      offers.set(compilation, offered);
      const epoch = oci.parseSourceDateEpoch(compilation.options.env.SOURCE_DATE_EPOCH);
      let compressor: string | undefined;
      const compressorOnce = () => {
        compressor ??= compressorKey(compilation);
        return compressor;
      };
      const ahead = new LayersPackedAhead();
      if (compilation.mode === "build") {
        pending.add(ahead);
        compilation.hooks.check.tapPromise({ name: NAME, stage: STAGE.CHECK_PACK_AHEAD }, () =>
          packAhead(compilation, { epoch, compressor: compressorOnce(), into: ahead }),
        );
      }
      compilation.hooks.lock.tapPromise(NAME, async (lock) => ({
        ...lock,
        layers: await layerInputDigests(compilation),
      }));
      compilation.hooks.layers.tapPromise({ name: NAME, stage: STAGE.LAYERS_DEFAULT_PLAN }, async (plan) => {
        compressorOnce();
        return [...(await planLayers(compilation)), ...plan];
      });
      compilation.hooks.packLayer.tapPromise({ name: NAME, stage: STAGE.PACK_FALLBACK }, (layer) =>
        layer.kind === "blob"
          ? compiler.putBlob(layer.bytes, layer.mediaType).then((b) => withTitle(b, layer.title))
          : packTarLayer(compilation, layer, epoch, compressorOnce(), ahead, offered),
      );
      compilation.hooks.packageConfig.tapPromise(NAME, async (config) => fileIndex(compilation, config));
      compilation.hooks.annotations.tapPromise(NAME, async (user) => annotations(compilation, user, epoch));
      guardRiskTier(compilation, NAME);
    });
    // `--cache-to`: once the package is emitted, its layers join the shared build cache (docs/cache.md).
    compiler.hooks.done.tapPromise(NAME, async (compilation) => {
      const to = compilation.options.build.cacheTo;
      const layers = offers.get(compilation) ?? [];
      if (
        to === undefined ||
        compilation.hasErrors() ||
        compilation.emitted === undefined ||
        layers.length === 0
      )
        return;
      const remote = RegistryLayerCache.open(to, compilation.options.registry);
      try {
        await remote.publish(layers);
      } finally {
        await remote.close();
      }
    });
    // Layers packed ahead but never claimed (the build stopped at a secret or another error) leave nothing behind.
    compiler.hooks.done.tapPromise(NAME, async () => {
      for (const ahead of pending) await ahead.discard();
      pending.clear();
    });
    compiler.hooks.failed.tap(NAME, () => {
      for (const ahead of pending) ahead.discardSync();
      pending.clear();
    });
  }
}

function withTitle(blob: PackedBlob, title: string, extra: Record<string, string> = {}): PackedBlob {
  return {
    ...blob,
    descriptor: { ...blob.descriptor, annotations: { [oci.ANNOTATION_TITLE]: title, ...extra } },
  };
}

/**
 * The compressor as the layer cache must know it: `COMPRESSOR_ID` when this Node's zlib passes the golden-vector
 * self-test, else that id plus a fingerprint of the bytes it writes (a distribution Node linked to another zlib
 * sharing the cache must not be handed blobs another zlib compressed, nor hand its own to it). Warns once per build.
 */
function compressorKey(compilation: Compilation): string {
  const fingerprint = createHash("sha256").update(oci.goldenGzip()).digest("hex");
  if (fingerprint === oci.GOLDEN_GZIP_SHA256) return oci.COMPRESSOR_ID;
  compilation.report(
    diagnostic(
      "OCI_ZLIB_NONSTANDARD",
      `this Node.js (${process.version}, zlib ${process.versions.zlib}) compresses differently from the reference build: compressed layer digests will differ from other machines' (diffIDs do not)`,
      undefined,
      { plugin: NAME },
    ),
  );
  return `${oci.COMPRESSOR_ID}+${fingerprint.slice(0, 16)}`;
}

async function packTarLayer(
  compilation: Compilation,
  layer: Extract<LayerPlan, { kind: "tar" }>,
  epoch: number,
  compressor: string,
  ahead: LayersPackedAhead,
  offered: SharedCacheOffer[],
): Promise<PackedBlob> {
  const cache = await compilation.compiler.blobCache();
  const key = layerKey({
    mediaType: layer.mediaType,
    compressor,
    epoch,
    root: layer.title,
    entries: layer.entries.map((e) => ({
      path: e.path,
      executable: e.executable ?? false,
      digest: e.digest,
    })),
  });
  let packed = await cache.lookup(key);
  const cached = packed !== undefined;
  const early = ahead.take(key);
  if (packed && early) await rm(early.temp, { force: true });
  if (!packed) {
    let result: oci.PackedLayer;
    let temp: string;
    if (early) {
      // Packed during `check` from the very bytes that were digested and scanned: not read again.
      ({ temp, result } = early);
    } else {
      ({ temp, result } = await packToTemp(
        compilation,
        cache,
        { title: layer.title, entries: layer.entries.map(verifiedEntry), total: estimatedTarSize(layer) },
        epoch,
      ));
    }
    await cache.commitBlob(temp, { digest: result.digest, size: result.size });
    await cache.deflateBlocks.record(result.digest, result.blocks);
    packed = {
      digest: result.digest,
      size: result.size,
      diffId: result.diffId,
      uncompressedSize: result.uncompressedSize,
    };
    await cache.record(key, packed);
  }
  offered.push({ key, mediaType: layer.mediaType, ...packed, path: cache.blobPath(packed.digest) });
  return withTitle(
    {
      descriptor: { mediaType: layer.mediaType, digest: packed.digest, size: packed.size },
      path: cache.blobPath(packed.digest),
      diffId: packed.diffId,
      uncompressedSize: packed.uncompressedSize,
      cached,
    },
    layer.title,
    { [oci.ANNOTATION_ORAS_UNPACK]: "true", [oci.ANNOTATION_ORAS_DIGEST]: packed.diffId },
  );
}

/** A tar's size without extended headers: a 512-byte header and padded contents per entry, two zero blocks. */
function estimatedTarSize(layer: Extract<LayerPlan, { kind: "tar" }>): number {
  return layer.entries.reduce((n, e) => n + 512 + Math.ceil(e.size / 512) * 512, 1024);
}

/**
 * The entry with its content checked against the digest it was planned with (the cache key and the file index use
 * that digest): a file rewritten after it was digested fails the pack instead of being cached under the old digest.
 */
function verifiedEntry(
  entry: Extract<LayerPlan, { kind: "tar" }>["entries"][number],
): Extract<LayerPlan, { kind: "tar" }>["entries"][number] {
  const content = entry.content;
  const changed = () =>
    new AgentrcError(
      "PACK_INPUT_CHANGED",
      `${entry.path} changed while the package was being built (it no longer hashes to ${entry.digest})`,
      { hint: "Build again once nothing is writing to the agent's files." },
    );
  if (content === undefined || typeof content !== "function") {
    const bytes = content ?? Buffer.alloc(0);
    if (`sha256:${createHash("sha256").update(bytes).digest("hex")}` !== entry.digest) throw changed();
    return entry;
  }
  return {
    ...entry,
    content: async function* () {
      const hash = createHash("sha256");
      for await (const chunk of await content()) {
        hash.update(chunk as Buffer);
        yield chunk as Buffer;
      }
      if (`sha256:${hash.digest("hex")}` !== entry.digest) throw changed();
    },
  };
}

/** Lists every packed file (path inside the package, sha256, size, mode, layer) so verify and diff need no layers. */
async function fileIndex(compilation: Compilation, config: PackageConfig): Promise<PackageConfig> {
  const files = compilation.layerPlan.flatMap((layer) =>
    layer.kind === "blob"
      ? [
          {
            path: layer.title,
            sha256: `sha256:${createHash("sha256").update(layer.bytes).digest("hex")}`,
            size: layer.bytes.length,
            mode: 0o644,
            layer: layer.title,
          },
        ]
      : layer.entries.map((e) => ({
          path: e.path,
          sha256: e.digest,
          size: e.size,
          mode: e.executable ? 0o755 : 0o644,
          layer: layer.title,
        })),
  );
  files.sort((a, b) => Buffer.compare(Buffer.from(a.path), Buffer.from(b.path)));
  return { ...config, files, builder: { ...config.builder, compression: oci.COMPRESSOR_ID } };
}

function annotations(
  compilation: Compilation,
  user: Record<string, string>,
  epoch: number,
): Record<string, string> {
  const spec = compilation.spec;
  const out: Record<string, string> = {
    [oci.ANNOTATION_AGENTFILE_VERSION]: spec.agentfileVersion,
    [oci.ANNOTATION_AGENT_NAME]: spec.agent ?? "",
    [oci.ANNOTATION_RISK_TIER]: riskTier(compilation),
    [oci.ANNOTATION_TITLE]: spec.agent ?? "",
  };
  const base = compilation.resolvedLock?.base_image;
  if (base) out[oci.ANNOTATION_BASE_DIGEST] = base.digest;
  const raw = compilation.options.env.SOURCE_DATE_EPOCH;
  if (raw !== undefined && raw !== "") {
    out[oci.ANNOTATION_CREATED] = new Date(epoch * 1000).toISOString().replace(/\.000Z$/, "Z");
  }
  // The user's annotations (config `build.annotations`) may set the org.opencontainers.image.* descriptions but
  // never the io.agentrc.* facts derived from the inputs.
  for (const [k, v] of Object.entries(user)) if (!k.startsWith("io.agentrc.") || !(k in out)) out[k] = v;
  return out;
}
