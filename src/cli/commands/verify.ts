import { resolve } from "node:path";
import { verify } from "../../api.js";
import { printable } from "../../util/terminal.js";
import { type Command, storePath } from "../context.js";
import { PACKAGE_SOURCE_OPTIONS } from "../packageFlags.js";
import { REGISTRY_OPTIONS, REGISTRY_USAGE, registryOptions } from "../registryFlags.js";
import { TRUST_POLICY_FLAG, trustPolicyFile } from "../trustFlags.js";

export const verifyCommand: Command = {
  name: "verify",
  summary:
    "Check a package against itself (every digest, the file index, policy hash, lock, annotations); --rebuild <dir> also rebuilds it from source.",
  usage: `agentrc verify <ref | dir | oci:<dir>[:<tag>] | oci-archive:<file>[:<tag>]> [--key <public-key>]... [--trust-policy <file>] [--rebuild <dir>] [--remote] [--store <dir>] ${REGISTRY_USAGE} [--json]`,
  options: {
    rebuild: {
      type: "string",
      value: "<dir>",
      description: "rebuild this source tree (with its lockfile) and require the same manifest digest",
    },
    key: {
      type: "string",
      multiple: true,
      value: "<public-key>",
      description: "require a signature by this public key and verify every bundle against it (repeatable)",
    },
    "trust-policy": TRUST_POLICY_FLAG,
    ...PACKAGE_SOURCE_OPTIONS,
    ...REGISTRY_OPTIONS,
  },
  async run(ctx) {
    const [target, ...extra] = ctx.positionals;
    if (!target || extra.length > 0)
      return ctx.usage("expected one package (reference, layout, archive or directory)");
    if (ctx.values.rebuild === "") return ctx.usage("--rebuild needs the agent's source directory");
    const result = await verify(target, {
      ...registryOptions(ctx),
      store: storePath(ctx),
      cwd: ctx.io.cwd,
      ...(ctx.values.remote === true ? { remote: true } : {}),
      ...(typeof ctx.values.rebuild === "string" ? { rebuild: resolve(ctx.io.cwd, ctx.values.rebuild) } : {}),
      ...(Array.isArray(ctx.values.key) ? { keys: ctx.values.key.map((k) => resolve(ctx.io.cwd, k)) } : {}),
      ...(trustPolicyFile(ctx) === undefined ? {} : { trustPolicy: trustPolicyFile(ctx)! }),
      ...(typeof ctx.values.config === "string"
        ? { configFile: resolve(ctx.io.cwd, ctx.values.config) }
        : {}),
    });
    if (ctx.json) {
      ctx.out(JSON.stringify({ version: 1, ...result }, null, 2));
      return result.ok ? 0 : 1;
    }
    // Titles, paths and annotations come from whoever built the package: never print them raw.
    const say = (line: string) => ctx.out(printable(line));
    if (!ctx.quiet) {
      say(`${result.ref} ${result.digest} (${result.kind} ${result.source})`);
      for (const c of result.checks) {
        say(
          `  ${c.status === "passed" ? "✔" : c.status === "failed" ? "✘" : "-"} ${c.name.padEnd(12)} ${c.detail}`,
        );
        for (const f of result.failures.filter((x) => x.check === c.name))
          say(`      ${f.code}  ${f.message}`);
      }
      for (const b of result.attachments) {
        say(
          `    ${b.kind} ${b.referrer.slice(0, 19)}… ${b.status}${b.signer ? ` by ${b.signer}` : b.keyId ? ` (key ${b.keyId})` : ""}`,
        );
      }
    }
    if (result.ok) {
      if (!ctx.quiet) say(`verified: ${result.checks.length} checks passed`);
      return 0;
    }
    ctx.err(
      printable(
        `verification failed: ${result.failures.length} problem${result.failures.length === 1 ? "" : "s"} (${[...new Set(result.failures.map((f) => f.code))].join(", ")})`,
      ),
    );
    if (ctx.quiet) for (const f of result.failures) ctx.err(printable(`${f.code} ${f.part}: ${f.message}`));
    return 1;
  },
};
