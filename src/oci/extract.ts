import { chmod, link, lstat, mkdir, open, readdir, realpath, rm, symlink } from "node:fs/promises";
import { posix, resolve as resolvePath, sep } from "node:path";
import { Readable } from "node:stream";
import { pipeline } from "node:stream/promises";
import zlib from "node:zlib";
import tarStream from "tar-stream";
import { AgentrcError, isAgentrcError } from "../diagnostics/AgentrcError.js";
import { fileSystemError, withFilePath } from "../diagnostics/fsError.js";
import { pushAll } from "../util/pushAll.js";
import { writeOrWait } from "../util/writeOrWait.js";

/**
 * Safe extraction of a tar or tar+gzip stream into a directory.
 *
 * Refused (error, and the partial extraction is removed): absolute paths, `..` components, backslashes, NUL;
 * device files, FIFOs and unknown entry types; symlinks unless relative and resolving inside the target
 * (checked against every other extracted symlink, so chains cannot escape); hardlinks unless they name a
 * regular file extracted earlier; entries written through an extracted symlink; duplicate paths; more than
 * `maxEntries` entries; more than `maxTotalSize` bytes of file content.
 * Modes are normalised: 0755 for directories and files with any execute bit, 0644 otherwise (never
 * setuid, setgid or sticky). Owners and mtimes from the tarball are ignored.
 */

export interface ExtractOptions {
  /** Entry limit (default 100,000). */
  maxEntries?: number;
  /** Limit on the summed size of file contents (default 4 GiB). */
  maxTotalSize?: number;
  /** "inside" (default): relative links resolving inside the target are allowed; "refuse": no links. */
  links?: "inside" | "refuse";
  /** Compression of the input; "auto" (default) detects the gzip magic bytes. */
  compression?: "auto" | "gzip" | "none";
}

export interface ExtractResult {
  /** Entries extracted (files, directories, links). */
  entries: number;
  /** Bytes of file content written. */
  bytes: number;
}

export const DEFAULT_MAX_ENTRIES = 100_000;
export const DEFAULT_MAX_TOTAL_SIZE = 4 * 1024 ** 3;

/**
 * Tar bytes that belong to no file (pax and GNU long-name records, data of skipped entries, zeros after the
 * end-of-archive marker) allowed after decompression: 8 MiB plus 8 KiB per entry. Without a bound, a small gzip
 * stream could keep the parser busy for minutes without producing a byte of content.
 */
export function tarOverheadLimit(entries: number): number {
  return 8 * 1024 * 1024 + entries * 8 * 1024;
}

export function tarOverheadError(limit: number): AgentrcError {
  return new AgentrcError(
    "OCI_EXTRACT_TOO_LARGE",
    `The tarball holds more than ${limit} bytes of headers, padding or trailing data.`,
  );
}

export type Kind = "file" | "dir" | "symlink";

/**
 * Extracts `source` into `target`, which must not exist or be an empty directory. On any error everything
 * written is removed (and `target` too if this call created it).
 */
export async function extractTar(
  source: Readable | AsyncIterable<Buffer | Uint8Array>,
  target: string,
  options: ExtractOptions = {},
): Promise<ExtractResult> {
  const absTarget = resolvePath(target);
  let created = false;
  try {
    const st = await lstat(absTarget);
    if (!st.isDirectory() || (await readdir(absTarget)).length > 0) {
      throw new AgentrcError("OCI_EXTRACT_TARGET_EXISTS", `${target} exists and is not an empty directory.`);
    }
  } catch (err) {
    if (isAgentrcError(err)) throw err;
    if ((err as NodeJS.ErrnoException).code !== "ENOENT") throw err;
    await mkdir(absTarget, { recursive: true });
    created = true;
  }
  const root = await realpath(absTarget);
  try {
    return await extractInto(source, root, options);
  } catch (err) {
    if (created) await rm(root, { recursive: true, force: true });
    else {
      for (const name of await readdir(root).catch(() => [] as string[])) {
        await rm(posix.join(root, name), { recursive: true, force: true });
      }
    }
    throw err;
  }
}

async function extractInto(
  source: Readable | AsyncIterable<Buffer | Uint8Array>,
  root: string,
  options: ExtractOptions,
): Promise<ExtractResult> {
  const maxEntries = options.maxEntries ?? DEFAULT_MAX_ENTRIES;
  const maxTotalSize = options.maxTotalSize ?? DEFAULT_MAX_TOTAL_SIZE;
  const allowLinks = (options.links ?? "inside") === "inside";

  const { stream: raw, head } = await withHead(source, 2);
  const gz =
    options.compression === "gzip" ||
    ((options.compression ?? "auto") === "auto" && head[0] === 0x1f && head[1] === 0x8b);
  let input: Readable = raw;
  let decompress: Promise<void> = Promise.resolve();
  if (gz) {
    const gunzip = zlib.createGunzip();
    decompress = pipeline(raw, gunzip).then(
      () => {},
      () => {}, // the error also surfaces when reading `gunzip`
    );
    input = gunzip;
  }

  const extract = tarStream.extract();
  // The parser's own error ("Unexpected end of data", "Invalid tar header") explains more than the
  // "Stream was destroyed" an entry stream reports.
  let parseError: unknown;
  extract.on("error", (err) => {
    parseError ??= err;
  });
  let entries = 0;
  let fed = 0; // decompressed bytes given to the parser
  let accounted = 0; // of which: entry headers and file contents
  let head512: Buffer | undefined = Buffer.alloc(0); // the first block, until its checksum is checked
  const feed = (async () => {
    for await (const chunk of input) {
      // In pieces, so that the parser sees a garbage header before the overhead count of one huge chunk does.
      for (let at = 0; at < chunk.length; at += FEED_PIECE) {
        const piece = chunk.subarray(at, at + FEED_PIECE);
        if (head512 !== undefined) {
          head512 = Buffer.concat([head512, piece.subarray(0, 512 - head512.length)]);
          if (head512.length === 512) {
            if (!headerChecksumOk(head512)) {
              throw new AgentrcError(
                "OCI_EXTRACT_CORRUPT",
                "The tarball is corrupt: the tar header at byte 0 has a bad checksum (the stream is damaged, or is not a tar).",
              );
            }
            head512 = undefined;
          }
        }
        fed += piece.length;
        if (fed - accounted > tarOverheadLimit(entries)) throw tarOverheadError(tarOverheadLimit(entries));
        await writeOrWait(extract, piece);
        if (extract.destroyed || extract.destroying) return;
      }
    }
    extract.end(undefined);
  })();
  feed.catch((err: unknown) => extract.destroy(err instanceof Error ? err : new Error(String(err))));

  const kinds = new Map<string, Kind>();
  const symlinks = new Map<string, string>();
  const abs = (p: string) => root + sep + p.split("/").join(sep);
  let bytes = 0;
  let declared = 0;

  try {
    for await (const entry of extract) {
      const h = entry.header;
      entries++;
      accounted += 512;
      if (entries > maxEntries) {
        throw new AgentrcError(
          "OCI_EXTRACT_TOO_MANY_ENTRIES",
          `The tarball has more than ${maxEntries} entries.`,
        );
      }
      const name = safeName(h.name);
      if (name === undefined) {
        // The root itself (`./`): nothing to create.
        await drain(entry);
        entries--;
        continue;
      }
      const kind = entryKind(h.type, h.name);
      const newParents = checkParents(name, kinds);
      const existing = kinds.get(name);
      if (existing !== undefined && !(existing === "dir" && kind === "dir")) {
        throw new AgentrcError(
          "OCI_EXTRACT_DUPLICATE_PATH",
          `The tarball holds ${JSON.stringify(name)} twice.`,
        );
      }
      if (newParents.length > 0) {
        await mkdir(abs(posix.dirname(name)), { recursive: true, mode: 0o755 });
        for (const p of newParents) await chmod(abs(p), 0o755); // independent of the umask
      }
      const executable = (h.mode & 0o111) !== 0;
      switch (kind) {
        case "dir": {
          // tar-stream neither skips nor ends the content of a directory that declares some: draining it would
          // wait for ever, and the bytes would be parsed as the next header. No real tarball has any.
          if (h.size) {
            throw new AgentrcError(
              "OCI_EXTRACT_CORRUPT",
              `The tarball is corrupt: the directory entry ${JSON.stringify(name)} declares ${h.size} bytes of content.`,
            );
          }
          // A directory may be repeated (tar writers do, a hostile tar may 100,000 times): created once.
          if (existing === undefined) {
            await mkdir(abs(name), { recursive: true, mode: 0o755 });
            await chmod(abs(name), 0o755);
            kinds.set(name, "dir");
          }
          await drain(entry);
          break;
        }
        case "file": {
          declared += h.size;
          if (declared > maxTotalSize) {
            throw new AgentrcError(
              "OCI_EXTRACT_TOO_LARGE",
              `The tarball holds more than ${maxTotalSize} bytes.`,
            );
          }
          kinds.set(name, "file");
          accounted += Math.ceil(h.size / 512) * 512;
          const fh = await open(abs(name), "wx", 0o600);
          try {
            for await (const chunk of entry as AsyncIterable<Buffer>) {
              bytes += chunk.length;
              if (bytes > maxTotalSize) {
                throw new AgentrcError(
                  "OCI_EXTRACT_TOO_LARGE",
                  `The tarball holds more than ${maxTotalSize} bytes.`,
                );
              }
              await fh.write(chunk).catch((err: unknown) => {
                throw withFilePath(err, abs(name));
              });
            }
          } finally {
            await fh.close();
          }
          await chmod(abs(name), executable ? 0o755 : 0o644);
          break;
        }
        case "symlink": {
          if (!allowLinks) throw linkRefused(name, "symlink");
          const target = h.linkname ?? "";
          checkSymlinkTarget(name, target);
          symlinks.set(name, target);
          kinds.set(name, "symlink");
          await symlink(target, abs(name));
          await drain(entry);
          break;
        }
        case "link": {
          if (!allowLinks) throw linkRefused(name, "hardlink");
          const target = safeName(h.linkname ?? "", "OCI_EXTRACT_LINK_ESCAPE");
          if (target === undefined || kinds.get(target) !== "file") {
            throw new AgentrcError(
              "OCI_EXTRACT_LINK_ESCAPE",
              `Hardlink ${JSON.stringify(name)} points at ${JSON.stringify(h.linkname)}, which is not a file extracted earlier.`,
            );
          }
          await link(abs(target), abs(name));
          kinds.set(name, "file");
          await drain(entry);
          break;
        }
      }
    }
    await feed;
    await decompress;
  } catch (err) {
    extract.destroy();
    input.destroy();
    raw.destroy();
    throw corrupt(isAgentrcError(err) || parseError === undefined ? err : parseError);
  }
  // Every symlink must resolve inside, taking the other symlinks into account.
  for (const name of symlinks.keys()) resolveInside(name, symlinks);
  return { entries, bytes };
}

/** Decompressed bytes handed to the tar parser at a time. */
const FEED_PIECE = 64 * 1024;

/**
 * True when a 512-byte block is a tar header whose checksum matches (or is all zeros, the end-of-archive marker):
 * the unsigned sum of its bytes with the checksum field (148..155) counted as spaces, stored there in octal.
 */
export function headerChecksumOk(block: Buffer): boolean {
  let sum = 8 * 0x20;
  let zero = true;
  for (let i = 0; i < 512; i++) {
    const b = block[i]!;
    if (b !== 0) zero = false;
    if (i < 148 || i >= 156) sum += b;
  }
  if (zero) return true;
  const field = /^[ \0]*([0-7]{1,8})[ \0]*$/.exec(block.subarray(148, 156).toString("latin1"));
  return field !== null && Number.parseInt(field[1]!, 8) === sum;
}

/** Filesystem errors (ENOSPC, EACCES, …) pass through; stream, tar and zlib errors mean a corrupt input. */
function corrupt(err: unknown): unknown {
  if (isAgentrcError(err)) return err;
  const code = (err as NodeJS.ErrnoException | undefined)?.code;
  if (typeof code === "string" && /^E[A-Z]+$/.test(code)) return fileSystemError(err) ?? err;
  const message = err instanceof Error ? err.message : String(err);
  return new AgentrcError(
    "OCI_EXTRACT_CORRUPT",
    /^Invalid tar header\. Maybe/.test(message)
      ? "The tarball is corrupt: a tar header has a bad checksum (the stream is damaged, or is not a tar)."
      : `The tarball is corrupt: ${message}.`,
    { cause: err },
  );
}

export function linkRefused(name: string, what: string): AgentrcError {
  return new AgentrcError(
    "OCI_EXTRACT_LINK_ESCAPE",
    `The tarball holds a ${what} ${JSON.stringify(name)}; links are not allowed here.`,
  );
}

export function entryKind(type: string | null | undefined, name: string): Kind | "link" {
  switch (type) {
    case "file":
    case "contiguous-file":
      return "file";
    case "directory":
      return "dir";
    case "symlink":
      return "symlink";
    case "link":
      return "link";
    default:
      throw new AgentrcError(
        "OCI_EXTRACT_SPECIAL_FILE",
        `The tarball entry ${JSON.stringify(name)} is a ${type ?? "unknown-type"} entry, which is never extracted.`,
      );
  }
}

/**
 * Normalises an entry name to `a/b/c` (no `./`, no trailing `/`); undefined for the root.
 * Throws OCI_EXTRACT_PATH_UNSAFE (or `code`) for absolute paths, `..`, backslashes and NUL.
 */
export function safeName(
  name: string,
  code: "OCI_EXTRACT_PATH_UNSAFE" | "OCI_EXTRACT_LINK_ESCAPE" = "OCI_EXTRACT_PATH_UNSAFE",
): string | undefined {
  const shown = JSON.stringify(name);
  if (name.includes("\0"))
    throw new AgentrcError(code, `The tarball entry ${shown} contains a NUL character.`);
  if (name.includes("\\")) throw new AgentrcError(code, `The tarball entry ${shown} contains a backslash.`);
  if (name.startsWith("/")) throw new AgentrcError(code, `The tarball entry ${shown} is an absolute path.`);
  if (/^[A-Za-z]:/.test(name)) throw new AgentrcError(code, `The tarball entry ${shown} has a drive letter.`);
  const parts = name.split("/").filter((p) => p !== "" && p !== ".");
  if (parts.includes("..")) throw new AgentrcError(code, `The tarball entry ${shown} contains "..".`);
  return parts.length === 0 ? undefined : parts.join("/");
}

/**
 * No ancestor of `name` may be an extracted symlink or file; ancestors become directories.
 * Returns the ancestors seen for the first time (to be created).
 */
function checkParents(name: string, kinds: Map<string, Kind>): string[] {
  const created: string[] = [];
  const parts = name.split("/");
  for (let i = 1; i < parts.length; i++) {
    const parent = parts.slice(0, i).join("/");
    const k = kinds.get(parent);
    if (k === "symlink") {
      throw new AgentrcError(
        "OCI_EXTRACT_THROUGH_SYMLINK",
        `The tarball entry ${JSON.stringify(name)} lies under the symlink ${JSON.stringify(parent)}.`,
      );
    }
    if (k === "file") {
      throw new AgentrcError(
        "OCI_EXTRACT_DUPLICATE_PATH",
        `The tarball entry ${JSON.stringify(name)} lies under the file ${JSON.stringify(parent)}.`,
      );
    }
    if (k === undefined) {
      kinds.set(parent, "dir");
      created.push(parent);
    }
  }
  return created;
}

function checkSymlinkTarget(name: string, target: string): void {
  const shown = `Symlink ${JSON.stringify(name)} -> ${JSON.stringify(target)}`;
  if (target === "" || target.includes("\0") || target.includes("\\")) {
    throw new AgentrcError("OCI_EXTRACT_LINK_ESCAPE", `${shown} has an invalid target.`);
  }
  if (target.startsWith("/")) throw new AgentrcError("OCI_EXTRACT_LINK_ESCAPE", `${shown} is absolute.`);
  const joined = posix.normalize(posix.join(posix.dirname(name), target));
  if (joined === ".." || joined.startsWith("../")) {
    throw new AgentrcError("OCI_EXTRACT_LINK_ESCAPE", `${shown} points outside the extraction directory.`);
  }
}

/**
 * Resolves `name` component by component through the extracted symlinks (exactly what the kernel would do
 * in this tree) and throws OCI_EXTRACT_LINK_ESCAPE if the walk leaves the root or loops.
 */
function resolveInside(name: string, symlinks: Map<string, string>): void {
  let hops = 0;
  const walk = (components: string[], base: string[]): string[] => {
    const out = [...base];
    for (const c of components) {
      if (c === "" || c === ".") continue;
      if (c === "..") {
        if (out.length === 0) {
          throw new AgentrcError(
            "OCI_EXTRACT_LINK_ESCAPE",
            `Symlink ${JSON.stringify(name)} resolves outside the extraction directory.`,
          );
        }
        out.pop();
        continue;
      }
      out.push(c);
      const target = symlinks.get(out.join("/"));
      if (target !== undefined) {
        if (++hops > 40) {
          throw new AgentrcError("OCI_EXTRACT_LINK_ESCAPE", `Symlink ${JSON.stringify(name)} loops.`);
        }
        out.pop();
        const resolved = walk(target.split("/"), out);
        out.length = 0;
        pushAll(out, resolved);
      }
    }
    return out;
  };
  walk(name.split("/"), []);
}

async function drain(entry: AsyncIterable<unknown>): Promise<void> {
  for await (const _ of entry) {
    // discard
  }
}

/** Reads at least `n` bytes (or to the end) and returns them plus a stream of the whole input. */
async function withHead(
  source: Readable | AsyncIterable<Buffer | Uint8Array>,
  n: number,
): Promise<{ stream: Readable; head: Buffer }> {
  const it = source[Symbol.asyncIterator]();
  const chunks: Buffer[] = [];
  let len = 0;
  let ended = false;
  while (len < n) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    const b = Buffer.from(r.value as Uint8Array);
    chunks.push(b);
    len += b.length;
  }
  async function* all(): AsyncGenerator<Buffer> {
    yield* chunks;
    if (ended) return;
    for (;;) {
      const r = await it.next();
      if (r.done) return;
      yield Buffer.from(r.value as Uint8Array);
    }
  }
  const stream = Readable.from(all(), { objectMode: false });
  stream.once("close", () => {
    if (!stream.readableEnded) void it.return?.();
  });
  return { stream, head: Buffer.concat(chunks) };
}
