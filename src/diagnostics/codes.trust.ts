import type { CodeInfo } from "./codes.js";

/** Diagnostic codes of keys, signatures, provenance and the trust policy (docs/trust.md). Merged into CODES. */
export const TRUST_CODES = {
  TRUST_KEY_INVALID: {
    severity: "error",
    summary: "A key file cannot be read as a PEM ECDSA P-256 key (private: PKCS#8 or SEC1; public: SPKI).",
    hint: "Create a key pair with `agentrc key generate <prefix>` or `openssl ecparam -name prime256v1 -genkey`.",
  },
  TRUST_KEY_UNSUPPORTED: {
    severity: "error",
    summary:
      "The key is of a kind agentrc does not sign with: not ECDSA P-256, or a cosign key sealed with a KDF, cipher or scrypt parameters cosign never writes.",
    hint: "Use an ECDSA P-256 key: PEM (PKCS#8 or SEC1, optionally encrypted) or cosign's cosign.key.",
  },
  TRUST_KEY_PASSPHRASE: {
    severity: "error",
    summary: "An encrypted private key needs a passphrase that was not given, or the passphrase is wrong.",
    hint: "Set AGENTRC_KEY_PASSPHRASE to the key's passphrase (for a cosign key, COSIGN_PASSWORD works too).",
  },
  TRUST_KEY_WRITE_FAILED: {
    severity: "error",
    summary:
      "`agentrc key generate` cannot write a key file (the directory is missing, not a directory, or read-only).",
    hint: "Pass a prefix in a directory that exists and that you may write to.",
  },
  TRUST_KEY_EXISTS: {
    severity: "error",
    summary: "`agentrc key generate` would overwrite an existing key file.",
    hint: "Choose another prefix, or remove the old key files first.",
  },
  TRUST_SIGNER_MISSING: {
    severity: "error",
    summary:
      "Signing was asked for but no signer plugin produced a signer (no key given, or the plugin declined).",
    hint: "Pass --key <private.pem> (sign) or --sign-key <private.pem> (build), or configure a signer plugin.",
  },
  TRUST_SIGNATURE_MISSING: {
    severity: "error",
    summary: "The package has no signature (no Sigstore bundle referrer signing its manifest digest).",
    hint: "Sign it with `agentrc sign <ref> --key <private.pem>`, and push it again so the signature travels.",
  },
  TRUST_KEY_MISMATCH: {
    severity: "error",
    summary:
      "The package is signed, but not by any of the keys it was checked against (a wrong or unknown key).",
    hint: "Check that the public key is the one the publisher signs with.",
  },
  TRUST_BUNDLE_SUBJECT_MISMATCH: {
    severity: "error",
    summary:
      "A signature bundle attached to the package signs another digest (a bundle copied from elsewhere).",
    hint: "Remove the foreign referrer and sign the package itself.",
  },
  TRUST_BUNDLE_TAMPERED: {
    severity: "error",
    summary: "A signature or attestation bundle does not verify: its content or signature was altered.",
    hint: "Do not use the package; fetch it again from its publisher and report the tampering.",
  },
  TRUST_BUNDLE_INVALID: {
    severity: "error",
    summary:
      "A referrer that claims to be a Sigstore bundle is not one (malformed JSON, missing fields, unreadable).",
    hint: "Remove the broken referrer; re-sign the package.",
  },
  TRUST_PROVENANCE_SUBJECT_MISMATCH: {
    severity: "error",
    summary:
      "The package's SLSA provenance describes another artifact (its subject digest is not the manifest's).",
    hint: "The provenance belongs to another build; rebuild the package to record its own.",
  },
  TRUST_POLICY_INVALID: {
    severity: "error",
    summary:
      "The trust policy does not match schemas/trust-policy.schema.json, or a key it names cannot be read.",
    hint: "Fix the policy file (see docs/trust.md); keys are PEM files relative to the policy file.",
  },
  TRUST_POLICY_VIOLATION: {
    severity: "error",
    summary:
      "The trust policy refuses content entering from this scope (unsigned, signed by other keys, or rejected).",
    hint: "Sign the package with a key the policy names, or change the policy for that scope.",
  },
} satisfies Record<string, CodeInfo>;
