import {
  type AgentrcPlugin,
  type Compilation,
  type Compiler,
  oci,
  registry,
  transfer,
} from "../../src/core.js";

const NAME = "registry-publisher";

/**
 * Pushes a freshly built package to registries on `compiler.hooks.publish` (`agentrc build --push`): a `copy` from
 * the build's files to each reference, with `compilation.options.registry` (TLS, CA, credentials, concurrency). One
 * client per registry host (one connection pool and token cache); blobs the registry has are skipped after a HEAD,
 * the others upload in parallel, the manifest goes last. A second reference in another repository of the same
 * registry mounts the blobs from the first instead of uploading them again, and the first mounts the layers an agent
 * reuses from its FROM base from the base's repository when the base lives in that registry. With image mode the image follows each
 * package, at `<tag>-image`.
 */
export class RegistryPublisherPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.publish.tapPromise(NAME, async (compilation, request) => {
      const pkg = compilation.package;
      if (!pkg) return;
      const { concurrency, ...clientOptions } = compilation.options.registry;
      const source = transfer.builtPackageSource(pkg);
      const refs = request.references.map((r) => registry.parseReference(r));
      const clients = new Map<string, registry.RegistryClient>();
      const firstRepository = new Map<string, string>();
      try {
        for (const [i, ref] of refs.entries()) {
          let client = clients.get(ref.registry);
          if (!client) {
            client = new registry.RegistryClient(ref.registry, clientOptions);
            clients.set(ref.registry, client);
          }
          // The first push to a registry mounts the layers reused from the FROM base, when it lives there.
          const mountFrom = firstRepository.get(ref.registry) ?? baseRepository(compilation, ref.registry);
          const written = request.references[i]!;
          const result = await transfer.copyToRegistry(source, pkg.descriptor.digest, client, ref, {
            ...(concurrency === undefined ? {} : { concurrency }),
            referrers: true,
            ...(mountFrom === undefined ? {} : { mountFrom }),
            ...(request.onProgress ? { onProgress: (e) => request.onProgress!(e, written) } : {}),
          });
          if (!firstRepository.has(ref.registry)) firstRepository.set(ref.registry, ref.repository);
          request.results.push(result);
          if (pkg.image) {
            // Image mode (docs/image.md): the image beside the package, at `<tag>-image`; its directory layers are
            // the package's blobs, which the registry has by now.
            const imageRef = registry.parseReference(oci.imageReference(ref.toString()));
            request.results.push(
              await transfer.copyToRegistry(
                transfer.builtPackageSource(pkg.image),
                pkg.image.descriptor.digest,
                client,
                imageRef,
                {
                  ...(concurrency === undefined ? {} : { concurrency }),
                  ...(request.onProgress
                    ? { onProgress: (e) => request.onProgress!(e, imageRef.toString()) }
                    : {}),
                },
              ),
            );
          }
        }
      } finally {
        await Promise.all([...clients.values()].map((c) => c.close()));
      }
    });
  }
}

/** The FROM base's repository when it lives in `host`: the blobs an agent reuses from it can be mounted. */
function baseRepository(compilation: Compilation, host: string): string | undefined {
  const base = compilation.base;
  if (!base) return undefined;
  try {
    const ref = registry.parseReference(base.ref);
    return ref.registry === host ? ref.repository : undefined;
  } catch {
    return undefined;
  }
}
