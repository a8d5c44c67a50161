import { Transform, type TransformCallback } from "node:stream";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { hasherFor } from "./digest.js";

/**
 * A pass-through stream that hashes and counts what flows through it and fails (instead of ending) when the
 * content does not have the expected digest or size. The size check fires as soon as too many bytes arrive.
 */
export class VerifyStream extends Transform {
  readonly #digest: string;
  readonly #size: number | undefined;
  readonly #hash;
  readonly #what: string;
  readonly #family: "REGISTRY" | "OCI";
  #count = 0;

  /** `family`: REGISTRY_* codes for content from a registry (default), OCI_* for local content. */
  constructor(
    digest: string,
    size: number | undefined,
    what: string,
    family: "REGISTRY" | "OCI" = "REGISTRY",
  ) {
    super();
    this.#family = family;
    this.#digest = digest;
    this.#size = size;
    this.#what = what;
    this.#hash = hasherFor(digest);
  }

  override _transform(chunk: Buffer, _encoding: BufferEncoding, callback: TransformCallback): void {
    this.#count += chunk.length;
    if (this.#size !== undefined && this.#count > this.#size) {
      callback(this.#sizeError());
      return;
    }
    this.#hash?.update(chunk);
    callback(null, chunk);
  }

  override _flush(callback: TransformCallback): void {
    if (this.#size !== undefined && this.#count !== this.#size) {
      callback(this.#sizeError());
      return;
    }
    if (this.#hash) {
      const actual = `${this.#digest.slice(0, this.#digest.indexOf(":"))}:${this.#hash.digest("hex")}`;
      if (actual !== this.#digest) {
        callback(
          new AgentrcError(
            `${this.#family}_DIGEST_MISMATCH`,
            `${this.#what}: content has digest ${actual}, expected ${this.#digest}`,
          ),
        );
        return;
      }
    }
    callback();
  }

  #sizeError(): AgentrcError {
    return new AgentrcError(
      `${this.#family}_SIZE_MISMATCH`,
      `${this.#what}: received ${this.#count}${this.#count > (this.#size ?? 0) ? "+" : ""} bytes, expected ${this.#size}`,
    );
  }
}
