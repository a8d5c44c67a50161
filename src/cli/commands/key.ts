import { resolve } from "node:path";
import { generateKey } from "../../api.js";
import { AgentrcError } from "../../diagnostics/AgentrcError.js";
import { PASSPHRASE_ENV } from "../../trust/keys.js";
import type { Command } from "../context.js";

export const keyGenerateCommand: Command = {
  name: "key generate",
  summary: `Write an ECDSA P-256 key pair: <prefix>.key (mode 0600; encrypted with $${PASSPHRASE_ENV} when --encrypt) and <prefix>.pub.`,
  usage: "agentrc key generate <prefix> [--encrypt] [--json]",
  options: {
    encrypt: {
      type: "boolean",
      description: `encrypt the private key (PKCS#8, AES-256-CBC) with the passphrase in $${PASSPHRASE_ENV}`,
    },
  },
  async run(ctx) {
    const [prefix, ...extra] = ctx.positionals;
    if (!prefix || extra.length > 0)
      return ctx.usage("expected one <prefix> (writes <prefix>.key and <prefix>.pub)");
    let passphrase: string | undefined;
    if (ctx.values.encrypt === true) {
      passphrase = ctx.io.env[PASSPHRASE_ENV];
      if (passphrase === undefined || passphrase === "") {
        throw new AgentrcError("TRUST_KEY_PASSPHRASE", `--encrypt needs a passphrase in $${PASSPHRASE_ENV}`, {
          hint: `Set ${PASSPHRASE_ENV} (it is read from the environment so that it never shows in the process list).`,
        });
      }
    }
    const result = await generateKey(
      resolve(ctx.io.cwd, prefix),
      passphrase === undefined ? {} : { passphrase },
    );
    if (ctx.json) {
      ctx.out(JSON.stringify({ version: 1, ok: true, ...result }, null, 2));
      return 0;
    }
    if (!ctx.quiet) {
      ctx.err(`private key ${result.privateKey} (mode 0600${result.encrypted ? ", encrypted" : ""})`);
      ctx.err(`public key  ${result.publicKey}`);
    }
    ctx.out(result.keyId);
    return 0;
  },
};
