import { resolve } from "node:path";
import { generateKey } from "../../api.js";
import { AgentrcError } from "../../diagnostics/AgentrcError.js";
import { COSIGN_PASSPHRASE_ENV, PASSPHRASE_ENV, type PrivateKeyFormat } from "../../trust/keys.js";
import type { Command } from "../context.js";

const FORMATS: readonly PrivateKeyFormat[] = ["pkcs8", "cosign"];

export const keyGenerateCommand: Command = {
  name: "key generate",
  summary: `Write an ECDSA P-256 key pair: <prefix>.key (mode 0600; encrypted with $${PASSPHRASE_ENV} when --encrypt or --format cosign) and <prefix>.pub.`,
  usage: "agentrc key generate <prefix> [--encrypt] [--format pkcs8|cosign] [--json]",
  options: {
    encrypt: {
      type: "boolean",
      description: `encrypt the private key (PKCS#8, AES-256-CBC) with the passphrase in $${PASSPHRASE_ENV}`,
    },
    format: {
      type: "string",
      value: "<pkcs8|cosign>",
      description: `private key format: pkcs8 (default, as openssl writes) or cosign (cosign's encrypted key, which \`cosign sign --key\` reads; the passphrase is $${PASSPHRASE_ENV} or $${COSIGN_PASSPHRASE_ENV} and may be empty)`,
    },
  },
  async run(ctx) {
    const [prefix, ...extra] = ctx.positionals;
    if (!prefix || extra.length > 0)
      return ctx.usage("expected one <prefix> (writes <prefix>.key and <prefix>.pub)");
    const format = (ctx.values.format ?? "pkcs8") as PrivateKeyFormat;
    if (!FORMATS.includes(format))
      return ctx.usage(`--format must be pkcs8 or cosign, got "${String(format)}"`);
    let passphrase: string | undefined;
    if (format === "cosign") {
      passphrase = ctx.io.env[PASSPHRASE_ENV] ?? ctx.io.env[COSIGN_PASSPHRASE_ENV];
      if (passphrase === undefined) {
        throw new AgentrcError(
          "TRUST_KEY_PASSPHRASE",
          `--format cosign needs a passphrase in $${PASSPHRASE_ENV} or $${COSIGN_PASSPHRASE_ENV}`,
          {
            hint: `Set ${PASSPHRASE_ENV}; an empty value writes a key with an empty password, as \`COSIGN_PASSWORD= cosign generate-key-pair\` does.`,
          },
        );
      }
    } else if (ctx.values.encrypt === true) {
      passphrase = ctx.io.env[PASSPHRASE_ENV];
      if (passphrase === undefined || passphrase === "") {
        throw new AgentrcError("TRUST_KEY_PASSPHRASE", `--encrypt needs a passphrase in $${PASSPHRASE_ENV}`, {
          hint: `Set ${PASSPHRASE_ENV} (it is read from the environment so that it never shows in the process list).`,
        });
      }
    }
    const result = await generateKey(resolve(ctx.io.cwd, prefix), {
      format,
      ...(passphrase === undefined ? {} : { passphrase }),
    });
    if (ctx.json) {
      ctx.out(JSON.stringify({ version: 1, ok: true, ...result }, null, 2));
      return 0;
    }
    if (!ctx.quiet) {
      const how = format === "cosign" ? ", cosign format" : result.encrypted ? ", encrypted" : "";
      ctx.err(`private key ${result.privateKey} (mode 0600${how})`);
      ctx.err(`public key  ${result.publicKey}`);
    }
    ctx.out(result.keyId);
    return 0;
  },
};
