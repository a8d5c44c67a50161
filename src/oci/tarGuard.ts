import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { tarOverheadError, tarOverheadLimit } from "./extract.js";

/**
 * Walks the headers of an uncompressed tar stream as it goes by and throws as soon as what they declare is over a
 * limit: more than `maxEntries` entries (OCI_EXTRACT_TOO_MANY_ENTRIES), more than `maxBytes` of file content, or more
 * than `tarOverheadLimit` bytes that belong to no file (OCI_EXTRACT_TOO_LARGE). It judges a header by the size it
 * declares, before that data is inflated, so a pax record declaring a terabyte is refused at once (tar-stream would
 * only call it an oversized header). Malformed headers are left to the tar parser, which reports them precisely.
 */
export function tarHeaderGuard(maxEntries: number, maxBytes: number, what: string): (chunk: Buffer) => void {
  let pending: Buffer = Buffer.alloc(0);
  let skip = 0; // bytes of entry data still to skip
  let entries = 0;
  let bytes = 0;
  let overhead = 0; // bytes that belong to no file: metadata records, data of other entries, zero blocks
  let done = false; // an unparseable header: the parser reports it
  const checkOverhead = () => {
    if (overhead > tarOverheadLimit(entries)) throw tarOverheadError(tarOverheadLimit(entries));
  };
  return (chunk) => {
    if (done) return;
    pending = pending.length === 0 ? chunk : Buffer.concat([pending, chunk]);
    let at = 0;
    while (true) {
      if (skip > 0) {
        const n = Math.min(skip, pending.length - at);
        skip -= n;
        at += n;
        if (skip > 0) break;
      }
      if (pending.length - at < 512) break;
      const header = pending.subarray(at, at + 512);
      at += 512;
      // zero blocks: the end-of-archive marker, which tar-stream (like `tar -i`) reads past
      if (header.every((b) => b === 0)) {
        overhead += 512;
        checkOverhead();
        continue;
      }
      const size = octal(header.subarray(124, 136));
      if (size === undefined) {
        done = true;
        return;
      }
      const type = String.fromCharCode(header[156]!);
      skip = Math.ceil(size / 512) * 512;
      const isFile = type === "0" || type === "\0" || type === "7";
      if (!isFile) overhead += skip;
      if ("xgLK".includes(type)) {
        // metadata records of the next entry
        overhead += 512;
        checkOverhead();
        continue;
      }
      entries++;
      checkOverhead();
      if (isFile) bytes += size;
      if (entries > maxEntries) {
        throw new AgentrcError(
          "OCI_EXTRACT_TOO_MANY_ENTRIES",
          `The tarball has more than ${maxEntries} entries (layer ${what}).`,
        );
      }
      if (bytes > maxBytes) {
        throw new AgentrcError(
          "OCI_EXTRACT_TOO_LARGE",
          `The tarball holds more than ${maxBytes} bytes (layer ${what}).`,
        );
      }
    }
    pending = pending.subarray(at);
  };
}

/** A tar numeric field (octal, or GNU base-256 for large sizes); undefined when unparseable. */
function octal(field: Buffer): number | undefined {
  if ((field[0]! & 0x80) !== 0) {
    let n = 0;
    for (let i = 1; i < field.length; i++) n = n * 256 + field[i]!;
    return n;
  }
  const text = field.toString("ascii").replace(/\0.*$/s, "").trim();
  if (text === "") return 0;
  return /^[0-7]+$/.test(text) ? Number.parseInt(text, 8) : undefined;
}
