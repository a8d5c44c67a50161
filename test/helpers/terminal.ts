/**
 * A minimal terminal for progress tests: a screen of `rows` × `columns`, the cursor, and the lines that scrolled off
 * the top. It understands what the renderers write: printable text (wrapping at the last column), `\r`, `\n` (as a
 * tty with onlcr: carriage return and line feed), `ESC[nA` (cursor up), `ESC[2K` (erase line) and `ESC[J` (erase
 * to the end of the screen). Anything else fails the test, so a renderer cannot rely on an unmodelled sequence.
 */
export class FakeTerminal {
  readonly isTTY = true;
  readonly screen: string[];
  readonly scrolledOff: string[] = [];
  /** The number of non-empty screen lines after each write. */
  readonly heights: number[] = [];
  row = 0;
  col = 0;

  constructor(
    readonly rows: number,
    readonly columns: number,
  ) {
    this.screen = Array.from({ length: rows }, () => "");
  }

  readonly write = (text: string): boolean => {
    for (let i = 0; i < text.length; i++) {
      const ch = text[i]!;
      if (ch === "\u001b") {
        const m = /^\u001b\[(\d*)([A-Za-z])/.exec(text.slice(i));
        if (!m) throw new Error(`unmodelled escape sequence at ${JSON.stringify(text.slice(i, i + 8))}`);
        this.#escape(m[2]!, m[1] === "" ? undefined : Number(m[1]));
        i += m[0].length - 1;
      } else if (ch === "\r") this.col = 0;
      else if (ch === "\n") this.#lineFeed();
      else {
        if (this.col >= this.columns) this.#lineFeed();
        const line = this.screen[this.row]!.padEnd(this.col);
        this.screen[this.row] = line.slice(0, this.col) + ch + line.slice(this.col + 1);
        this.col++;
      }
    }
    this.heights.push(this.screen.filter((l) => l.trim() !== "").length);
    return true;
  };

  /** The visible text, trailing blank lines dropped. */
  get text(): string {
    const lines = this.screen.map((l) => l.trimEnd());
    while (lines.length > 0 && lines.at(-1) === "") lines.pop();
    return lines.join("\n");
  }

  #lineFeed(): void {
    this.col = 0;
    if (this.row < this.rows - 1) {
      this.row++;
      return;
    }
    this.scrolledOff.push(this.screen.shift()!);
    this.screen.push("");
  }

  #escape(command: string, n: number | undefined): void {
    if (command === "A") this.row = Math.max(0, this.row - (n ?? 1));
    else if (command === "K" && n === 2) this.screen[this.row] = "";
    else if (command === "J" && n === undefined) {
      this.screen[this.row] = this.screen[this.row]!.slice(0, this.col);
      for (let r = this.row + 1; r < this.rows; r++) this.screen[r] = "";
    } else throw new Error(`unmodelled escape sequence ESC[${n ?? ""}${command}`);
  }
}
