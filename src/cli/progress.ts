import type { AgentrcPlugin, Compiler, PackedBlob } from "../core.js";
import { printable } from "../util/terminal.js";
import { formatRate, LiveRegion } from "./liveRegion.js";
import type { ProgressOptions } from "./transferProgress.js";

export const formatBytes = (n: number): string => {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? Math.round(v) : v.toFixed(1)} ${units[i]}`;
};

const REDRAW_MS = 100;

interface Packing {
  bytes: number;
  total: number;
  started: number;
}

/**
 * Reports packing progress through hooks only (as webpack's ProgressPlugin does): interceptors on `layers`,
 * `packLayer` and `emit`, and a tap on `packProgress` for the bytes. On a TTY: one line per layer being packed
 * (bytes so far, estimated total, rate) and a count of the layers done, redrawn in place within the terminal's
 * rows; otherwise one plain line per packed layer.
 */
export class PackProgressPlugin implements AgentrcPlugin {
  readonly name = "cli-progress";
  readonly #now: () => number;

  constructor(
    private readonly write: (s: string) => void,
    private readonly tty: boolean,
    private readonly options: ProgressOptions = {},
  ) {
    this.#now = options.now ?? Date.now;
  }

  apply(compiler: Compiler): void {
    const region = new LiveRegion(this.write, this.options.size ?? (() => ({})));
    // The frame goes before anything else is printed: the emitter's output, a failure, the summary.
    const clear = () => region.clear();
    compiler.hooks.emit.intercept({ call: clear });
    compiler.hooks.failed.intercept({ call: clear });
    compiler.hooks.done.intercept({ call: clear });
    compiler.hooks.compilation.tap(this.name, (compilation) => {
      const packing = new Map<string, Packing>();
      let total = 0;
      let done = 0;
      let last = 0;
      const draw = () => {
        last = this.#now();
        const shown = [...packing].slice(0, region.capacity - 1);
        const lines = shown.map(([title, p]) => {
          const rate = formatRate(p.bytes, p.started, last, formatBytes);
          const amount = p.total > 0 ? `${formatBytes(p.bytes)} / ${formatBytes(p.total)}` : "";
          return `packing ${printable(title)} ${amount}${rate ? `  ${rate}` : ""}`.trimEnd();
        });
        const more = packing.size - shown.length;
        lines.push(`packed ${done}/${total} layers${more > 0 ? `, ${more} more packing` : ""}`);
        region.draw(lines);
      };
      compilation.hooks.layers.intercept({
        result: (plan: unknown) => {
          total = (plan as unknown[]).length;
        },
      });
      compilation.hooks.packLayer.intercept({
        call: (layer: { title: string }) => {
          packing.set(layer.title, { bytes: 0, total: 0, started: this.#now() });
          if (this.tty) draw();
        },
        result: (packed: unknown) => {
          const blob = packed as PackedBlob | undefined;
          const title = blob?.descriptor.annotations?.["org.opencontainers.image.title"] ?? "?";
          packing.delete(title);
          done++;
          if (this.tty) draw();
          else {
            const size = blob ? formatBytes(blob.descriptor.size) : "";
            this.write(`packed ${printable(title)} ${size}${blob?.cached ? " (cached)" : ""}\n`);
          }
        },
      });
      if (this.tty) {
        compilation.hooks.packProgress.tap(this.name, (progress) => {
          const p = packing.get(progress.title);
          if (!p) return;
          // The rate counts from the first byte, not from the cache lookup that came before it.
          if (p.bytes === 0) p.started = this.#now();
          p.bytes = progress.bytes;
          p.total = Math.max(progress.total, progress.bytes);
          if (this.#now() - last >= REDRAW_MS) draw();
        });
      }
    });
  }
}
