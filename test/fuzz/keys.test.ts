import { generateKeyPairSync } from "node:crypto";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import fc from "fast-check";
import { encryptCosignPrivateKey } from "../../src/trust/cosignKey.js";
import { loadPrivateKey, loadPublicKey } from "../../src/trust/keys.js";
import { testdir } from "../helpers/testdir.js";
import { expectHandled, fuzzParameters } from "./settings.js";

const base = await testdir();
const { privateKey, publicKey } = generateKeyPairSync("ec", { namedCurve: "P-256" });
const cosignPem = await encryptCosignPrivateKey(privateKey, "pw");
const cosignDoc = JSON.parse(
  Buffer.from(cosignPem.split("\n").slice(1, -2).join(""), "base64").toString("utf8"),
) as Record<string, unknown>;
const pemBodies = [
  privateKey.export({ type: "pkcs8", format: "pem" }) as string,
  privateKey.export({ type: "sec1", format: "pem" }) as string,
  privateKey.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase: "pw" }) as string,
  publicKey.export({ type: "spki", format: "pem" }) as string,
];

const anyJson = fc.oneof(
  fc.jsonValue({ maxDepth: 3 }),
  fc.string({ maxLength: 40 }),
  fc.base64String({ maxLength: 80 }),
  fc.constantFrom(32768, 65536, 131072, 4194304, 0, -1, 8, 1, "scrypt", "nacl/secretbox", null),
);

/** A cosign key document with one field (at any depth) replaced, removed, or the whole body cut short. */
const mutatedCosignKey = fc
  .record({
    path: fc.constantFrom(
      ["kdf"],
      ["kdf", "name"],
      ["kdf", "params"],
      ["kdf", "params", "N"],
      ["kdf", "params", "r"],
      ["kdf", "salt"],
      ["cipher"],
      ["cipher", "name"],
      ["cipher", "nonce"],
      ["ciphertext"],
    ),
    value: fc.option(anyJson, { nil: undefined }),
    cut: fc.option(fc.nat(), { nil: undefined }),
    label: fc.constantFrom("ENCRYPTED SIGSTORE PRIVATE KEY", "ENCRYPTED COSIGN PRIVATE KEY"),
  })
  .map(({ path, value, cut, label }) => {
    const doc = structuredClone(cosignDoc) as Record<string, unknown>;
    let node = doc;
    for (const key of path.slice(0, -1)) {
      if (typeof node[key] !== "object" || node[key] === null) node[key] = {};
      node = node[key] as Record<string, unknown>;
    }
    const last = path[path.length - 1]!;
    if (value === undefined) delete node[last];
    else node[last] = value;
    let body = Buffer.from(JSON.stringify(doc)).toString("base64");
    if (cut !== undefined) body = body.slice(0, cut % (body.length + 1));
    return `-----BEGIN ${label}-----\n${body}\n-----END ${label}-----\n`;
  });

/** A PEM key with bytes of its body overwritten, or its text cut. */
const mutatedPem = fc
  .record({
    pem: fc.constantFrom(...pemBodies),
    at: fc.nat(),
    junk: fc.string({ minLength: 1, maxLength: 8 }),
    cut: fc.boolean(),
  })
  .map(({ pem, at, junk, cut }) => {
    const i = 30 + (at % Math.max(1, pem.length - 60));
    return cut ? pem.slice(0, i) : pem.slice(0, i) + junk + pem.slice(i + junk.length);
  });

describe("fuzz: hostile key files", () => {
  it("a crafted cosign key or a damaged PEM key is a TRUST_KEY_* error, never a crash", async () => {
    let n = 0;
    await fc.assert(
      fc.asyncProperty(
        fc.oneof(mutatedCosignKey, mutatedPem, fc.string({ maxLength: 200 })),
        async (text) => {
          const file = join(base, `k${n++}.pem`);
          await writeFile(file, text);
          for (const load of [() => loadPrivateKey(file, { passphrase: "pw" }), () => loadPublicKey(file)]) {
            await expectHandled(load, () => JSON.stringify(text), ["TRUST_KEY_"]);
          }
        },
      ),
      fuzzParameters(150),
    );
  });
});
