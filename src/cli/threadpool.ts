import { availableParallelism } from "node:os";

// Imported first by the bin, before anything touches libuv's thread pool (its size is read once, on first use):
// deflate jobs take up to one thread per core (src/oci/deflatePool.ts), and file reads need threads of their own
// beside them. An explicit UV_THREADPOOL_SIZE is kept.
if (!process.env.UV_THREADPOOL_SIZE)
  process.env.UV_THREADPOOL_SIZE = String(Math.max(4, availableParallelism() + 2));
