import { resolve } from "node:path";
import { type AgentrcPlugin, type Compiler, canonicalJson, oci, transfer } from "../../src/core.js";

const NAME = "oci-layout-emitter";

/** Index-entry annotation holding the run hints (IMAGE, ISOLATION, …) beside the package, outside its digest. */
export const ANNOTATION_RUN_HINTS = "io.agentrc.run.hints";

/**
 * Writes a built package with one `copy` from the build's files: by default into the local store, tagged with every
 * `-t` reference (untagged without one, listed as `<none>`); with `--output` into a standalone OCI layout (tags
 * become `org.opencontainers.image.ref.name`, the tag part of each reference, default `latest`) or an oci-archive
 * tar. Blobs first, then the manifest, then the index: a failure at any point leaves no partial blob and no tag
 * (every write is temp-then-rename, the index is updated under a lock).
 */
export class OciLayoutEmitterPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.emit.tapPromise(NAME, async (compilation) => {
      const pkg = compilation.package;
      if (!pkg) return;
      const build = compilation.options.build;
      const source = transfer.builtPackageSource(pkg);
      const image = pkg.image;
      const imageTags = (tags: string[], imageTag: (t: string) => string) =>
        image ? { imageTags: tags.map(imageTag) } : {};
      // The package first, then its image (docs/image.md): the image's tags are the package's with `-image`.
      const into = async (
        target: transfer.WriteTarget,
        tags: readonly string[],
        imageTag: (t: string) => string,
      ) => {
        await transfer.copy(source, pkg.descriptor.digest, target, {
          tags,
          referrers: true,
          ...(pkg.runHints.length > 0
            ? { indexAnnotations: { [ANNOTATION_RUN_HINTS]: canonicalJson(pkg.runHints) } }
            : {}),
        });
        if (image) {
          await transfer.copy(transfer.builtPackageSource(image), image.descriptor.digest, target, {
            tags: tags.map(imageTag),
          });
        }
      };
      if (build.output !== undefined) {
        const target = resolve(build.output);
        const tags = build.tags.length > 0 ? build.tags.map(layoutTag) : ["latest"];
        if (build.outputFormat === "oci-archive") {
          const archive = await transfer.ArchiveWriter.create(target);
          try {
            await into(archive, tags, oci.imageTagOf);
            await archive.commit();
          } finally {
            await archive.dispose();
          }
          compilation.emitted = { target, format: "oci-archive", tags, ...imageTags(tags, oci.imageTagOf) };
          return;
        }
        await into(new transfer.LayoutTarget(await oci.OciLayout.create(target)), tags, oci.imageTagOf);
        compilation.emitted = { target, format: "oci", tags, ...imageTags(tags, oci.imageTagOf) };
        return;
      }
      const store = await oci.LocalStore.open(build.store === undefined ? {} : { path: build.store });
      await into(new transfer.LayoutTarget(store.layout), build.tags, oci.imageReference);
      compilation.emitted = {
        target: store.path,
        format: "store",
        tags: build.tags,
        ...imageTags(build.tags, oci.imageReference),
      };
    });
  }
}

/** The tag part of a reference (`host/repo:1.0` → `1.0`), for standalone layouts. */
function layoutTag(ref: string): string {
  const noDigest = ref.split("@")[0]!;
  const colon = noDigest.lastIndexOf(":");
  return colon > noDigest.lastIndexOf("/") ? noDigest.slice(colon + 1) : "latest";
}
