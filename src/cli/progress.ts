import type { PackedBlob } from "../compiler/payloads.js";
import type { AgentrcPlugin, Compiler } from "../core.js";

export const formatBytes = (n: number): string => {
  const units = ["B", "KiB", "MiB", "GiB"];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
};

/**
 * Reports packing progress through hook interceptors only (as webpack's ProgressPlugin does): one updating line on
 * a TTY, one plain line per layer otherwise.
 */
export class PackProgressPlugin implements AgentrcPlugin {
  readonly name = "cli-progress";
  constructor(
    private readonly write: (s: string) => void,
    private readonly tty: boolean,
  ) {}

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(this.name, (compilation) => {
      let total = 0;
      let done = 0;
      const running = new Set<string>();
      compilation.hooks.layers.intercept({
        result: (plan: unknown) => {
          total = (plan as unknown[]).length;
        },
      });
      compilation.hooks.packLayer.intercept({
        call: (layer: { title: string }) => {
          running.add(layer.title);
          if (this.tty) this.#line(`packing ${done}/${total}: ${[...running].join(", ")}`);
        },
        result: (packed: unknown) => {
          const blob = packed as PackedBlob | undefined;
          const title = blob?.descriptor.annotations?.["org.opencontainers.image.title"] ?? "?";
          running.delete(title);
          done++;
          const size = blob ? formatBytes(blob.descriptor.size) : "";
          if (this.tty)
            this.#line(`packing ${done}/${total}: ${title} ${size}${blob?.cached ? " (cached)" : ""}`);
          else this.write(`packed ${title} ${size}${blob?.cached ? " (cached)" : ""}\n`);
        },
      });
      compiler.hooks.emit.intercept({
        call: () => {
          if (this.tty) this.#line("");
        },
      });
    });
  }

  #line(text: string): void {
    this.write(`\r\u001b[2K${text}`);
  }
}
