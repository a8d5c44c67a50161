import { execFileSync } from "node:child_process";

/** Runs the openssl command line (Debian's openssl), failing the test with its stderr. */
export function openssl(...args: string[]): Buffer {
  return execFileSync("openssl", args, { stdio: ["ignore", "pipe", "pipe"] });
}

/** `openssl genpkey` of a P-256 key in PKCS#8 PEM at `out`; `extra` adds options such as `-aes-256-cbc -pass …`. */
export function opensslP256Key(out: string, ...extra: string[]): Buffer {
  return openssl("genpkey", "-algorithm", "EC", "-pkeyopt", "ec_paramgen_curve:P-256", ...extra, "-out", out);
}
