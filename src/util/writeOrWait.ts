/** What `writeOrWait` needs of a stream: node's Writable, zlib's streams and tar-stream's parser all have it. */
export interface BackpressureSink {
  write(chunk: Buffer | Uint8Array): boolean;
  readonly destroyed: boolean;
  on(event: "drain" | "close", listener: () => void): unknown;
  off(event: "drain" | "close", listener: () => void): unknown;
}

/**
 * Writes `chunk` to `sink`; when the sink's buffer is full, settles once it has drained or closed. A sink destroyed
 * while full (a parser that failed, a consumer that stopped reading) never drains but always closes: waiting for
 * "drain" alone would wait for ever, and so would waiting for "close" after it was emitted. The caller checks
 * `sink.destroyed` afterwards if it must stop then.
 */
export async function writeOrWait(sink: BackpressureSink, chunk: Buffer | Uint8Array): Promise<void> {
  if (sink.write(chunk) || sink.destroyed) return; // a destroyed sink has closed, or will close without "drain"
  await new Promise<void>((resolve) => {
    const done = () => {
      sink.off("drain", done);
      sink.off("close", done);
      resolve();
    };
    sink.on("drain", done);
    sink.on("close", done);
  });
}
