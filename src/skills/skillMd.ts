import { readFile } from "node:fs/promises";
import { join } from "node:path";
import yaml from "js-yaml";

/** What agent tools require of a skill's name (Agent Skills: lowercase letters, digits, hyphens, ≤ 64). */
export const SKILL_FRONTMATTER_NAME = /^[a-z0-9]+(?:-[a-z0-9]+)*$/;
export const MAX_SKILL_NAME = 64;
export const MAX_SKILL_DESCRIPTION = 1024;

/** One problem with a SKILL.md or skill.yaml, at a 1-based line of that file. */
export interface SkillMetadataProblem {
  file: string;
  line: number;
  message: string;
}

/** The metadata of a skill directory: SKILL.md's frontmatter, with the SkillCard's name and version over it. */
export interface SkillMetadata {
  name?: string;
  description?: string;
  version?: string;
  problems: SkillMetadataProblem[];
}

/**
 * Reads the YAML frontmatter of a SKILL.md (`---` on the first line, `---` closing it), as agent tools expect it:
 * `name` (lowercase letters, digits and hyphens, at most 64) and `description` (non-empty, at most 1024 characters)
 * are required; other keys are left to the tools.
 */
export function parseSkillMd(text: string, file = "SKILL.md"): SkillMetadata {
  const problems: SkillMetadataProblem[] = [];
  const lines = text.replace(/^\uFEFF/, "").split(/\r\n|\r|\n/);
  if (lines[0]?.trim() !== "---") {
    return {
      problems: [
        { file, line: 1, message: "has no YAML frontmatter (a first line `---`, then name and description)" },
      ],
    };
  }
  const end = lines.findIndex((l, i) => i > 0 && l.trim() === "---");
  if (end < 0)
    return { problems: [{ file, line: 1, message: "the frontmatter is not closed by a line `---`" }] };
  let data: unknown;
  try {
    data = yaml.load(lines.slice(1, end).join("\n"), { schema: yaml.JSON_SCHEMA });
  } catch (e) {
    const mark = (e as { mark?: { line?: number } }).mark;
    return {
      problems: [
        {
          file,
          line: 2 + (mark?.line ?? 0),
          message: `the frontmatter is not YAML: ${(e as Error).message.split("\n")[0]}`,
        },
      ],
    };
  }
  if (data === null || typeof data !== "object" || Array.isArray(data)) {
    return { problems: [{ file, line: 2, message: "the frontmatter is not a mapping of keys" }] };
  }
  const lineOf = (key: string) => {
    const i = lines.slice(1, end).findIndex((l) => l.startsWith(`${key}:`));
    return i < 0 ? 1 : i + 2;
  };
  const record = data as Record<string, unknown>;
  const out: SkillMetadata = { problems };
  const name = record.name;
  if (typeof name !== "string" || name === "") {
    problems.push({ file, line: lineOf("name"), message: "the frontmatter has no `name`" });
  } else if (!SKILL_FRONTMATTER_NAME.test(name) || name.length > MAX_SKILL_NAME) {
    problems.push({
      file,
      line: lineOf("name"),
      message: `name "${name}" must be lowercase letters, digits and single hyphens, at most ${MAX_SKILL_NAME} characters`,
    });
  } else out.name = name;
  const description = record.description;
  if (typeof description !== "string" || description.trim() === "") {
    problems.push({ file, line: lineOf("description"), message: "the frontmatter has no `description`" });
  } else if (description.length > MAX_SKILL_DESCRIPTION) {
    problems.push({
      file,
      line: lineOf("description"),
      message: `description is ${description.length} characters, more than ${MAX_SKILL_DESCRIPTION}`,
    });
  } else out.description = description;
  return out;
}

/** The SkillCard file of skillimage (`apiVersion: skillimage.io/v1alpha1`, `kind: SkillCard`). */
export const SKILL_CARD_FILE = "skill.yaml";

/**
 * A skill directory's metadata: SKILL.md's frontmatter, and when a skillimage SkillCard (`skill.yaml`) lies beside
 * it, its `metadata.name` and `metadata.version` (a SkillCard whose name differs from the frontmatter's is a
 * problem: two names for one skill).
 */
export async function readSkillMetadata(dir: string): Promise<SkillMetadata> {
  const meta = parseSkillMd(await readFile(join(dir, "SKILL.md"), "utf8"));
  let cardText: string;
  try {
    cardText = await readFile(join(dir, SKILL_CARD_FILE), "utf8");
  } catch {
    return meta;
  }
  const at = (line: number, message: string) => meta.problems.push({ file: SKILL_CARD_FILE, line, message });
  let card: unknown;
  try {
    card = yaml.load(cardText, { schema: yaml.JSON_SCHEMA });
  } catch (e) {
    at(
      1 + ((e as { mark?: { line?: number } }).mark?.line ?? 0),
      `is not YAML: ${(e as Error).message.split("\n")[0]}`,
    );
    return meta;
  }
  const record = card as { kind?: unknown; metadata?: { name?: unknown; version?: unknown } } | null;
  if (
    !record ||
    typeof record !== "object" ||
    record.kind !== "SkillCard" ||
    typeof record.metadata !== "object"
  ) {
    at(1, "is not a SkillCard (kind: SkillCard with a metadata mapping)");
    return meta;
  }
  const { name, version } = record.metadata ?? {};
  const lineOf = (key: string) => {
    const i = cardText.split(/\r\n|\r|\n/).findIndex((l) => l.trim().startsWith(`${key}:`));
    return i < 0 ? 1 : i + 1;
  };
  if (name !== undefined) {
    if (typeof name !== "string" || !SKILL_FRONTMATTER_NAME.test(name) || name.length > MAX_SKILL_NAME) {
      at(lineOf("name"), `metadata.name ${JSON.stringify(name)} is not a skill name`);
    } else if (meta.name !== undefined && meta.name !== name) {
      at(lineOf("name"), `metadata.name "${name}" differs from SKILL.md's name "${meta.name}"`);
    } else meta.name = name;
  }
  if (version !== undefined) {
    if (typeof version !== "string" && typeof version !== "number")
      at(lineOf("version"), "metadata.version is not a string");
    else meta.version = String(version);
  }
  return meta;
}
