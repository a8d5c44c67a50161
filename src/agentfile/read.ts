import { createHash } from "node:crypto";
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { diagnostic } from "../diagnostics/create.js";
import type { Diagnostic } from "../diagnostics/types.js";

/** Agentfiles above this size are refused before parsing (a policy or SOP this large belongs in a file). */
export const MAX_AGENTFILE_BYTES = 1024 * 1024;

export type ReadAgentfileResult =
  | { ok: true; text: string /** sha256 of the file's bytes */; digest: string }
  | { ok: false; diagnostic: Diagnostic };

/** Reads the Agentfile as UTF-8 text, refusing missing, oversized and binary files with a diagnostic. */
export async function readAgentfile(context: string, file: string): Promise<ReadAgentfileResult> {
  const path = join(context, file);
  const top = { file, line: 1, column: 1 };
  let size: number;
  try {
    const s = await stat(path);
    if (!s.isFile()) {
      return {
        ok: false,
        diagnostic: diagnostic("AGENTFILE_NOT_FOUND", `${file} is not a regular file`, top),
      };
    }
    size = s.size;
  } catch {
    return {
      ok: false,
      diagnostic: diagnostic("AGENTFILE_NOT_FOUND", `no ${file} in ${context}`, {
        ...top,
        line: 0,
        column: 0,
      }),
    };
  }
  if (size > MAX_AGENTFILE_BYTES) {
    return {
      ok: false,
      diagnostic: diagnostic(
        "AGENTFILE_TOO_LARGE",
        `${file} is ${size} bytes; the limit is ${MAX_AGENTFILE_BYTES} bytes`,
        top,
      ),
    };
  }
  const bytes = await readFile(path);
  const nul = bytes.indexOf(0);
  if (nul >= 0) {
    const before = bytes.subarray(0, nul).toString("latin1").split("\n");
    return {
      ok: false,
      diagnostic: diagnostic("AGENTFILE_BINARY", `${file} is not text: it contains a NUL byte`, {
        file,
        line: before.length,
        column: before[before.length - 1]!.length + 1,
      }),
    };
  }
  try {
    const text = new TextDecoder("utf-8", { fatal: true }).decode(bytes);
    return { ok: true, text, digest: `sha256:${createHash("sha256").update(bytes).digest("hex")}` };
  } catch {
    return { ok: false, diagnostic: diagnostic("AGENTFILE_BINARY", `${file} is not valid UTF-8 text`, top) };
  }
}
