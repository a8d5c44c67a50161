import { type AgentrcPlugin, type Compiler, trust } from "../../src/core.js";

const NAME = "key-signer";

/**
 * The built-in signer (`compiler.hooks.signer`): an ECDSA P-256 private key file (`agentrc sign --key`,
 * `build --sign-key`; encrypted keys take $AGENTRC_KEY_PASSPHRASE) as a sigstore-js `Signer` whose bundles name the
 * key by its hint. A KMS or keyless (OIDC) signer replaces it by tapping the hook before it and returning its own
 * signer (docs/trust.md), or by switching it off (`builtins: { "key-signer": false }`).
 */
export class KeySignerPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.signer.tapPromise(NAME, async (request) => {
      if (request.keyFile === undefined) return undefined;
      const key = await trust.loadPrivateKey(request.keyFile, request.env ? { env: request.env } : {});
      return trust.keySigner(key);
    });
  }
}
