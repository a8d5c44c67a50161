import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { type AttachedArtifact, attachReferrer } from "../oci/referrers.js";
import { copy } from "../transfer/copy.js";
import { FilesSource } from "../transfer/filesSource.js";
import { RegistryTarget } from "../transfer/registryTarget.js";
import type { OpenedPackage } from "./open.js";

/**
 * Attaches a referrer (a signature, an attestation) to an opened package where the package is: in its layout (the
 * local store, an OCI layout) as an untagged referrer entry, or in its registry repository by digest (the client
 * keeps the `sha256-<hex>` fallback tag when the registry has no referrers API). An oci-archive or a source tree
 * cannot take one (PACKAGE_SOURCE_UNSUPPORTED).
 */
export async function attachToPackage(
  pkg: OpenedPackage,
  artifact: AttachedArtifact,
): Promise<"store" | "layout" | "registry"> {
  if ((pkg.kind === "store" || pkg.kind === "layout") && pkg.layout !== undefined) {
    await attachReferrer(pkg.layout, pkg.descriptor, artifact);
    return pkg.kind;
  }
  if (pkg.kind === "registry" && pkg.attachments instanceof RegistryTarget) {
    const source = new FilesSource(
      { descriptor: artifact.descriptor, bytes: artifact.bytes },
      new Map(),
      "the signature",
      [artifact],
    );
    await copy(source, artifact.descriptor.digest, pkg.attachments);
    return "registry";
  }
  throw new AgentrcError(
    "PACKAGE_SOURCE_UNSUPPORTED",
    `${pkg.ref} is ${pkg.kind === "archive" ? "an oci-archive" : "a source tree"}; a signature is attached to a package in the local store, an OCI layout or a registry`,
    { hint: "Sign the package in the store (agentrc build, then agentrc sign <ref>) or in its registry." },
  );
}
