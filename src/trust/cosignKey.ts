import { createPrivateKey, type KeyObject, randomBytes, scrypt } from "node:crypto";
import { xsalsa20poly1305 } from "@noble/ciphers/salsa";
import { AgentrcError } from "../diagnostics/AgentrcError.js";

/**
 * cosign's private-key format, the `encrypted` package of go-securesystemslib
 * (https://github.com/secure-systems-lab/go-securesystemslib/tree/main/encrypted): a PEM block whose body is JSON
 * `{kdf: {name: "scrypt", params: {N, r, p}, salt}, cipher: {name: "nacl/secretbox", nonce}, ciphertext}` (byte
 * fields in standard base64). scrypt turns the passphrase into a 32-byte key; NaCl secretbox (XSalsa20-Poly1305)
 * seals the PKCS#8 DER of the private key. cosign 2 labels the block ENCRYPTED SIGSTORE PRIVATE KEY, cosign 1
 * ENCRYPTED COSIGN PRIVATE KEY. An empty passphrase is allowed, as cosign allows it.
 */
export const COSIGN_PEM_LABEL = "ENCRYPTED SIGSTORE PRIVATE KEY";
const COSIGN_PEM_BEGIN = /-----BEGIN ENCRYPTED (?:SIGSTORE|COSIGN) PRIVATE KEY-----/;
const COSIGN_PEM = /-----BEGIN (ENCRYPTED (?:SIGSTORE|COSIGN) PRIVATE KEY)-----([\s\S]*?)-----END \1-----/;

/**
 * The only scrypt parameters go-securesystemslib reads or writes (legacy 2^15, standard 2^16, OWASP 2^17; r 8, p 1).
 * Anything else is refused before deriving, so that a crafted file cannot make agentrc spend minutes or gigabytes.
 */
const ACCEPTED_SCRYPT_N = new Set([32768, 65536, 131072]);
const WRITTEN_SCRYPT = { N: 65536, r: 8, p: 1 } as const;
const SALT_BYTES = 32;
const NONCE_BYTES = 24;

export function isCosignPrivateKey(pem: string): boolean {
  return COSIGN_PEM_BEGIN.test(pem);
}

/** Decrypts a cosign private key. TRUST_KEY_PASSPHRASE when the passphrase does not open it. */
export async function decryptCosignPrivateKey(
  pem: string,
  passphrase: string,
  source: string,
): Promise<KeyObject> {
  const sealed = parseCosignPem(pem, source);
  const key = await deriveKey(passphrase, sealed.salt, sealed.N);
  let der: Uint8Array;
  try {
    der = xsalsa20poly1305(key, sealed.nonce).decrypt(sealed.ciphertext);
  } catch {
    throw new AgentrcError(
      "TRUST_KEY_PASSPHRASE",
      `the passphrase does not decrypt ${source} (cosign key: the secretbox did not open)`,
      { hint: "Check $AGENTRC_KEY_PASSPHRASE (or $COSIGN_PASSWORD); a damaged key file fails the same way." },
    );
  }
  try {
    return createPrivateKey({ key: Buffer.from(der), format: "der", type: "pkcs8" });
  } catch (err) {
    throw new AgentrcError(
      "TRUST_KEY_INVALID",
      `${source} decrypts, but not to a PKCS#8 private key: ${(err as Error).message}`,
      { cause: err, hint: "The file is not a cosign private key; export the key again with `cosign`." },
    );
  }
}

/** A cosign private key (ENCRYPTED SIGSTORE PRIVATE KEY, scrypt N=2^16) that `cosign sign --key` reads. */
export async function encryptCosignPrivateKey(privateKey: KeyObject, passphrase: string): Promise<string> {
  const salt = randomBytes(SALT_BYTES);
  const nonce = randomBytes(NONCE_BYTES);
  const key = await deriveKey(passphrase, salt, WRITTEN_SCRYPT.N);
  const der = privateKey.export({ type: "pkcs8", format: "der" });
  const ciphertext = xsalsa20poly1305(key, nonce).encrypt(der);
  const body = JSON.stringify({
    kdf: { name: "scrypt", params: WRITTEN_SCRYPT, salt: salt.toString("base64") },
    cipher: { name: "nacl/secretbox", nonce: nonce.toString("base64") },
    ciphertext: Buffer.from(ciphertext).toString("base64"),
  });
  const lines =
    Buffer.from(body)
      .toString("base64")
      .match(/.{1,64}/g) ?? [];
  return `-----BEGIN ${COSIGN_PEM_LABEL}-----\n${lines.join("\n")}\n-----END ${COSIGN_PEM_LABEL}-----\n`;
}

interface SealedKey {
  N: number;
  salt: Buffer;
  nonce: Buffer;
  ciphertext: Buffer;
}

function parseCosignPem(pem: string, source: string): SealedKey {
  const invalid = (why: string) =>
    new AgentrcError("TRUST_KEY_INVALID", `${source} is not a readable cosign private key: ${why}`, {
      hint: "Pass the cosign.key that `cosign generate-key-pair` wrote, unchanged.",
    });
  const block = COSIGN_PEM.exec(pem);
  if (block === null) throw invalid("the PEM block has no matching -----END line (the file is cut short?)");
  const base64Body = block?.[2]?.replace(/\s+/g, "") ?? "";
  if (!/^[A-Za-z0-9+/]+={0,2}$/.test(base64Body)) throw invalid("the PEM body is not base64");
  let doc: unknown;
  try {
    doc = JSON.parse(Buffer.from(base64Body, "base64").toString("utf8"));
  } catch {
    throw invalid("the PEM body is not JSON");
  }
  const d = doc as {
    kdf?: { name?: unknown; params?: { N?: unknown; r?: unknown; p?: unknown }; salt?: unknown };
    cipher?: { name?: unknown; nonce?: unknown };
    ciphertext?: unknown;
  };
  if (d?.kdf?.name !== "scrypt" || d.cipher?.name !== "nacl/secretbox") {
    throw new AgentrcError(
      "TRUST_KEY_UNSUPPORTED",
      `${source} uses kdf ${JSON.stringify(d?.kdf?.name)} and cipher ${JSON.stringify(d?.cipher?.name)}; agentrc reads cosign keys sealed with scrypt and nacl/secretbox`,
      { hint: "Re-export the key with cosign, or generate one with `agentrc key generate --format cosign`." },
    );
  }
  const { N, r, p } = d.kdf.params ?? {};
  if (typeof N !== "number" || !ACCEPTED_SCRYPT_N.has(N) || r !== 8 || p !== 1) {
    throw new AgentrcError(
      "TRUST_KEY_UNSUPPORTED",
      `${source} asks for scrypt parameters ${JSON.stringify(d.kdf.params ?? null)}; cosign writes N 32768, 65536 or 131072 with r 8, p 1, and agentrc reads no others`,
      { hint: "A key with other parameters was not written by cosign; re-export it with cosign." },
    );
  }
  const salt = base64Field(d.kdf.salt);
  const nonce = base64Field(d.cipher.nonce);
  const ciphertext = base64Field(d.ciphertext);
  if (!salt || salt.length === 0) throw invalid("kdf.salt is missing or not base64");
  if (!nonce || nonce.length !== NONCE_BYTES)
    throw invalid(`cipher.nonce is not ${NONCE_BYTES} base64 bytes`);
  if (!ciphertext || ciphertext.length <= 16) throw invalid("ciphertext is missing or too short");
  return { N, salt, nonce, ciphertext };
}

function base64Field(value: unknown): Buffer | undefined {
  if (typeof value !== "string" || !/^[A-Za-z0-9+/]*={0,2}$/.test(value)) return undefined;
  return Buffer.from(value, "base64");
}

function deriveKey(passphrase: string, salt: Buffer, N: number): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    // maxmem: scrypt needs 128·N·r bytes (128 MiB at N 2^17), above Node's 32 MiB default.
    scrypt(passphrase, salt, 32, { N, r: 8, p: 1, maxmem: 256 * N * 8 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}
