import { AgentrcError } from "../diagnostics/AgentrcError.js";
import type { RegistryClient } from "../registry/client.js";
import type { Reference } from "../registry/reference.js";
import { type CopyOptions, copy } from "./copy.js";
import { RegistryTarget } from "./registryTarget.js";
import type { PushImageResult, ReadTarget } from "./types.js";

/**
 * Copies `reference` from `source` to the registry reference `ref` (`push`, `build --push`): under its tag, or by
 * digest. A reference with a digest must name the manifest being pushed (`REGISTRY_DIGEST_MISMATCH`, before any blob
 * moves).
 */
export async function copyToRegistry(
  source: ReadTarget,
  reference: string,
  client: RegistryClient,
  ref: Reference,
  options: Omit<CopyOptions, "tags" | "check"> = {},
): Promise<PushImageResult> {
  const copied = await copy(source, reference, new RegistryTarget(client, ref.repository), {
    ...options,
    tags: ref.tag === undefined ? [] : [ref.tag],
    check: (_manifest, descriptor) => {
      if (ref.digest !== undefined && ref.digest !== descriptor.digest) {
        throw new AgentrcError(
          "REGISTRY_DIGEST_MISMATCH",
          `cannot push to ${ref}: the manifest's digest is ${descriptor.digest}`,
          { hint: "Push by tag, or name the digest of the package you push." },
        );
      }
    },
  });
  const out: PushImageResult = {
    digest: copied.descriptor.digest,
    mediaType: copied.descriptor.mediaType,
    size: copied.descriptor.size,
    reference: `${ref.registry}/${ref.repository}@${copied.descriptor.digest}`,
    blobs: copied.blobs,
  };
  if (ref.tag !== undefined) out.tag = ref.tag;
  return out;
}
