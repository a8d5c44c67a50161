import assert from "node:assert/strict";
import { Readable, Writable } from "node:stream";
import { test } from "node:test";
import { packLayer } from "../../src/oci/pack.js";
import type { TarEntry } from "../../src/oci/tar.js";

const MiB = 1024 * 1024;

/** A stream of `size` bytes of text-like data, generated on the fly (never held in memory). */
function generated(size: number, seed: number): Readable {
  let x = seed >>> 0 || 1;
  let left = size;
  return new Readable({
    read() {
      const n = Math.min(64 * 1024, left);
      if (n === 0) return void this.push(null);
      const b = Buffer.allocUnsafe(n);
      for (let i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >>> 17;
        x ^= x << 5;
        b[i] = 97 + ((x >>> 0) % 16);
      }
      left -= n;
      this.push(b);
    },
  });
}

test("packing 256 MiB keeps memory flat (streams, one file at a time)", async (t) => {
  const files = 8;
  const each = 32 * MiB;
  const entries: TarEntry[] = Array.from({ length: files }, (_, i) => ({
    path: `data/part-${i}.txt`,
    kind: "file" as const,
    size: each,
    content: () => generated(each, i + 1),
  }));
  let written = 0;
  const sink = new Writable({
    highWaterMark: 64 * 1024,
    write(chunk: Buffer, _e, cb) {
      written += chunk.length;
      cb();
    },
  });
  const before = process.memoryUsage().rss;
  let peak = before;
  const timer = setInterval(() => {
    peak = Math.max(peak, process.memoryUsage().rss);
  }, 20);
  try {
    const r = await packLayer(entries, { epoch: 0, destination: sink });
    assert.equal(r.uncompressedSize, 512 * (1 + files) + files * each + 1024);
    assert.equal(r.size, written);
  } finally {
    clearInterval(timer);
  }
  const growth = (peak - before) / MiB;
  t.diagnostic(`RSS growth ${growth.toFixed(1)} MiB`);
  assert.ok(growth < 96, `RSS grew by ${growth.toFixed(1)} MiB while packing ${(files * each) / MiB} MiB`);
});
