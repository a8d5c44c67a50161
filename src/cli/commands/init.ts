import { resolve } from "node:path";
import { initAgent } from "../../scaffold/init.js";
import type { Command } from "../context.js";

export const initCommand: Command = {
  name: "init",
  summary: "Scaffold an agent source tree (Agentfile, policy, a skill) that lints clean.",
  usage: "agentrc init [dir] [--name <id>] [--force]",
  options: {
    name: { type: "string", value: "<id>", description: "agent id (default: the directory name)" },
    force: { type: "boolean", short: "f", description: "overwrite existing files" },
  },
  async run(ctx) {
    if (ctx.positionals.length > 1) {
      return ctx.usage(`expected at most one directory, got ${ctx.positionals.length}`);
    }
    const dir = resolve(ctx.io.cwd, ctx.positionals[0] ?? ".");
    const name = typeof ctx.values.name === "string" ? ctx.values.name : undefined;
    const result = await initAgent(dir, { ...(name ? { name } : {}), force: ctx.values.force === true });
    if (ctx.json) {
      ctx.out(JSON.stringify({ version: 1, ok: true, ...result }, null, 2));
    } else if (!ctx.quiet) {
      ctx.out(`Created agent ${result.agent} in ${result.dir}:`);
      for (const f of result.files) ctx.out(`  ${f}`);
      ctx.out(`Next: agentrc lint ${ctx.positionals[0] ?? "."}`);
    }
    return 0;
  },
};
