import type { Command } from "../context.js";
import { buildCommand } from "./build.js";
import { diffCommand } from "./diff.js";
import { initCommand } from "./init.js";
import { inspectCommand } from "./inspect.js";
import { installCommand, uninstallCommand, updateCommand } from "./install.js";
import { keyGenerateCommand } from "./key.js";
import { kubeCommand } from "./kube.js";
import { lintCommand } from "./lint.js";
import { listCommand } from "./list.js";
import { lockCommand } from "./lock.js";
import { loginCommand, logoutCommand } from "./login.js";
import { policyEvalCommand, policyShowCommand } from "./policy.js";
import { promoteCommand } from "./promote.js";
import { pruneCommand } from "./prune.js";
import { pullCommand } from "./pull.js";
import { pushCommand } from "./push.js";
import { rmCommand } from "./rm.js";
import { signCommand } from "./sign.js";
import { tagCommand } from "./tag.js";
import { verifyCommand } from "./verify.js";

/**
 * Every command, loaded at once, in help order: for `agentrc --help` and the tests of every command's flags and
 * JSON. A run of one command loads only its own module (`COMMAND_MODULES` in src/cli/main.ts, same names, same order).
 */
export const COMMANDS: readonly Command[] = [
  initCommand,
  lintCommand,
  lockCommand,
  buildCommand,
  pushCommand,
  pullCommand,
  inspectCommand,
  diffCommand,
  policyShowCommand,
  policyEvalCommand,
  verifyCommand,
  signCommand,
  keyGenerateCommand,
  loginCommand,
  logoutCommand,
  listCommand,
  tagCommand,
  rmCommand,
  pruneCommand,
  installCommand,
  updateCommand,
  uninstallCommand,
  kubeCommand,
  promoteCommand,
];
