import { AgentrcError } from "./AgentrcError.js";

/**
 * The coded error for a file-system failure the user can act on — a full disk or quota (FS_NO_SPACE), a name over
 * the system's limit (FS_NAME_TOO_LONG) — naming `path` (else the path the error itself carries); undefined for
 * anything else. A write's ENOSPC carries no path, so writers pass the file they were writing.
 */
export function fileSystemError(err: unknown, path?: string): AgentrcError | undefined {
  const e = err as (NodeJS.ErrnoException & { path?: string }) | undefined;
  const where = path ?? e?.path;
  switch (e?.code) {
    case "ENOSPC":
    case "EDQUOT":
      return new AgentrcError(
        "FS_NO_SPACE",
        where === undefined ? "no space left on the device" : `no space left on the device writing ${where}`,
        { cause: err },
      );
    case "ENAMETOOLONG":
      return new AgentrcError(
        "FS_NAME_TOO_LONG",
        where === undefined ? "a file name is too long" : `a file name is too long: ${where}`,
        { cause: err },
      );
    default:
      return undefined;
  }
}

/** `err` as a coded file-system error naming `path` when it is one, else unchanged: for `catch (e) { throw … }`. */
export function withFilePath(err: unknown, path: string): unknown {
  return fileSystemError(err, path) ?? err;
}
