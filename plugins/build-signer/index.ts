import {
  AgentrcError,
  type AgentrcPlugin,
  type Compilation,
  type Compiler,
  type Signer,
  STAGE,
  trust,
} from "../../src/core.js";

const NAME = "build-signer";

/**
 * `build --sign-key <file>` (`options.build.signKey`): asks `compiler.hooks.signer` for a signer early (at
 * `compilation.hooks.resolve` of an agent, before anything is packed), and at `STAGE.ATTACH_SIGN` of
 * `compilation.hooks.attach` turns every unsigned in-toto statement attached so far (the provenance) into a
 * signed DSSE bundle, and adds a signature of the manifest digest. Without a key nothing changes.
 */
export class BuildSignerPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    const signers = new WeakMap<Compilation, Promise<Signer>>();
    /** The build's signer, asked for once: at `resolve` for an agent, so a bad key or passphrase fails before packing. */
    const signerOf = (compilation: Compilation, keyFile: string): Promise<Signer> => {
      let signer = signers.get(compilation);
      if (signer === undefined) {
        signer = askSigner(compiler, compilation, keyFile);
        signers.set(compilation, signer);
      }
      return signer;
    };
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      compilation.hooks.resolve.tapPromise(NAME, async () => {
        const keyFile = compilation.options.build.signKey;
        if (keyFile !== undefined && compilation.mode === "build") await signerOf(compilation, keyFile);
      });
      compilation.hooks.attach.tapPromise({ name: NAME, stage: STAGE.ATTACH_SIGN }, async (attached, pkg) => {
        const keyFile = compilation.options.build.signKey;
        if (keyFile === undefined) return attached;
        const signer = await signerOf(compilation, keyFile);
        const reference = referenceOf(compilation);
        const out: typeof attached = [];
        for (const a of attached) {
          const statement = unsignedStatement(a);
          if (statement === undefined) {
            out.push(a);
            continue;
          }
          const bundle = await trust.signStatement(statement, signer);
          out.push(trust.bundleReferrer(pkg.descriptor, bundle, statement.predicateType));
        }
        out.push(await trust.signatureReferrer(pkg.descriptor, reference, signer));
        return out;
      });
    });
  }
}

function referenceOf(compilation: Compilation): string {
  return compilation.options.build.tags[0] ?? compilation.spec?.agent ?? compilation.packageName ?? "agent";
}

async function askSigner(compiler: Compiler, compilation: Compilation, keyFile: string): Promise<Signer> {
  // The build's environment (the CLI's, or a library caller's) holds the key's passphrase, not process.env.
  const signer = await compiler.hooks.signer.promise({
    keyFile,
    reference: referenceOf(compilation),
    purpose: "build",
    env: compilation.options.env,
  });
  if (signer === undefined) {
    throw new AgentrcError("TRUST_SIGNER_MISSING", `no signer plugin signs with ${keyFile}`, {
      hint: "Check the `builtins` setting: key-signer is switched off and no other signer answered.",
      plugin: NAME,
    });
  }
  return signer;
}

/** The statement of an unsigned in-toto referrer, if `a` is one. */
function unsignedStatement(a: {
  descriptor: { artifactType?: string };
  bytes: Buffer;
  blobs: ReadonlyMap<string, Buffer>;
}): trust.InTotoStatement | undefined {
  if (a.descriptor.artifactType !== trust.IN_TOTO_MEDIA_TYPE) return undefined;
  const manifest = JSON.parse(a.bytes.toString("utf8")) as {
    layers: Array<{ mediaType: string; digest: string }>;
  };
  const layer = manifest.layers.find((l) => l.mediaType === trust.IN_TOTO_MEDIA_TYPE);
  const bytes = layer === undefined ? undefined : a.blobs.get(layer.digest);
  return bytes === undefined ? undefined : (JSON.parse(bytes.toString("utf8")) as trust.InTotoStatement);
}
