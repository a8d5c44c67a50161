import { type AgentrcPlugin, type Compiler, oci, registry } from "../../src/core.js";

const NAME = "registry-publisher";

/**
 * Pushes a freshly built package to registries on `compiler.hooks.publish` (`agentrc build --push`), straight from
 * the blobs the build produced: one client per registry host (one connection pool and token cache), blobs the
 * registry has are skipped after a HEAD, the others upload in parallel, the manifest goes last. A second reference
 * in another repository of the same registry mounts the blobs from the first instead of uploading them again.
 */
export class RegistryPublisherPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.publish.tapPromise(NAME, async (compilation, request) => {
      const pkg = compilation.package;
      if (!pkg) return;
      const blobs: registry.NamedBlob[] = [pkg.config, ...pkg.layers].map((b, i) => ({
        source: registry.fileBlob(b.path, b.descriptor.digest, b.descriptor.size),
        title: i === 0 ? "config" : (b.descriptor.annotations?.[oci.ANNOTATION_TITLE] ?? b.descriptor.digest),
      }));
      const refs = request.references.map((r) => registry.parseReference(r));
      const clients = new Map<string, registry.RegistryClient>();
      const firstRepository = new Map<string, string>();
      try {
        for (const [i, ref] of refs.entries()) {
          let client = clients.get(ref.registry);
          if (!client) {
            client = new registry.RegistryClient(ref.registry, request.registry);
            clients.set(ref.registry, client);
          }
          const mountFrom = firstRepository.get(ref.registry);
          const written = request.references[i]!;
          const result = await registry.pushImage(
            client,
            ref,
            { manifest: pkg.manifestBytes, mediaType: pkg.descriptor.mediaType, blobs },
            {
              ...(request.concurrency === undefined ? {} : { concurrency: request.concurrency }),
              ...(mountFrom === undefined ? {} : { mountFrom }),
              ...(request.onProgress ? { onProgress: (e) => request.onProgress!(e, written) } : {}),
            },
          );
          if (!firstRepository.has(ref.registry)) firstRepository.set(ref.registry, ref.repository);
          request.results.push(result);
        }
      } finally {
        await Promise.all([...clients.values()].map((c) => c.close()));
      }
    });
  }
}
