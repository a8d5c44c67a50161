/**
 * Cedar reports source spans as UTF-8 byte offsets into the text it was given; agentrc locations are 1-based lines
 * and UTF-16 columns (what editors using LSP show). These helpers convert between the two.
 */

/** The UTF-16 index in `text` of the character that starts at UTF-8 byte `offset` (clamped to the text). */
export function utf16Index(text: string, offset: number): number {
  let bytes = 0;
  let i = 0;
  while (i < text.length && bytes < offset) {
    const c = text.codePointAt(i)!;
    bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
    i += c >= 0x10000 ? 2 : 1;
  }
  return i;
}

/** 1-based line and column of UTF-16 index `index` in `text`; `\n`, `\r\n` and `\r` end lines. */
export function lineColumn(text: string, index: number): { line: number; column: number } {
  let line = 1;
  let start = 0;
  const end = Math.min(index, text.length);
  for (let i = 0; i < end; i++) {
    const ch = text.charCodeAt(i);
    if (ch === 0x0d && text.charCodeAt(i + 1) === 0x0a && i + 1 < end) i++;
    if (ch === 0x0a || ch === 0x0d) {
      line++;
      start = i + 1;
    }
  }
  return { line, column: end - start + 1 };
}

/** Line and column of a Cedar byte offset. */
export function locateOffset(text: string, offset: number): { line: number; column: number } {
  return lineColumn(text, utf16Index(text, offset));
}

/**
 * `utf16Index` for many offsets into one text: identity for ASCII text, else a cursor that moves forward from the
 * previous answer (offsets asked in increasing order cost one pass over the text in all).
 */
export function utf16Indexer(text: string): (offset: number) => number {
  if (Buffer.byteLength(text, "utf8") === text.length) return (offset) => Math.min(offset, text.length);
  let bytes = 0;
  let i = 0;
  return (offset) => {
    if (offset < bytes) {
      bytes = 0;
      i = 0;
    }
    while (i < text.length && bytes < offset) {
      const c = text.codePointAt(i)!;
      bytes += c < 0x80 ? 1 : c < 0x800 ? 2 : c < 0x10000 ? 3 : 4;
      i += c >= 0x10000 ? 2 : 1;
    }
    return i;
  };
}
