import type { Signer } from "@sigstore/sign";

/**
 * What `compiler.hooks.signer` is asked for: a sigstore-js `Signer` (`sign(data) → { signature, key }`) for a build
 * with `--sign-key` or for `agentrc sign`. The built-in key-signer answers when `keyFile` is set; a KMS or keyless
 * (OIDC → Fulcio certificate) plugin taps earlier and returns its own signer (docs/trust.md).
 */
export interface SignerRequest {
  /** The private key file given on the command line (`--key`, `--sign-key`), if any. */
  keyFile?: string;
  /** What is being signed, for messages and for signers that scope keys per repository. */
  reference?: string;
  /** `build` (during a build) or `sign` (`agentrc sign`). */
  purpose: "build" | "sign";
  /** The environment (passphrase variables). */
  env?: Readonly<Record<string, string | undefined>>;
}

export type { Signer };
