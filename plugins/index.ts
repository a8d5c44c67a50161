import type { AgentrcPlugin } from "../src/core.js";
import { AgentfileRulesPlugin } from "./agentfile-rules/index.js";
import { LockfilePlugin } from "./lockfile/index.js";
import { PolicyPlugin } from "./policy/index.js";

/**
 * The built-in plugins, in the order they are applied (before the user's). Each is a plain plugin on the public
 * hooks; the order only matters for taps on the same series hook.
 */
export function builtinPlugins(): AgentrcPlugin[] {
  return [new LockfilePlugin(), new AgentfileRulesPlugin(), new PolicyPlugin()];
}
