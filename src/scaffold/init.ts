import { lstat, mkdir, rename, writeFile } from "node:fs/promises";
import { basename, dirname, join, resolve } from "node:path";
import { AgentrcError } from "../diagnostics/AgentrcError.js";

export interface InitOptions {
  /** Agent id; default derived from the directory name. */
  name?: string;
  /** Overwrite existing files. */
  force?: boolean;
}

export interface InitResult {
  dir: string;
  agent: string;
  files: string[];
}

/** A lowercase DNS label derived from a directory name ("My Agent_2" → "my-agent-2"). */
export function agentIdFrom(name: string): string {
  const id = name
    .toLowerCase()
    .replace(/[^a-z0-9-]+/g, "-")
    .replace(/-+/g, "-")
    .replace(/^-|-$/g, "")
    .slice(0, 63)
    .replace(/-$/, "");
  return id || "agent";
}

function templates(agent: string): Record<string, string> {
  return {
    Agentfile: `# Agentfile for ${agent}: see docs/agentfile.md for every directive.
AGENT ${agent}
SHELL strands
CMD ["strands", "run", "--agent", "${agent}"]

# Skills live in skills/<name>/SKILL.md.
SKILL summarize

# Tools are denied unless a policy permits them.
TOOL utcp:file_read
ALLOW invoke utcp:file_read

AUDIT basic

POLICY
// Inline Cedar, merged with policy/*.cedar.
permit (
  principal == AgentRC::Agent::"${agent}",
  action == AgentRC::Action::"skill.invoke",
  resource == AgentRC::Skill::"summarize"
);
END
`,
    "policy/agent.cedar": `// Cedar policy for ${agent}, merged with the Agentfile's POLICY blocks and ALLOW/DENY/URL rules and
// validated against schemas/agentrc.cedarschema (see docs/policy.md). Everything is denied unless permitted.
// Deny wins: a forbid here overrides any permit, including an ALLOW in the Agentfile.
forbid (
  principal == AgentRC::Agent::"${agent}",
  action == AgentRC::Action::"tool.invoke",
  resource == AgentRC::Tool::"utcp:shell"
);
`,
    "skills/summarize/SKILL.md": `---
name: summarize
description: Summarise a document in five bullet points.
---

# Summarize

Read the document you are given and answer with at most five bullet points.
`,
  };
}

/** Scaffolds an agent tree that lints clean. Refuses to overwrite any file unless `force` is set. */
export async function initAgent(dirArg: string, options: InitOptions = {}): Promise<InitResult> {
  const dir = resolve(dirArg);
  const agent = options.name ?? agentIdFrom(basename(dir));
  if (!/^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/.test(agent)) {
    throw new AgentrcError("USAGE", `agent name "${agent}" is not a lowercase DNS label`, {
      hint: "Use a-z, 0-9 and '-', at most 63 characters.",
    });
  }
  const files = templates(agent);
  const existing: string[] = [];
  for (const rel of Object.keys(files)) {
    if (await exists(join(dir, rel))) existing.push(rel);
  }
  if (existing.length > 0 && !options.force) {
    throw new AgentrcError(
      "INIT_WOULD_OVERWRITE",
      `${dir} already has ${existing.join(", ")}; nothing was written`,
    );
  }
  for (const [rel, text] of Object.entries(files)) {
    const target = join(dir, rel);
    await mkdir(dirname(target), { recursive: true });
    const temp = `${target}.agentrc-tmp-${process.pid}`;
    await writeFile(temp, text, { mode: 0o644 });
    await rename(temp, target);
  }
  return { dir, agent, files: Object.keys(files) };
}

async function exists(path: string): Promise<boolean> {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}
