import { createHash } from "node:crypto";
import { canonicalJson } from "../../src/util/canonicalJson.js";

/** A file a hand-made test package holds, for its file index. */
export interface IndexedFile {
  path: string;
  content: Buffer | string;
  layer: string;
  mode?: number;
}

/**
 * The config blob of a hand-made agent package: the fields readers require (agent, layers, files) and a file index
 * that tells the truth about `files`, so that pull's file-index check passes and what a test exercises comes after.
 */
export function agentConfigBytes(files: readonly IndexedFile[]): Buffer {
  return Buffer.from(
    canonicalJson({
      formatVersion: "agentrc.package/v1",
      agentfileVersion: "0.1.0-draft.4",
      agent: { name: "x", directives: [] },
      layers: [],
      files: files.map((f) => ({
        path: f.path,
        sha256: `sha256:${createHash("sha256").update(f.content).digest("hex")}`,
        size: Buffer.byteLength(f.content),
        mode: f.mode ?? 0o644,
        layer: f.layer,
      })),
      builder: { name: "test", version: "0", formatVersion: "agentrc.package/v1", compression: "" },
    }),
  );
}
