import { createHash } from "node:crypto";
import type { AgentrcPlugin, Compilation, Compiler, Lockfile } from "../../src/core.js";

const NAME = "declarations";

/**
 * CRED and SOP declare things the runner provides (a credential, a standard operating procedure) and select no
 * files. This plugin records them in agentrc.lock: `credential_names` (sorted, unique; never a source or a value)
 * and `sops` (name and the sha256 of the procedure's text, in source order).
 */
export class DeclarationsPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      compilation.hooks.lock.tap(NAME, (lock) => lockDeclarations(lock, compilation));
    });
  }
}

function lockDeclarations(lock: Lockfile, compilation: Compilation): Lockfile {
  const next: Lockfile = { ...lock };
  const creds = [...new Set(compilation.directives<{ name: string }>("CRED").map((c) => c.args.name))].sort();
  if (creds.length > 0) next.credential_names = creds;
  const sops = compilation.directives<{ name: string; text: string }>("SOP");
  if (sops.length > 0) {
    next.sops = sops.map((s) => ({
      name: s.args.name,
      digest: `sha256:${createHash("sha256").update(s.args.text).digest("hex")}`,
    }));
  }
  return next;
}
