import { execFile } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);

const EC_KEY = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1"];
const RSA_KEY = ["-newkey", "rsa:2048"];

export interface TlsFiles {
  caFile: string;
  certFile: string;
  keyFile: string;
}

/** A private CA and a server certificate for 127.0.0.1 (IP SAN) signed by it, written into `dir`. */
export async function makeServerTls(dir: string): Promise<TlsFiles> {
  const ca = join(dir, "ca.crt");
  const caKey = join(dir, "ca.key");
  const cert = join(dir, "server.crt");
  const key = join(dir, "server.key");
  const csr = join(dir, "server.csr");
  const ext = join(dir, "server.ext");
  await run("openssl", [
    "req",
    "-x509",
    ...EC_KEY,
    "-nodes",
    "-keyout",
    caKey,
    "-out",
    ca,
    "-days",
    "2",
    "-subj",
    "/CN=agentrc test CA",
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
  await run("openssl", ["req", ...EC_KEY, "-nodes", "-keyout", key, "-out", csr, "-subj", "/CN=127.0.0.1"]);
  await writeFile(
    ext,
    "subjectAltName=IP:127.0.0.1\nbasicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\n",
  );
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    csr,
    "-CA",
    ca,
    "-CAkey",
    caKey,
    "-CAcreateserial",
    "-out",
    cert,
    "-days",
    "2",
    "-extfile",
    ext,
  ]);
  return { caFile: ca, certFile: cert, keyFile: key };
}

/** A self-signed signing certificate for the token issuer (ES256 with P-256, or RS256 with RSA 2048). */
export async function makeSigningCert(
  dir: string,
  alg: "ES256" | "RS256",
): Promise<{ certFile: string; keyFile: string }> {
  const certFile = join(dir, "token.crt");
  const keyFile = join(dir, "token.key");
  await run("openssl", [
    "req",
    "-x509",
    ...(alg === "ES256" ? EC_KEY : RSA_KEY),
    "-nodes",
    "-keyout",
    keyFile,
    "-out",
    certFile,
    "-days",
    "2",
    "-subj",
    "/CN=agentrc test token issuer",
  ]);
  return { certFile, keyFile };
}
