import { Readable } from "node:stream";
import tarStream from "tar-stream";
import { AgentrcError } from "../diagnostics/AgentrcError.js";

/**
 * Deterministic tar writer (docs/package.md; the header rules follow reproducible-builds.org's archive advice):
 * - entries sorted by the UTF-8 bytes of their tar name (directories carry a trailing `/`);
 * - every parent directory synthesised, with a trailing `/`, no root entry; with a `root`, every entry lies at or below
 *   it and no directory above it is written (oras-go unpacks a layer into `<out>/<title>` and refuses the rest);
 * - mtime = the epoch, uid/gid 0, empty uname/gname, mode 0644 or 0755 (executables, directories);
 * - ustar headers; a PAX header (holding only `path`) only when the name does not fit ustar;
 * - file contents streamed one entry at a time.
 */

/** Where a file's bytes come from: a buffer, or a function opening a stream when the entry is written. */
export type ContentSource =
  | Buffer
  | Uint8Array
  | (() => Readable | AsyncIterable<Buffer> | Promise<Readable>);

export interface TarEntry {
  /** Relative path with `/` separators; a trailing `/` is allowed for directories. */
  path: string;
  kind: "file" | "dir";
  /** File gets mode 0755 instead of 0644. Ignored for directories (always 0755). */
  executable?: boolean;
  /** Byte size; required when `content` is a function, checked against a buffer. */
  size?: number;
  /** File content; an absent content means an empty file. */
  content?: ContentSource;
}

export interface TarOptions {
  /** Seconds since 1970 used as every entry's mtime (SOURCE_DATE_EPOCH or 0). */
  epoch: number;
  /**
   * The directory every entry must lie in (a layer's `org.opencontainers.image.title`): paths elsewhere are
   * OCI_TAR_PATH_OUTSIDE_ROOT, and parents above it are not written (the root itself is).
   */
  root?: string;
}

/** A validated, normalised entry in write order. */
export interface PlannedEntry {
  /** Name as written to the tar (directories end in `/`). */
  name: string;
  kind: "file" | "dir";
  mode: 0o644 | 0o755;
  size: number;
  content?: ContentSource;
}

export const FILE_MODE = 0o644;
export const EXEC_MODE = 0o755;
export const DIR_MODE = 0o755;
export const MAX_EPOCH = 2 ** 31 - 1;

/** Validates an epoch in seconds (tar-stream writes mtime as a signed 32-bit value). */
export function checkEpoch(epoch: number): number {
  if (!Number.isSafeInteger(epoch) || epoch < 0 || epoch > MAX_EPOCH) {
    throw new AgentrcError("OCI_EPOCH_INVALID", `Invalid epoch ${String(epoch)}: expected 0..${MAX_EPOCH}.`);
  }
  return epoch;
}

/**
 * Parses SOURCE_DATE_EPOCH strictly: unset or empty gives 0; anything but decimal digits in range is an error
 * (garbage must not silently become "now" or 0).
 */
export function parseSourceDateEpoch(value: string | undefined = process.env.SOURCE_DATE_EPOCH): number {
  if (value === undefined || value === "") return 0;
  if (!/^[0-9]+$/.test(value)) {
    throw new AgentrcError(
      "OCI_EPOCH_INVALID",
      `SOURCE_DATE_EPOCH=${JSON.stringify(value)} is not an integer.`,
    );
  }
  return checkEpoch(Number(value));
}

/**
 * Validates a layer path and returns it without a trailing `/`.
 * Rejects empty paths, absolute paths, `..`, `.` and empty components, backslashes and NUL.
 */
export function validateTarPath(path: string, kind: "file" | "dir"): string {
  const shown = JSON.stringify(path);
  if (path.includes("\0")) {
    throw new AgentrcError("OCI_TAR_PATH_INVALID", `Layer path ${shown} contains a NUL character.`);
  }
  if (path.includes("\\")) {
    throw new AgentrcError("OCI_TAR_PATH_INVALID", `Layer path ${shown} contains a backslash.`, {
      hint: "Use `/` as the path separator.",
    });
  }
  if (path.startsWith("/")) {
    throw new AgentrcError("OCI_TAR_PATH_ABSOLUTE", `Layer path ${shown} is absolute.`);
  }
  let p = path;
  if (kind === "dir" && p.endsWith("/")) p = p.slice(0, -1);
  if (p === "") throw new AgentrcError("OCI_TAR_PATH_INVALID", `Layer path ${shown} is empty.`);
  for (const part of p.split("/")) {
    if (part === "..") {
      throw new AgentrcError("OCI_TAR_PATH_TRAVERSAL", `Layer path ${shown} contains "..".`);
    }
    if (part === "" || part === ".") {
      throw new AgentrcError(
        "OCI_TAR_PATH_INVALID",
        `Layer path ${shown} has an empty or "." component${kind === "file" && p.endsWith("/") ? " (a file path ends in /)" : ""}.`,
      );
    }
  }
  return p;
}

/** Byte-wise (UTF-8) comparison, independent of locale and ICU. */
export function compareUtf8(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/**
 * Validates entries, synthesises parent directories (down from `root` when given), and sorts by the UTF-8 bytes of
 * the tar name. Throws on duplicates (an explicit directory that is also a synthesised parent is not a duplicate)
 * and on entries outside `root`.
 */
export function planEntries(entries: readonly TarEntry[], root?: string): PlannedEntry[] {
  const files = new Map<string, PlannedEntry>();
  const dirs = new Set<string>();
  const explicitDirs = new Set<string>();
  const base = root === undefined ? undefined : validateTarPath(root, "dir");
  // Only the root and its descendants are written; `a` is above the root `a/b` and stops the parent walk.
  const inside = (p: string) => base === undefined || p === base || p.startsWith(`${base}/`);
  for (const e of entries) {
    const p = validateTarPath(e.path, e.kind);
    if (!inside(p) || (p === base && e.kind === "file")) {
      throw new AgentrcError(
        "OCI_TAR_PATH_OUTSIDE_ROOT",
        `Layer path ${JSON.stringify(p)} is not below the layer root ${JSON.stringify(base)}.`,
      );
    }
    if (e.kind === "dir") {
      if (explicitDirs.has(p) || files.has(p)) {
        throw new AgentrcError("OCI_TAR_DUPLICATE_PATH", `Duplicate layer path ${JSON.stringify(p)}.`);
      }
      explicitDirs.add(p);
      dirs.add(p);
    } else {
      if (files.has(p) || explicitDirs.has(p)) {
        throw new AgentrcError("OCI_TAR_DUPLICATE_PATH", `Duplicate layer path ${JSON.stringify(p)}.`);
      }
      const size = entrySize(e, p);
      const planned: PlannedEntry = {
        name: p,
        kind: "file",
        mode: e.executable ? EXEC_MODE : FILE_MODE,
        size,
      };
      if (e.content !== undefined) planned.content = e.content;
      files.set(p, planned);
    }
    // Parents.
    let i = p.lastIndexOf("/");
    while (i > 0) {
      const parent = p.slice(0, i);
      if (dirs.has(parent) || !inside(parent)) break;
      dirs.add(parent);
      i = parent.lastIndexOf("/");
    }
  }
  for (const d of dirs) {
    if (files.has(d)) {
      throw new AgentrcError(
        "OCI_TAR_DUPLICATE_PATH",
        `Layer path ${JSON.stringify(d)} is both a file and a directory.`,
      );
    }
  }
  const out: PlannedEntry[] = [...files.values()];
  for (const d of dirs) out.push({ name: `${d}/`, kind: "dir", mode: DIR_MODE, size: 0 });
  const keyed = out.map((e) => ({ e, key: Buffer.from(e.name, "utf8") }));
  keyed.sort((a, b) => Buffer.compare(a.key, b.key));
  return keyed.map((k) => k.e);
}

function entrySize(e: TarEntry, p: string): number {
  const c = e.content;
  if (c === undefined) {
    if (e.size !== undefined && e.size !== 0) {
      throw new AgentrcError(
        "OCI_TAR_SIZE_MISMATCH",
        `Layer file ${JSON.stringify(p)} has a size but no content.`,
      );
    }
    return 0;
  }
  if (typeof c !== "function") {
    if (e.size !== undefined && e.size !== c.byteLength) {
      throw new AgentrcError(
        "OCI_TAR_SIZE_MISMATCH",
        `Layer file ${JSON.stringify(p)}: declared size ${e.size} but the content has ${c.byteLength} bytes.`,
      );
    }
    return c.byteLength;
  }
  if (e.size === undefined || !Number.isSafeInteger(e.size) || e.size < 0) {
    throw new AgentrcError(
      "OCI_TAR_SIZE_MISMATCH",
      `Layer file ${JSON.stringify(p)} is streamed but has no valid size.`,
      { hint: "Pass the file size (from stat) with streamed content." },
    );
  }
  return e.size;
}

/** True when the name fits a ustar header: ASCII, name part ≤ 100 bytes (non-empty), prefix ≤ 155 bytes. */
export function fitsUstar(name: string): boolean {
  if (!/^[\x20-\x7e]*$/.test(name)) return false;
  if (name.length <= 100) return true;
  // tar-stream moves leading components into the prefix until the rest fits; mirror that split.
  let rest = name;
  let prefix = "";
  while (rest.length > 100) {
    const i = rest.indexOf("/");
    if (i === -1) return false;
    prefix += prefix ? `/${rest.slice(0, i)}` : rest.slice(0, i);
    rest = rest.slice(i + 1);
  }
  return rest.length > 0 && prefix.length <= 155;
}

/**
 * Creates the tar byte stream for `entries`. Contents are opened one at a time, in write order.
 * Errors (bad paths, size mismatch, content errors) destroy the returned stream.
 */
export function createTarStream(entries: readonly TarEntry[], options: TarOptions): Readable {
  const epoch = checkEpoch(options.epoch);
  const plan = planEntries(entries, options.root);
  return createTarStreamFromPlan(plan, epoch);
}

/** Like createTarStream, for an already planned (sorted, validated) list. */
export function createTarStreamFromPlan(plan: readonly PlannedEntry[], epoch: number): Readable {
  const mtime = new Date(checkEpoch(epoch) * 1000);
  const pack = tarStream.pack();
  const out = Readable.from(pack as AsyncIterable<Buffer>, { objectMode: false, highWaterMark: 64 * 1024 });
  let failed = false;
  const fail = (err: unknown) => {
    if (failed) return;
    failed = true;
    const e = err instanceof Error ? err : new Error(String(err));
    out.destroy(e);
    pack.destroy(e);
  };
  // Errors reach the consumer through `out`; the pack's own error event has nobody else to tell.
  pack.on("error", () => {});
  out.once("close", () => {
    if (!pack.destroyed) pack.destroy();
  });
  (async () => {
    for (const e of plan) {
      if (failed || out.destroyed) return;
      const header: TarHeader = {
        name: e.name,
        type: e.kind === "dir" ? "directory" : "file",
        mode: e.mode,
        uid: 0,
        gid: 0,
        uname: "",
        gname: "",
        mtime,
        size: e.size,
      };
      // An empty pax object makes tar-stream write a PAX header holding only `path=` (no other keys).
      if (!fitsUstar(e.name)) header.pax = {};
      await writeEntry(pack, header, e);
    }
    pack.finalize();
  })().catch(fail);
  return out;
}

type TarHeader = Parameters<tarStream.Pack["entry"]>[0];
type Sink = ReturnType<tarStream.Pack["entry"]>;

/** Adds one entry and resolves when tar-stream has taken all of it. */
function addEntry(
  pack: tarStream.Pack,
  header: TarHeader,
  body?: Buffer,
): { sink: Sink; done: Promise<void> } {
  let sink!: Sink;
  const done = new Promise<void>((resolve, reject) => {
    const cb = (err?: Error | null) => (err ? reject(err) : resolve());
    sink = body === undefined ? pack.entry(header, cb) : pack.entry(header, body, cb);
  });
  // A failure destroys the sink too; its error is already reported through `done` or the tar stream.
  sink.on("error", () => {});
  // Observed by the caller's await; this guard only prevents an unhandled rejection when the caller fails first.
  done.catch(() => {});
  return { sink, done };
}

async function writeEntry(pack: tarStream.Pack, header: TarHeader, e: PlannedEntry): Promise<void> {
  const c = e.content;
  if (e.kind === "dir") {
    await addEntry(pack, header).done;
    return;
  }
  if (c === undefined || typeof c !== "function") {
    const body = c === undefined ? Buffer.alloc(0) : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
    await addEntry(pack, header, body).done;
    return;
  }
  const { sink, done } = addEntry(pack, header);
  const source = await c();
  let written = 0;
  try {
    for await (const chunk of source as AsyncIterable<Buffer | string>) {
      const buf = typeof chunk === "string" ? Buffer.from(chunk) : chunk;
      written += buf.length;
      if (written > e.size) throw sizeMismatch(e, written, true);
      if (!sink.write(buf)) await Promise.race([drained(sink), done]);
    }
  } catch (err) {
    if (typeof (source as Readable).destroy === "function") (source as Readable).destroy();
    throw err;
  }
  if (written !== e.size) throw sizeMismatch(e, written, false);
  sink.end(undefined);
  await done;
}

function drained(sink: Sink): Promise<void> {
  return new Promise((resolve) => sink.once("drain", () => resolve()));
}

function sizeMismatch(e: PlannedEntry, written: number, more: boolean): AgentrcError {
  return new AgentrcError(
    "OCI_TAR_SIZE_MISMATCH",
    `Layer file ${JSON.stringify(e.name)}: declared ${e.size} bytes but the content has ${more ? "more" : written}.`,
  );
}
