import { posix } from "node:path";
import type { DirectiveNode } from "../agentfile/types.js";
import { normaliseRelative } from "../fs/contextPath.js";
import { parseReference, type Reference } from "../registry/reference.js";

/** Skill names: the layer key `skill:<name>`, the package path `skills/<name>/`, the lock entry's `name`. */
export const SKILL_NAME = /^[a-z0-9][a-z0-9._-]*$/;

/** What one SKILL directive names; see `skillTarget`. */
export type SkillTarget =
  /** `SKILL <name>` or `SKILL <path>`: a directory of the build context (relative, `/` separators). */
  | { ok: true; name: string; dir: string }
  /** `SKILL oci://<ref>`: a package in a registry. */
  | { ok: true; name: string; reference: Reference }
  | {
      ok: false;
      /**
       * `escape`: the path leaves the build context; `context`: the path is the context itself; `name`: the
       * derived name is not a valid skill name; `reference`: the oci:// reference does not parse.
       */
      reason: "escape" | "context" | "name" | "reference";
      name?: string;
      detail: string;
    };

/**
 * The one place a skill gets its name, shared by the skills and oci-skills plugins and their lock entries:
 * `SKILL foo` is `foo` in `skills/foo/`; `SKILL <path>` is the base name of the directory (a path to a SKILL.md
 * names its directory: `./skills/foo/SKILL.md` is `foo`); `SKILL oci://<host>/<repo>/<name>[:tag|@digest]` is the
 * last component of the repository.
 */
export function skillTarget(args: { ref: string; source?: unknown }): SkillTarget {
  const { ref } = args;
  if (args.source === "name") return { ok: true, name: ref, dir: `skills/${ref}` };
  if (args.source === "oci") {
    let reference: Reference;
    try {
      reference = parseReference(ref.slice("oci://".length));
    } catch (e) {
      return { ok: false, reason: "reference", detail: e instanceof Error ? e.message : String(e) };
    }
    const name = posix.basename(reference.repository);
    if (!SKILL_NAME.test(name)) {
      return {
        ok: false,
        reason: "name",
        name,
        detail: `the repository name "${name}" is not a valid skill name`,
      };
    }
    return { ok: true, name, reference };
  }
  let dir = normaliseRelative(ref);
  if (dir === undefined || ref.startsWith("/") || /^[A-Za-z]:[\\/]/.test(ref)) {
    return { ok: false, reason: "escape", detail: `${ref} leaves the build context` };
  }
  if (posix.basename(dir) === "SKILL.md") dir = posix.dirname(dir);
  if (dir === "." || dir === "") {
    return { ok: false, reason: "context", detail: "the build context itself cannot be a skill" };
  }
  const name = posix.basename(dir);
  if (!SKILL_NAME.test(name)) {
    return {
      ok: false,
      reason: "name",
      name,
      detail: `the directory name "${name}" is not a valid skill name (lowercase letters, digits, '.', '_' or '-')`,
    };
  }
  return { ok: true, name, dir };
}

/** The name a SKILL directive gives its skill, or undefined when it names none (see `skillTarget`). */
export function skillName(node: DirectiveNode): string | undefined {
  if (typeof node.args.ref !== "string") return undefined;
  const target = skillTarget({ ref: node.args.ref, source: node.args.source });
  return target.ok ? target.name : undefined;
}
