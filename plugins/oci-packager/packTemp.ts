import { type Compilation, oci } from "../../src/core.js";

type BlobCache = Awaited<ReturnType<Compilation["compiler"]["blobCache"]>>;

/**
 * Deflates a tar layer into a fresh temporary blob of the blob cache, reporting `packProgress` against `total`
 * (the tar's estimated size) while it does: the one pack of the fallback packer and of packing ahead. On failure
 * `packLayer` has removed the temp file.
 */
export async function packToTemp(
  compilation: Compilation,
  cache: BlobCache,
  layer: { title: string; entries: Parameters<typeof oci.packLayer>[0]; total: number },
  epoch: number,
): Promise<{ temp: string; result: oci.PackedLayer }> {
  const temp = await cache.layout.tempBlobPath();
  const progress = compilation.hooks.packProgress;
  const { title, total } = layer;
  const result = await oci.packLayer(layer.entries, {
    epoch,
    root: title,
    destination: temp,
    blockStore: cache.deflateBlocks,
    ...(progress.isUsed()
      ? { onProgress: (bytes: number) => progress.call({ title, bytes, total }, compilation) }
      : {}),
  });
  return { temp, result };
}
