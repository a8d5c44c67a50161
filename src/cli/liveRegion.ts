/** The terminal's size as the renderers need it; undefined fields fall back to 24 × 80. */
export interface TerminalSize {
  rows?: number | undefined;
  columns?: number | undefined;
}

const ESC = "\u001b[";

/**
 * A block of lines at the bottom of a terminal, redrawn in place: the cursor goes back up over the previous frame,
 * each line is rewritten, and whatever the previous, taller frame left below is erased. A frame never holds more
 * lines than `capacity` (one less than the rows: with the cursor on the line below, all of it stays on screen and
 * can be reached again) and no line is wider than the terminal (a wrapped line would take two rows).
 */
export class LiveRegion {
  #drawn = 0;

  constructor(
    private readonly write: (s: string) => void,
    private readonly size: () => TerminalSize,
  ) {}

  /** How many lines a frame may have. */
  get capacity(): number {
    return Math.max(1, (this.size().rows || 24) - 1);
  }

  draw(lines: readonly string[]): void {
    const width = Math.max(10, (this.size().columns || 80) - 1);
    const shown = lines.slice(0, this.capacity);
    let out = this.#drawn > 0 ? `${ESC}${this.#drawn}A` : "";
    for (const line of shown) out += `\r${ESC}2K${line.length > width ? line.slice(0, width) : line}\n`;
    out += `${ESC}J`;
    this.#drawn = shown.length;
    this.write(out);
  }

  /** Erases the region (the next output starts where it began). */
  clear(): void {
    if (this.#drawn === 0) return;
    this.write(`${ESC}${this.#drawn}A\r${ESC}J`);
    this.#drawn = 0;
  }
}

/** `12.3 MiB/s` from bytes moved since `since` (ms), or empty while too little time has passed to tell. */
export function formatRate(bytes: number, since: number, now: number, format: (n: number) => string): string {
  const seconds = (now - since) / 1000;
  return seconds < 0.2 ? "" : `${format(bytes / seconds)}/s`;
}
