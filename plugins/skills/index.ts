import { lstat, readFile, stat } from "node:fs/promises";
import { join, posix } from "node:path";
import {
  type AgentrcPlugin,
  addSelectedFiles,
  type Compilation,
  type Compiler,
  type DirectiveNode,
  diagnostic,
  directiveHasErrors,
  type Lockfile,
  layerInputDigest,
  loadIgnoreFile,
  oci,
  parseSkillMd,
  ResultCache,
  selectForDirective,
  skillName,
  skillTarget,
} from "../../src/core.js";

const NAME = "skills";

/**
 * Local skills: `SKILL <name>` is the directory `skills/<name>/`, `SKILL <path>` that directory (its base name is
 * the skill's name; a path to a SKILL.md names its directory). The directory must hold SKILL.md; every file below
 * it goes into the layer `skill:<name>` as `skills/<name>/…`. `.agentrcignore` applies, except to SKILL.md.
 * `oci://` skills belong to the oci-skills plugin and are left alone here. The name comes from `skillName` (shared
 * with oci-skills); the lock's `skills` entries of local skills are recorded here.
 */
export class SkillsPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      compilation.hooks.selectFiles.tapPromise(NAME, () => selectSkills(compilation));
      compilation.hooks.lock.tapPromise(NAME, (lock) => lockSkills(lock, compilation));
    });
  }
}

async function selectSkills(compilation: Compilation): Promise<void> {
  const nodes = compilation
    .directives("SKILL")
    .filter(
      (n) => typeof n.args.ref === "string" && n.args.source !== "oci" && !directiveHasErrors(compilation, n),
    );
  if (nodes.length === 0) return;
  const ignore = await loadIgnoreFile(compilation.context);
  // Resolve names first, in source order, so that conflicts are reported deterministically.
  const byName = new Map<string, { dir: string; node: DirectiveNode }>();
  const work: Array<{ node: DirectiveNode; name: string; dir: string }> = [];
  for (const node of nodes) {
    const target = skillDirectory(compilation, node);
    if (target === "escape") {
      await compilation.resolvePath(String(node.args.ref), node, "/ref", NAME); // reports PATH_ESCAPE
      continue;
    }
    if (!target) continue;
    const seen = byName.get(target.name);
    if (seen) {
      if (seen.dir !== target.dir) {
        compilation.report(
          diagnostic(
            "INVALID_ARGUMENTS",
            `SKILL ${String(node.args.ref)}: the skill name "${target.name}" is already used by ${seen.dir}/ (line ${seen.node.loc.line})`,
            compilation.locate(node, "/ref"),
            { plugin: NAME, hint: "Give each skill directory a distinct name." },
          ),
        );
      }
      continue;
    }
    byName.set(target.name, { dir: target.dir, node });
    work.push({ node, ...target });
  }
  await Promise.all(
    work.map(async ({ node, name, dir }) => {
      const ref = String(node.args.ref);
      const at = compilation.locate(node, "/ref");
      const resolved = await compilation.resolvePath(dir, node, "/ref", NAME);
      if (!resolved) return;
      const isDir = (await stat(resolved.absolute).catch(() => undefined))?.isDirectory() ?? false;
      const skillMd = await lstat(join(resolved.absolute, "SKILL.md")).catch(() => undefined);
      if (!isDir) {
        compilation.report(
          diagnostic("INVALID_ARGUMENTS", `SKILL ${ref}: "${dir}" is not a directory`, at, {
            plugin: NAME,
            hint: "SKILL takes a skill name, a directory holding SKILL.md, or oci://<ref>.",
          }),
        );
        return;
      }
      if (!skillMd) {
        compilation.report(
          diagnostic("SKILL_MD_MISSING", `SKILL ${ref}: ${dir}/ has no SKILL.md`, at, { plugin: NAME }),
        );
        return;
      }
      const files = await selectForDirective({
        compilation,
        node,
        pointer: "/ref",
        plugin: NAME,
        written: ref,
        pattern: dir,
        kind: "path",
        ignore,
      });
      if (!files) return;
      const skillMdPath = `${dir}/SKILL.md`;
      if (!files.some((f) => f.path === skillMdPath)) {
        // SKILL.md is always packed, even when .agentrcignore matches it.
        const own = await selectForDirective({
          compilation,
          node,
          pointer: "/ref",
          plugin: NAME,
          written: ref,
          pattern: skillMdPath,
          kind: "path",
        });
        if (!own) return;
        files.push(...own);
      }
      addSelectedFiles(compilation, `skill:${name}`, files, node, (p) =>
        posix.join("skills", name, posix.relative(dir, p)),
      );
      if (skillMd.isFile())
        await checkFrontmatter(compilation, join(resolved.absolute, "SKILL.md"), skillMdPath, name);
    }),
  );
}

/** Bump when the frontmatter check changes meaning, so that findings cached by an older version are not reused. */
const FRONTMATTER_CHECK_VERSION = 1;

interface FrontmatterFindings {
  name: string | null;
  /** The 1-based line of `name:` in SKILL.md. */
  nameLine: number;
  problems: Array<{ line: number; message: string }>;
}
const isFrontmatterFindings = (v: unknown): v is FrontmatterFindings =>
  Array.isArray((v as FrontmatterFindings | null)?.problems);

/**
 * SKILL.md's frontmatter as agent tools read it (`name`, `description`; src/skills/skillMd.ts), and a `name` that
 * differs from the directory the skill is packed as (`skills/<name>/`): warnings, since the package is still sound
 * but a tool may not load the skill. Checked once per content, as output-schema does: a rebuild whose SKILL.md is
 * unchanged (its digest comes from a stat) reads the findings, not the file.
 */
async function checkFrontmatter(
  compilation: Compilation,
  absolute: string,
  path: string,
  name: string,
): Promise<void> {
  const findings = new ResultCache(compilation.options.cacheDir, "skill-frontmatter", isFrontmatterFindings);
  const keyOf = (digest: string) => ResultCache.key({ version: FRONTMATTER_CHECK_VERSION, digest });
  const known = await compilation.compiler.fileDigests.digest(absolute);
  let value = await findings.get(keyOf(known.digest));
  if (!value) {
    const bytes = await readFile(absolute);
    const text = bytes.toString("utf8");
    const meta = parseSkillMd(text, path);
    const nameLine = text.split(/\r\n|\r|\n/).findIndex((l) => l.startsWith("name:")) + 1;
    value = {
      name: meta.name ?? null,
      nameLine: nameLine > 0 ? nameLine : 1,
      problems: meta.problems.map(({ line, message }) => ({ line, message })),
    };
    await findings.set(keyOf(oci.sha256Digest(bytes)), value);
  }
  const warn = (line: number, message: string, hint?: string) =>
    compilation.report(
      diagnostic(
        "SKILL_FRONTMATTER_INVALID",
        `${path} ${message}`,
        { file: path, line, column: 1 },
        { plugin: NAME, severity: "warning", ...(hint === undefined ? {} : { hint }) },
      ),
    );
  for (const p of value.problems) warn(p.line, p.message);
  if (value.name !== null && value.name !== name) {
    warn(
      value.nameLine,
      `names the skill "${value.name}", but it is packed as skills/${name}/`,
      `Agent tools expect the name to match the skill's directory: rename one of them.`,
    );
  }
}

/** The skill's name and its directory (relative to the context), or undefined after reporting a problem. */
function skillDirectory(
  compilation: Compilation,
  node: DirectiveNode,
): { name: string; dir: string } | "escape" | undefined {
  const ref = String(node.args.ref);
  const target = skillTarget({ ref, source: node.args.source });
  if (target.ok) return "dir" in target ? { name: target.name, dir: target.dir } : undefined;
  if (target.reason === "escape") return "escape";
  compilation.report(
    diagnostic("INVALID_ARGUMENTS", `SKILL ${ref}: ${target.detail}`, compilation.locate(node, "/ref"), {
      plugin: NAME,
      hint: "Name the skill directory like skills/<name>/, in lowercase.",
    }),
  );
  return undefined;
}

/**
 * The lock's `skills` entries of local skills, in source order: the name (`skillName`, as the layer is named), the
 * source as written (`name:foo`, `path:./vendor/foo`) and the layer's input digest. oci:// entries are the
 * oci-skills plugin's.
 */
async function lockSkills(lock: Lockfile, compilation: Compilation): Promise<Lockfile> {
  const entries: NonNullable<Lockfile["skills"]> = [];
  for (const node of compilation.directives<{ ref: string; source: string }>("SKILL")) {
    if (node.args.source === "oci") continue;
    const name = skillName(node as DirectiveNode);
    const digest = name === undefined ? undefined : await layerInputDigest(compilation, `skill:${name}`);
    if (name !== undefined && digest !== undefined) {
      entries.push({ name, source: `${node.args.source}:${node.args.ref}`, digest });
    }
  }
  return entries.length > 0 ? { ...lock, skills: entries } : lock;
}
