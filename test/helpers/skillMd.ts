/** A SKILL.md as agent tools expect it: YAML frontmatter with `name` and `description`, then `body`. */
export function skillMd(name: string, body = `# ${name}\n`): string {
  return `---\nname: ${name}\ndescription: The ${name} skill of a test agent.\n---\n${body}`;
}
