import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { dirname, join, resolve } from "node:path";
import { type AgentrcPlugin, type BuiltPackage, type Compiler, canonicalJson, oci } from "../../src/core.js";

const NAME = "oci-layout-emitter";

/** Index-entry annotation holding the run hints (IMAGE, ISOLATION, …) beside the package, outside its digest. */
export const ANNOTATION_RUN_HINTS = "io.agentrc.run.hints";

/**
 * Writes a built package: by default into the local store, tagged with every `-t` reference (untagged without one,
 * listed as `<none>`); with `--output` into a
 * standalone OCI layout (tags become `org.opencontainers.image.ref.name`, the tag part of each reference, default
 * `latest`) or an oci-archive tar. Blobs first, then the manifest, then the index: a failure at any point leaves no
 * partial blob and no tag (every write is temp-then-rename, the index is updated under a lock).
 */
export class OciLayoutEmitterPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.emit.tapPromise(NAME, async (compilation) => {
      const pkg = compilation.package;
      if (!pkg) return;
      const build = compilation.options.build;
      if (build.output !== undefined) {
        const target = resolve(build.output);
        const tags = build.tags.length > 0 ? build.tags.map(layoutTag) : ["latest"];
        if (build.outputFormat === "oci-archive") {
          // Assemble in a sibling temp layout, then archive it; the archive itself is written temp-then-rename.
          const staging = await mkdtemp(join(dirname(target), ".agentrc-archive-"));
          try {
            const layout = await oci.OciLayout.create(staging);
            await writeInto(layout, pkg, tags);
            await oci.writeOciArchive(layout, target);
          } finally {
            await rm(staging, { recursive: true, force: true });
          }
          compilation.emitted = { target, format: "oci-archive", tags };
          return;
        }
        await writeInto(await oci.OciLayout.create(target), pkg, tags);
        compilation.emitted = { target, format: "oci", tags };
        return;
      }
      const store = await oci.LocalStore.open(build.store === undefined ? {} : { path: build.store });
      // Leased: `agentrc prune` running meanwhile keeps these blobs although no index entry names them yet.
      const digests = [pkg.config, ...pkg.layers].map((b) => b.descriptor.digest);
      digests.push(oci.sha256Digest(pkg.manifestBytes));
      await oci.withLease(store.layout, digests, () => writeInto(store.layout, pkg, build.tags));
      compilation.emitted = { target: store.path, format: "store", tags: build.tags };
    });
  }
}

/** The tag part of a reference (`host/repo:1.0` → `1.0`), for standalone layouts. */
function layoutTag(ref: string): string {
  const noDigest = ref.split("@")[0]!;
  const colon = noDigest.lastIndexOf(":");
  return colon > noDigest.lastIndexOf("/") ? noDigest.slice(colon + 1) : "latest";
}

async function writeInto(layout: oci.OciLayout, pkg: BuiltPackage, tags: readonly string[]): Promise<void> {
  // Every tag is checked before anything is written: a bad second tag must not leave the first one behind.
  for (const tag of tags) oci.assertRefName(tag);
  for (const blob of [pkg.config, ...pkg.layers]) {
    if (await layout.hasBlob(blob.descriptor.digest)) continue;
    await layout.putBlob(createReadStream(blob.path), {
      digest: blob.descriptor.digest,
      size: blob.descriptor.size,
    });
  }
  const descriptor = await layout.putManifest(pkg.manifestBytes);
  const entry =
    pkg.runHints.length > 0
      ? { ...descriptor, annotations: { [ANNOTATION_RUN_HINTS]: canonicalJson(pkg.runHints) } }
      : descriptor;
  for (const tag of tags) await layout.tag(tag, entry);
  if (tags.length === 0) {
    // Untagged, like `docker build` without -t: an index entry without a name keeps the package listed and
    // reachable by digest instead of leaving an orphan manifest blob.
    await layout.updateIndex((index) => {
      if (!index.manifests.some((d) => d.digest === entry.digest)) index.manifests.push(entry);
    });
  }
}
