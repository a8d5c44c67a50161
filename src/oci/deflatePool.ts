import { availableParallelism } from "node:os";
import zlib from "node:zlib";

interface Job {
  input: Uint8Array;
  options: zlib.ZlibOptions;
  resolve: (out: Buffer) => void;
  reject: (err: Error) => void;
}

/**
 * Runs raw deflate jobs on libuv's thread pool (`zlib.deflateRaw`), at most `size` at once, so that the blocks of
 * a large layer compress on every core while the main thread reads, tars and hashes. Which thread compresses a
 * block, and when, never changes its bytes: each job is a pure function of its input and options.
 *
 * libuv's pool rather than worker threads: measured on 256 MiB, two workers grew the process by about 100 MiB
 * (each isolate keeps dead input and output buffers until its own GC gets round to them), the thread pool by less
 * than half of that, with the same speed. libuv's pool has 4 threads unless UV_THREADPOOL_SIZE says otherwise;
 * the CLI raises it to the core count plus two, so that file reads keep threads of their own.
 */
export class DeflatePool {
  readonly size: number;
  readonly #queue: Job[] = [];
  #running = 0;
  #closed = false;

  /** `size` jobs at most at once; default one per available core. */
  constructor(size: number = availableParallelism()) {
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`deflate pool size ${size}`);
    this.size = size;
  }

  /** Raw-deflates `input` with `options` off the main thread. */
  deflate(input: Uint8Array, options: zlib.ZlibOptions): Promise<Buffer> {
    if (this.#closed) return Promise.reject(new Error("deflate pool is closed"));
    return new Promise<Buffer>((resolve, reject) => {
      this.#queue.push({ input, options, resolve, reject });
      this.#dispatch();
    });
  }

  /** Refuses new jobs; queued ones fail, running ones finish. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#queue.splice(0)) job.reject(new Error("deflate pool is closed"));
  }

  #dispatch(): void {
    while (this.#running < this.size && this.#queue.length > 0) {
      const job = this.#queue.shift()!;
      this.#running++;
      zlib.deflateRaw(job.input, job.options, (err, out) => {
        this.#running--;
        if (err) job.reject(new Error(`deflate failed: ${err.message}`));
        else job.resolve(out);
        this.#dispatch();
      });
    }
  }
}

let shared: DeflatePool | undefined;

/** The process-wide pool (one job per available core), created on first use. */
export function sharedDeflatePool(): DeflatePool {
  shared ??= new DeflatePool();
  return shared;
}
