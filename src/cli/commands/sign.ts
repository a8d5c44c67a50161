import { resolve } from "node:path";
import { sign } from "../../api.js";
import { printable } from "../../util/terminal.js";
import { type Command, storePath } from "../context.js";
import { PACKAGE_SOURCE_OPTIONS } from "../packageFlags.js";
import { REGISTRY_OPTIONS, REGISTRY_USAGE, registryOptions } from "../registryFlags.js";

export const signCommand: Command = {
  name: "sign",
  summary:
    "Sign a package's manifest digest (Sigstore bundle) and attach the signature as a referrer where the package is: the local store, an OCI layout, or its registry.",
  usage: `agentrc sign <ref | oci:<dir>[:<tag>]> --key <private-key> [--remote] [--store <dir>] ${REGISTRY_USAGE} [--json]`,
  options: {
    key: {
      type: "string",
      value: "<private-key>",
      description:
        "ECDSA P-256 private key ($AGENTRC_KEY_PASSPHRASE if encrypted); a signer plugin may sign without it",
    },
    ...PACKAGE_SOURCE_OPTIONS,
    ...REGISTRY_OPTIONS,
  },
  async run(ctx) {
    const [target, ...extra] = ctx.positionals;
    if (!target || extra.length > 0) return ctx.usage("expected one package reference");
    if (ctx.values.key === "") return ctx.usage("--key needs the private key file");
    const result = await sign(target, {
      ...registryOptions(ctx),
      store: storePath(ctx),
      cwd: ctx.io.cwd,
      ...(ctx.values.remote === true ? { remote: true } : {}),
      ...(typeof ctx.values.key === "string" ? { key: resolve(ctx.io.cwd, ctx.values.key) } : {}),
      ...(typeof ctx.values.config === "string"
        ? { configFile: resolve(ctx.io.cwd, ctx.values.config) }
        : {}),
    });
    if (ctx.json) {
      ctx.out(JSON.stringify({ version: 1, ok: true, ...result }, null, 2));
      return 0;
    }
    if (!ctx.quiet) {
      ctx.err(
        printable(
          `signed ${result.ref} ${result.digest}${result.keyId ? ` with key ${result.keyId}` : ""}; signature ${result.signature.digest} attached in the ${result.attachedIn}`,
        ),
      );
    }
    ctx.out(result.signature.digest);
    return 0;
  },
};
