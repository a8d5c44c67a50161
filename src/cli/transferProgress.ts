import type { BlobProgress } from "../transfer/types.js";
import { printable } from "../util/terminal.js";
import { formatBytes } from "./progress.js";

interface Row {
  label: string;
  size: number;
  transferred: number;
  status?: string;
}

const BAR = 24;
const REDRAW_MS = 100;

/**
 * Blob progress for push and pull. On a TTY: one bar per blob, redrawn in place (at most every 100 ms). Otherwise:
 * one plain line per finished blob (`uploaded src 1.2 MiB sha256:…`), nothing while bytes move.
 */
export class TransferProgress {
  readonly #rows = new Map<string, Row>();
  #drawn = 0;
  #last = 0;

  constructor(
    private readonly write: (s: string) => void,
    private readonly tty: boolean,
    private readonly prefix = "",
  ) {}

  update(e: BlobProgress): void {
    const key = `${this.prefix}${e.digest}`;
    const row = this.#rows.get(key) ?? {
      label: printable(`${this.prefix}${e.title ?? e.digest.slice(0, 19)}`),
      size: e.size,
      transferred: 0,
    };
    row.transferred = e.transferred;
    if (e.phase === "done" && e.status) row.status = e.status;
    this.#rows.set(key, row);
    if (!this.tty) {
      if (e.phase === "done") {
        this.write(`${e.status} ${row.label} ${formatBytes(e.size)} ${e.digest}\n`);
      }
      return;
    }
    const now = Date.now();
    if (e.phase === "progress" && now - this.#last < REDRAW_MS) return;
    this.#last = now;
    this.#draw();
  }

  /** Final redraw (TTY); call once the transfer is over. */
  finish(): void {
    if (this.tty && this.#rows.size > 0) this.#draw();
  }

  #draw(): void {
    const width = Math.min(28, Math.max(...[...this.#rows.values()].map((r) => r.label.length)));
    let out = this.#drawn > 0 ? `\u001b[${this.#drawn}A` : "";
    for (const row of this.#rows.values()) {
      const fraction = row.size > 0 ? Math.min(1, row.transferred / row.size) : 1;
      const filled = Math.round(fraction * BAR);
      const bar = `[${"#".repeat(filled)}${".".repeat(BAR - filled)}]`;
      const state = row.status ?? `${formatBytes(row.transferred).padStart(10)} / ${formatBytes(row.size)}`;
      out += `\r\u001b[2K${row.label.slice(0, width).padEnd(width)} ${bar} ${state}\n`;
    }
    this.#drawn = this.#rows.size;
    this.write(out);
  }
}
