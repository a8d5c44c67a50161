import { RegistryClient, type RegistryClientOptions } from "./client.js";
import type { Reference } from "./reference.js";

const SHA256 = /^sha256:[a-f0-9]{64}$/;

/**
 * The manifest digest a reference points at now: HEAD, then GET when the registry answers HEAD without a digest or
 * refuses it (an unreachable registry is not retried with GET). Used to pin tags at lock time.
 */
export async function resolveManifestDigest(
  ref: Reference,
  options: RegistryClientOptions = {},
): Promise<string> {
  const client = new RegistryClient(ref.registry, options);
  try {
    let digest: string | undefined;
    try {
      digest = (await client.headManifest(ref.repository, ref.target))?.digest;
    } catch (e) {
      if ((e as { code?: string }).code === "REGISTRY_UNREACHABLE") throw e;
      digest = (await client.getManifest(ref.repository, ref.target)).digest;
    }
    if (digest === undefined) throw new Error(`${ref} was not found`);
    if (!SHA256.test(digest)) throw new Error(`the registry answered digest ${digest}`);
    return digest;
  } finally {
    await client.close();
  }
}
