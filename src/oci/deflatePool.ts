import { availableParallelism } from "node:os";
import { Worker } from "node:worker_threads";
import type { ZlibOptions } from "node:zlib";

/**
 * The worker's whole program: one `deflateRawSync` per message. It is plain CommonJS evaluated from a string, so
 * it needs no file next to the compiled module and no TypeScript loader (workers start with no execArgv).
 * Buffers travel as transferred ArrayBuffers, never copied.
 */
const WORKER_SOURCE = `
const { parentPort } = require("node:worker_threads");
const zlib = require("node:zlib");
parentPort.on("message", ({ id, input, options }) => {
  try {
    const out = zlib.deflateRawSync(input, options);
    const own = out.byteOffset === 0 && out.byteLength === out.buffer.byteLength ? out : new Uint8Array(out);
    parentPort.postMessage({ id, output: own }, [own.buffer]);
  } catch (err) {
    parentPort.postMessage({ id, error: String(err && err.message ? err.message : err) });
  }
});
`;

interface Job {
  id: number;
  input: Uint8Array;
  options: ZlibOptions;
  resolve: (out: Buffer) => void;
  reject: (err: Error) => void;
}

/**
 * A fixed-size pool of worker threads running raw deflate, so that the blocks of a large layer compress on every
 * core at once. Workers start on demand and do not keep the process alive while idle. Which worker compresses a
 * block, and when, never changes its bytes: each job is a pure function of its input and options.
 */
export class DeflatePool {
  readonly size: number;
  readonly #idle: Worker[] = [];
  readonly #busy = new Map<Worker, Job>();
  readonly #queue: Job[] = [];
  #nextId = 0;
  #closed = false;

  /** `size` workers at most; default one per available core. */
  constructor(size: number = availableParallelism()) {
    if (!Number.isSafeInteger(size) || size < 1) throw new RangeError(`deflate pool size ${size}`);
    this.size = size;
  }

  /**
   * Raw-deflates `input` with `options` on a worker thread. `input` and the dictionary are copied, except that with
   * `handOver` an input owning its whole ArrayBuffer is transferred instead (and is unusable afterwards).
   */
  deflate(input: Uint8Array, options: ZlibOptions, handOver = false): Promise<Buffer> {
    if (this.#closed) return Promise.reject(new Error("deflate pool is closed"));
    const { dictionary, ...rest } = options;
    const jobOptions: ZlibOptions = { ...rest };
    if (dictionary !== undefined) jobOptions.dictionary = ownedCopy(dictionary as Uint8Array);
    return new Promise<Buffer>((resolve, reject) => {
      this.#queue.push({
        id: this.#nextId++,
        input: handOver && ownsBuffer(input) ? input : ownedCopy(input),
        options: jobOptions,
        resolve,
        reject,
      });
      this.#dispatch();
    });
  }

  /** Stops every worker; pending jobs fail. */
  async close(): Promise<void> {
    this.#closed = true;
    for (const job of this.#queue.splice(0)) job.reject(new Error("deflate pool is closed"));
    const workers = [...this.#idle.splice(0), ...this.#busy.keys()];
    await Promise.all(workers.map((w) => w.terminate()));
  }

  #dispatch(): void {
    while (this.#queue.length > 0) {
      let worker = this.#idle.pop();
      if (!worker && this.#idle.length + this.#busy.size < this.size) worker = this.#spawn();
      if (!worker) return;
      const job = this.#queue.shift()!;
      this.#busy.set(worker, job);
      worker.ref();
      const transfer: ArrayBuffer[] = [job.input.buffer as ArrayBuffer];
      const dictionary = job.options.dictionary as Uint8Array | undefined;
      if (dictionary) transfer.push(dictionary.buffer as ArrayBuffer);
      worker.postMessage({ id: job.id, input: job.input, options: job.options }, transfer);
    }
  }

  #spawn(): Worker {
    const worker = new Worker(WORKER_SOURCE, { eval: true, execArgv: [], stdout: false, stderr: false });
    worker.on("message", (msg: { id: number; output?: Uint8Array; error?: string }) => {
      const job = this.#busy.get(worker);
      this.#busy.delete(worker);
      worker.unref();
      if (!this.#closed) this.#idle.push(worker);
      if (job) {
        if (msg.output)
          job.resolve(Buffer.from(msg.output.buffer, msg.output.byteOffset, msg.output.byteLength));
        else job.reject(new Error(`deflate failed: ${msg.error ?? "unknown error"}`));
      }
      this.#dispatch();
    });
    const lost = (err: Error) => {
      const job = this.#busy.get(worker);
      this.#busy.delete(worker);
      const i = this.#idle.indexOf(worker);
      if (i >= 0) this.#idle.splice(i, 1);
      job?.reject(err);
      if (!this.#closed) this.#dispatch();
    };
    worker.on("error", lost);
    worker.on("exit", (code) => lost(new Error(`deflate worker exited with code ${code}`)));
    return worker;
  }
}

/** True when the view covers its whole ArrayBuffer, which can then be transferred without detaching others. */
function ownsBuffer(input: Uint8Array): boolean {
  return input.byteOffset === 0 && input.byteLength === input.buffer.byteLength;
}

/** A copy with an ArrayBuffer of its own (transferable). */
function ownedCopy(input: Uint8Array): Uint8Array {
  return new Uint8Array(input);
}

let shared: DeflatePool | undefined;

/** The process-wide pool (one worker per available core), created on first use. */
export function sharedDeflatePool(): DeflatePool {
  shared ??= new DeflatePool();
  return shared;
}
