import { resolve } from "node:path";
import { projectTrustPolicy } from "../../api.js";
import {
  defaultInstallPath,
  type InstalledPackage,
  installPackage,
  uninstallPackage,
  updateInstalled,
} from "../../package/install.js";
import type { TrustPolicy } from "../../trust/policy.js";
import type { Command, CommandContext, Flag } from "../context.js";
import { REGISTRY_OPTIONS, REGISTRY_USAGE, registryOptions } from "../registryFlags.js";
import { TransferProgress } from "../transferProgress.js";
import { TRUST_POLICY_FLAG, trustPolicyFile } from "../trustFlags.js";
import { CONCURRENCY_FLAG, parseConcurrency } from "./push.js";

/** `--install-dir`, for the commands that read or change the installed packages. */
export const INSTALL_DIR_FLAG = {
  type: "string",
  value: "<dir>",
  description: "installation directory (default $AGENTRC_INSTALL_DIR, else <XDG data dir>/agentrc/installed)",
} as const satisfies Flag;

/** The installation directory of this invocation. */
export function installDir(ctx: CommandContext): string {
  const flag = ctx.values["install-dir"];
  return typeof flag === "string" ? resolve(ctx.io.cwd, flag) : defaultInstallPath(ctx.io.env);
}

/** One installed package as every `--json` output shows it (schemas/cli-definitions.schema.json#/definitions/installed). */
export function installedJson(p: InstalledPackage): Record<string, unknown> {
  return {
    id: p.id,
    name: p.name,
    source: p.source,
    digest: p.digest,
    installedAt: p.installedAt,
    path: p.path,
    ...(p.skillsDir === undefined ? {} : { skillsDir: p.skillsDir }),
    skills: p.skills,
  };
}

/** The trust policy in force: --trust-policy, else the project's (config in the working directory), else the user's. */
async function trustPolicyOf(ctx: CommandContext): Promise<{ trustPolicy?: TrustPolicy }> {
  const policy = await projectTrustPolicy({
    trustPolicy: trustPolicyFile(ctx),
    cwd: ctx.io.cwd,
    configFile: typeof ctx.values.config === "string" ? ctx.values.config : undefined,
    env: ctx.io.env,
  });
  return policy === undefined ? {} : { trustPolicy: policy };
}

function progressOf(ctx: CommandContext) {
  return ctx.json || ctx.quiet
    ? undefined
    : new TransferProgress((s) => ctx.io.stderr.write(s), ctx.io.stderr.isTTY === true, "", {
        size: () => ctx.io.stderr,
      });
}

export const installCommand: Command = {
  name: "install",
  summary:
    "Install a package from a registry into the data directory (verified first), under its id <registry>/<repository>.",
  usage: `agentrc install <ref> [--skills-dir <dir>] [--install-dir <dir>] [--trust-policy <file>] [--concurrency <n>] ${REGISTRY_USAGE} [--json]`,
  options: {
    "skills-dir": {
      type: "string",
      value: "<dir>",
      description: "also place each skill as <dir>/<name>/SKILL.md (e.g. ~/.claude/skills)",
    },
    "install-dir": INSTALL_DIR_FLAG,
    "trust-policy": TRUST_POLICY_FLAG,
    concurrency: CONCURRENCY_FLAG,
    ...REGISTRY_OPTIONS,
  },
  async run(ctx) {
    const [ref, ...extra] = ctx.positionals;
    if (!ref || extra.length > 0)
      return ctx.usage("expected one reference (host[:port]/repo:tag or …@sha256:<hex>)");
    const concurrency = parseConcurrency(ctx.values.concurrency);
    if (concurrency === null) return ctx.usage("--concurrency must be an integer from 1 to 32");
    const skillsDir = ctx.values["skills-dir"];
    const progress = progressOf(ctx);
    const result = await installPackage(ref, {
      ...registryOptions(ctx),
      ...(await trustPolicyOf(ctx)),
      dir: installDir(ctx),
      ...(typeof skillsDir === "string" ? { skillsDir: resolve(ctx.io.cwd, skillsDir) } : {}),
      ...(concurrency === undefined ? {} : { concurrency }),
      ...(progress ? { onProgress: (e) => progress.update(e) } : {}),
    });
    progress?.finish();
    if (ctx.json) {
      ctx.out(
        JSON.stringify(
          {
            version: 1,
            ok: true,
            status: result.status,
            installed: installedJson(result.installed),
            ...(result.previous === undefined ? {} : { previous: result.previous }),
          },
          null,
          2,
        ),
      );
      return 0;
    }
    const p = result.installed;
    if (!ctx.quiet) {
      const what = { installed: "installed", replaced: "reinstalled", unchanged: "already installed:" }[
        result.status
      ];
      ctx.err(`${what} ${p.name} (${p.id}) ${p.digest} from ${p.source} into ${p.path}`);
      if (p.skillsDir !== undefined && p.skills.length > 0) {
        ctx.err(`  skills in ${p.skillsDir}: ${p.skills.join(", ")}`);
      }
    }
    ctx.out(p.id);
    return 0;
  },
};

export const updateCommand: Command = {
  name: "update",
  summary:
    "Update installed packages whose reference moved (a HEAD of each manifest; re-pulled only when it changed).",
  usage: `agentrc update [<name>|--all] [--install-dir <dir>] [--trust-policy <file>] [--concurrency <n>] ${REGISTRY_USAGE} [--json]`,
  options: {
    all: { type: "boolean", description: "update every installed package" },
    "install-dir": INSTALL_DIR_FLAG,
    "trust-policy": TRUST_POLICY_FLAG,
    concurrency: CONCURRENCY_FLAG,
    ...REGISTRY_OPTIONS,
  },
  async run(ctx) {
    const all = ctx.values.all === true;
    const [name, ...extra] = ctx.positionals;
    if (extra.length > 0 || (all && name !== undefined) || (!all && name === undefined)) {
      return ctx.usage("expected one installed package (name or <registry>/<repository>) or --all");
    }
    const concurrency = parseConcurrency(ctx.values.concurrency);
    if (concurrency === null) return ctx.usage("--concurrency must be an integer from 1 to 32");
    const progress = progressOf(ctx);
    const results = await updateInstalled(all ? undefined : name, {
      ...registryOptions(ctx),
      ...(await trustPolicyOf(ctx)),
      dir: installDir(ctx),
      ...(concurrency === undefined ? {} : { concurrency }),
      ...(progress ? { onProgress: (e) => progress.update(e) } : {}),
    });
    progress?.finish();
    if (ctx.json) {
      ctx.out(JSON.stringify({ version: 1, ok: true, updates: results }, null, 2));
      return 0;
    }
    if (!ctx.quiet) {
      if (results.length === 0) ctx.err("nothing is installed");
      for (const r of results) {
        ctx.err(
          r.status === "updated"
            ? `updated ${r.name} (${r.id}): ${r.previous} → ${r.digest}`
            : `${r.name} (${r.id}) is ${r.status === "current" ? "up to date" : "pinned by digest"}: ${r.digest}`,
        );
      }
    }
    for (const r of results) ctx.out(`${r.id} ${r.status} ${r.digest}`);
    return 0;
  },
};

export const uninstallCommand: Command = {
  name: "uninstall",
  summary: "Remove an installed package (by name or <registry>/<repository>) and the skills it placed.",
  usage: "agentrc uninstall <name> [--install-dir <dir>] [--json]",
  options: { "install-dir": INSTALL_DIR_FLAG },
  async run(ctx) {
    const [name, ...extra] = ctx.positionals;
    if (!name || extra.length > 0)
      return ctx.usage("expected one installed package (name or <registry>/<repository>)");
    const { removed } = await uninstallPackage(name, { dir: installDir(ctx), env: ctx.io.env });
    if (ctx.json) {
      ctx.out(JSON.stringify({ version: 1, ok: true, removed: installedJson(removed) }, null, 2));
      return 0;
    }
    if (!ctx.quiet) ctx.err(`uninstalled ${removed.name} (${removed.id}) ${removed.digest}`);
    ctx.out(removed.id);
    return 0;
  },
};
