import {
  createHash,
  createPrivateKey,
  createPublicKey,
  generateKeyPairSync,
  type KeyObject,
} from "node:crypto";
import { open, rm } from "node:fs/promises";
import { AgentrcError, isAgentrcError } from "../diagnostics/AgentrcError.js";
import { decryptCosignPrivateKey, encryptCosignPrivateKey, isCosignPrivateKey } from "./cosignKey.js";

/**
 * ECDSA P-256 keys in PEM, the kind cosign and openssl make: private keys as PKCS#8 (optionally encrypted with a
 * passphrase, AES-256-CBC), SEC1 (`openssl ecparam -genkey`) or cosign's encrypted format, public keys as SPKI (`cosign.pub`, `openssl ec
 * -pubout`). A key is named in bundles by its hint: base64 of the SHA-256 of its DER SPKI, as cosign names a key.
 */
export const PASSPHRASE_ENV = "AGENTRC_KEY_PASSPHRASE";
/** cosign's own variable for its key's password, read for cosign keys when $AGENTRC_KEY_PASSPHRASE is unset. */
export const COSIGN_PASSPHRASE_ENV = "COSIGN_PASSWORD";
/** How `key generate` writes the private key: PKCS#8 PEM (openssl's), or cosign's encrypted format. */
export type PrivateKeyFormat = "pkcs8" | "cosign";

export interface PublicKeyInfo {
  key: KeyObject;
  /** SPKI PEM. */
  pem: string;
  /** base64(sha256(DER SPKI)): the `publicKey.hint` of the bundles this key signs. */
  keyId: string;
  /** Where it came from (a file path, `inline`). */
  source: string;
}

export interface GeneratedKeyPair {
  privateKeyPem: string;
  publicKeyPem: string;
  keyId: string;
}

/**
 * A new ECDSA P-256 key pair. PKCS#8: encrypted (AES-256-CBC) when `passphrase` is non-empty. cosign: always sealed
 * with `passphrase`, which may be empty as in cosign.
 */
export async function generateKeyPair(
  options: { passphrase?: string; format?: PrivateKeyFormat } = {},
): Promise<GeneratedKeyPair> {
  const { passphrase, format = "pkcs8" } = options;
  const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
  const privateKeyPem =
    format === "cosign"
      ? await encryptCosignPrivateKey(privateKey, passphrase ?? "")
      : passphrase === undefined || passphrase === ""
        ? (privateKey.export({ type: "pkcs8", format: "pem" }) as string)
        : (privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase }) as string);
  const publicKeyPem = publicKey.export({ type: "spki", format: "pem" }) as string;
  return { privateKeyPem, publicKeyPem, keyId: keyIdOf(publicKey) };
}

/**
 * Writes `<prefix>.key` (mode 0600) and `<prefix>.pub`, refusing to overwrite either (TRUST_KEY_EXISTS). Nothing is
 * left behind when the second write fails.
 */
export async function writeKeyPair(
  prefix: string,
  pair: GeneratedKeyPair,
): Promise<{ privateKey: string; publicKey: string }> {
  const privateKey = `${prefix}.key`;
  const publicKey = `${prefix}.pub`;
  const written: string[] = [];
  try {
    for (const [path, content, mode] of [
      [privateKey, pair.privateKeyPem, 0o600],
      [publicKey, pair.publicKeyPem, 0o644],
    ] as const) {
      const handle = await open(path, "wx", mode).catch((err: NodeJS.ErrnoException) => {
        if (err.code === "EEXIST") {
          throw new AgentrcError(
            "TRUST_KEY_EXISTS",
            `${path} exists; agentrc key generate never overwrites a key`,
            {
              hint: "Choose another prefix, or remove the old key files first.",
            },
          );
        }
        throw new AgentrcError("TRUST_KEY_WRITE_FAILED", `cannot write ${path}: ${err.code ?? err.message}`, {
          cause: err,
        });
      });
      written.push(path);
      try {
        await handle.writeFile(content);
        await handle.chmod(mode);
      } finally {
        await handle.close();
      }
    }
  } catch (err) {
    for (const path of written) await rm(path, { force: true });
    throw err;
  }
  return { privateKey, publicKey };
}

/** The key id (bundle hint) of a public key: base64 of the SHA-256 of its DER SPKI. */
export function keyIdOf(key: KeyObject): string {
  return createHash("sha256")
    .update(key.export({ type: "spki", format: "der" }))
    .digest("base64");
}

/**
 * Reads a private key file: PKCS#8 or SEC1 PEM, plain or encrypted, or a cosign key (src/trust/cosignKey.ts). An
 * encrypted key takes `passphrase` (default `$AGENTRC_KEY_PASSPHRASE`; for a cosign key then `$COSIGN_PASSWORD`, the
 * variable cosign reads): TRUST_KEY_PASSPHRASE when it is missing or wrong; TRUST_KEY_UNSUPPORTED for anything but
 * ECDSA P-256.
 */
export async function loadPrivateKey(
  path: string,
  options: { passphrase?: string; env?: Readonly<Record<string, string | undefined>> } = {},
): Promise<KeyObject> {
  const pem = await readKeyFile(path);
  const env = options.env ?? process.env;
  if (isCosignPrivateKey(pem)) {
    const passphrase = options.passphrase ?? env[PASSPHRASE_ENV] ?? env[COSIGN_PASSPHRASE_ENV];
    if (passphrase === undefined) {
      throw new AgentrcError("TRUST_KEY_PASSPHRASE", `${path} is a cosign key and no passphrase was given`, {
        hint: `Set ${PASSPHRASE_ENV} (or ${COSIGN_PASSPHRASE_ENV}) to its passphrase; set it empty for a key cosign wrote with an empty password.`,
      });
    }
    const key = await decryptCosignPrivateKey(pem, passphrase, path);
    checkP256(key, path);
    return key;
  }
  if (!/-----BEGIN (ENCRYPTED |EC )?PRIVATE KEY-----/.test(pem)) {
    throw new AgentrcError("TRUST_KEY_INVALID", `${path} holds no PEM private key`, {
      hint: "Pass the private key file (`<prefix>.key` from `agentrc key generate`), not the public key.",
    });
  }
  const passphrase = options.passphrase ?? env[PASSPHRASE_ENV];
  let key: KeyObject;
  try {
    key = createPrivateKey(passphrase === undefined ? { key: pem } : { key: pem, passphrase });
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code ?? "";
    const encrypted = /ENCRYPTED/.test(pem) || /Proc-Type: 4,ENCRYPTED/.test(pem);
    if (encrypted && (code === "ERR_MISSING_PASSPHRASE" || passphrase === undefined)) {
      throw new AgentrcError("TRUST_KEY_PASSPHRASE", `${path} is encrypted and no passphrase was given`, {
        hint: `Set ${PASSPHRASE_ENV} to the key's passphrase.`,
      });
    }
    if (encrypted) {
      throw new AgentrcError("TRUST_KEY_PASSPHRASE", `the passphrase does not decrypt ${path}`, {
        hint: `Check ${PASSPHRASE_ENV}.`,
        cause: err,
      });
    }
    throw new AgentrcError(
      "TRUST_KEY_INVALID",
      `${path} is not a readable private key: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  checkP256(key, path);
  return key;
}

/** Reads a public key (SPKI PEM, as cosign.pub and `openssl ec -pubout` write it); a private key file gives its public half. */
export async function loadPublicKey(path: string): Promise<PublicKeyInfo> {
  return parsePublicKey(await readKeyFile(path), path);
}

/** A public key from PEM text; `source` names it in messages. */
export function parsePublicKey(pem: string, source: string): PublicKeyInfo {
  if (!/-----BEGIN PUBLIC KEY-----/.test(pem)) {
    throw new AgentrcError(
      "TRUST_KEY_INVALID",
      `${source} holds no PEM public key (-----BEGIN PUBLIC KEY-----)`,
      {
        hint: "Pass the public key (`<prefix>.pub` from `agentrc key generate`, or cosign.pub).",
      },
    );
  }
  let key: KeyObject;
  try {
    key = createPublicKey(pem);
  } catch (err) {
    throw new AgentrcError(
      "TRUST_KEY_INVALID",
      `${source} is not a readable public key: ${(err as Error).message}`,
      {
        cause: err,
      },
    );
  }
  checkP256(key, source);
  return { key, pem: key.export({ type: "spki", format: "pem" }) as string, keyId: keyIdOf(key), source };
}

function checkP256(key: KeyObject, source: string): void {
  const curve = key.asymmetricKeyDetails?.namedCurve;
  if (key.asymmetricKeyType !== "ec" || (curve !== "prime256v1" && curve !== "P-256")) {
    throw new AgentrcError(
      "TRUST_KEY_UNSUPPORTED",
      `${source} is a ${key.asymmetricKeyType ?? "unknown"}${curve ? ` ${curve}` : ""} key; agentrc signs and verifies with ECDSA P-256`,
      { hint: "Create an ECDSA P-256 key pair with `agentrc key generate <prefix>`." },
    );
  }
}

/** A PEM key is a few hundred bytes; anything far larger (a device, a wrong file) is refused before it is read whole. */
const MAX_KEY_FILE_BYTES = 64 * 1024;

async function readKeyFile(path: string): Promise<string> {
  try {
    const handle = await open(path, "r");
    try {
      const buffer = Buffer.alloc(MAX_KEY_FILE_BYTES + 1);
      let bytesRead = 0;
      for (;;) {
        const { bytesRead: n } = await handle.read(buffer, bytesRead, buffer.length - bytesRead, null);
        bytesRead += n;
        if (n === 0 || bytesRead === buffer.length) break;
      }
      if (bytesRead > MAX_KEY_FILE_BYTES) {
        throw new AgentrcError(
          "TRUST_KEY_INVALID",
          `${path} is over ${MAX_KEY_FILE_BYTES} bytes, too large for a PEM key`,
          { hint: "Pass the key file itself (`<prefix>.key` or `<prefix>.pub`)." },
        );
      }
      return buffer.subarray(0, bytesRead).toString("utf8");
    } finally {
      await handle.close();
    }
  } catch (err) {
    if (isAgentrcError(err)) throw err;
    throw new AgentrcError("TRUST_KEY_INVALID", `cannot read key file ${path}: ${(err as Error).message}`, {
      cause: err,
    });
  }
}
