import type { BlobProgress } from "../transfer/types.js";
import { printable } from "../util/terminal.js";
import { formatRate, LiveRegion, type TerminalSize } from "./liveRegion.js";
import { formatBytes } from "./progress.js";

interface Row {
  label: string;
  size: number;
  transferred: number;
  status?: string;
}

const BAR = 24;
const REDRAW_MS = 100;

export interface ProgressOptions {
  /** The terminal's rows and columns, read at every redraw (a resize takes effect at once). */
  size?: () => TerminalSize;
  /** Milliseconds clock (tests pass their own). */
  now?: () => number;
}

/**
 * Blob progress for push and pull. On a TTY: one bar per blob, redrawn in place (at most every 100 ms); when there
 * are more blobs than the terminal has rows, the bars of the blobs in flight and one summary line. Otherwise: one
 * plain line per finished blob (`uploaded src 1.2 MiB sha256:…`), nothing while bytes move.
 */
export class TransferProgress {
  readonly #rows = new Map<string, Row>();
  readonly #region: LiveRegion;
  readonly #now: () => number;
  readonly #started: number;
  #last = 0;

  constructor(
    private readonly write: (s: string) => void,
    private readonly tty: boolean,
    private readonly prefix = "",
    options: ProgressOptions = {},
  ) {
    this.#region = new LiveRegion(write, options.size ?? (() => ({})));
    this.#now = options.now ?? Date.now;
    this.#started = this.#now();
  }

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
    const now = this.#now();
    if (e.phase === "progress" && now - this.#last < REDRAW_MS) return;
    this.#last = now;
    this.#draw();
  }

  /** Final redraw (TTY); call once the transfer is over. */
  finish(): void {
    if (this.tty && this.#rows.size > 0) this.#draw();
  }

  #draw(): void {
    const rows = [...this.#rows.values()];
    const capacity = this.#region.capacity;
    if (rows.length <= capacity) {
      this.#region.draw(this.#bars(rows));
      return;
    }
    const active = rows.filter((r) => r.status === undefined);
    const shown = active.slice(0, capacity - 1);
    const done = rows.length - active.length;
    const moved = rows.reduce((n, r) => n + r.transferred, 0);
    const rate = formatRate(moved, this.#started, this.#now(), formatBytes);
    const parts = [`${done} of ${rows.length} blobs done`, `${formatBytes(moved)} moved`];
    if (active.length > shown.length) parts.push(`${active.length - shown.length} more in flight`);
    if (rate) parts.push(rate);
    this.#region.draw([...this.#bars(shown), `${this.prefix}${parts.join(", ")}`]);
  }

  #bars(rows: readonly Row[]): string[] {
    const width = Math.min(28, Math.max(0, ...rows.map((r) => r.label.length)));
    return rows.map((row) => {
      const fraction = row.size > 0 ? Math.min(1, row.transferred / row.size) : 1;
      const filled = Math.round(fraction * BAR);
      const bar = `[${"#".repeat(filled)}${".".repeat(BAR - filled)}]`;
      const state = row.status ?? `${formatBytes(row.transferred).padStart(10)} / ${formatBytes(row.size)}`;
      return `${row.label.slice(0, width).padEnd(width)} ${bar} ${state}`;
    });
  }
}
