/**
 * Makes text from untrusted sources (registry replies, annotations, layer titles, file names) safe to print: C0 and
 * C1 control characters and DEL become visible escapes (`\x1b`), so a hostile value cannot move the cursor, clear
 * the screen, retitle the terminal or forge extra output lines.
 */
export function printable(text: string): string {
  return text.replace(
    /[\u0000-\u001f\u007f-\u009f]/g,
    (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, "0")}`,
  );
}
