import { resolve } from "node:path";
import type { CommandContext, Flag } from "./context.js";

/** `--trust-policy <file>`: of every command where content enters (pull, build, lock, verify). */
export const TRUST_POLICY_FLAG = {
  type: "string",
  value: "<file>",
  description:
    "trust policy (docs/trust.md) instead of the config's trustPolicy (the user's policy file still applies)",
} as const satisfies Flag;

/** The `--trust-policy` file, absolute, when given. */
export function trustPolicyFile(ctx: CommandContext): string | undefined {
  const value = ctx.values["trust-policy"];
  return typeof value === "string" ? resolve(ctx.io.cwd, value) : undefined;
}
