import { randomUUID } from "node:crypto";
import { link, mkdir, open, readdir, readFile, rename, rm, stat, unlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { Readable, Transform, type TransformCallback } from "node:stream";
import { pipeline } from "node:stream/promises";
import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { withFilePath } from "../diagnostics/fsError.js";
import { canonicalJson } from "../util/canonicalJson.js";
import { didYouMean } from "../util/didYouMean.js";
import { assertSha256Digest, HashingStream, isDigest, parseDigest, sha256Digest } from "./digest.js";
import { type LockOptions, withLock } from "./lock.js";
import {
  checkDescriptor,
  MAX_MANIFEST_BYTES,
  parseManifestObject,
  referencedDescriptors,
} from "./manifest.js";
import {
  ANNOTATION_REF_NAME,
  MANIFEST_MEDIA_TYPES,
  MEDIA_TYPE_OCI_INDEX,
  OCI_BLOBS_DIR,
  OCI_INDEX_FILE,
  OCI_LAYOUT_FILE,
  OCI_LAYOUT_VERSION,
} from "./mediaTypes.js";
import { dropOrphanReferrers, untaggedReferrerSubjects } from "./referrers.js";
import type { BlobInfo, Descriptor, ImageIndex } from "./types.js";

/**
 * An OCI image layout on disk (image-spec `image-layout.md`): `oci-layout`, `index.json`, `blobs/<alg>/<hex>`.
 *
 * - Blobs are written to a temporary file in `blobs/sha256/`, verified, then renamed: a blob never exists
 *   partially under its final name.
 * - index.json changes run under a lock file (`index.json.lock`, O_EXCL, stale-lock detection) as
 *   read → modify → write temp → rename, so concurrent processes never lose each other's tags and readers
 *   always see a complete file. index.json is canonical JSON with manifests sorted by (ref name, digest).
 * - Tags are `org.opencontainers.image.ref.name` annotations on index entries.
 */

export interface LayoutOptions {
  /** fsync blobs and index.json before renaming them into place (default false). */
  fsync?: boolean;
  /** Lock timing for index.json updates. */
  lock?: LockOptions;
}

export interface ExpectedBlob {
  digest?: string;
  size?: number;
}

export interface IndexEntry {
  /** The tag, or undefined for an untagged index entry. */
  ref: string | undefined;
  /** The descriptor as stored in index.json (including the ref.name annotation). */
  descriptor: Descriptor;
}

export interface PutManifestOptions {
  /** Media type; defaults to the manifest's own `mediaType` field. */
  mediaType?: string;
  /** Tag to point at the manifest. */
  tag?: string;
  /** Refuse a manifest whose config, layers or child manifests are missing (default true). */
  checkReferences?: boolean;
}

/**
 * Content for `putBlob`. A function is called only once the temporary file is open, right before the bytes are
 * read: a stream that fails early (a short download) then always has a consumer to report to.
 */
export type BlobSource =
  | Buffer
  | Uint8Array
  | string
  | Readable
  | AsyncIterable<Buffer | Uint8Array>
  | (() => Readable);

/** Largest manifest or index read into memory. */
export const MAX_MANIFEST_SIZE = MAX_MANIFEST_BYTES;
/** Name prefix of temporary files in a layout (blobs being written, index.json being replaced). */
export const TEMP_PREFIX = ".tmp-";
const LOCK_FILE = `${OCI_INDEX_FILE}.lock`;
const REF_NAME_RE = /^[\x21-\x7e]{1,1024}$/;

/** The `oci-layout` file content. */
export const OCI_LAYOUT_CONTENT = canonicalJson({ imageLayoutVersion: OCI_LAYOUT_VERSION });

/** A tag must be printable ASCII without spaces (the layout spec's ref.name grammar is a SHOULD). */
export function assertRefName(ref: string): string {
  if (!REF_NAME_RE.test(ref)) {
    throw new AgentrcError("OCI_REF_INVALID", `Invalid tag ${JSON.stringify(ref)}.`);
  }
  return ref;
}

export function emptyIndex(): ImageIndex {
  return { schemaVersion: 2, mediaType: MEDIA_TYPE_OCI_INDEX, manifests: [] };
}

export class OciLayout {
  readonly root: string;
  readonly #options: LayoutOptions;

  private constructor(root: string, options: LayoutOptions) {
    this.root = root;
    this.#options = options;
  }

  /**
   * Opens the layout at `dir`, creating it when `dir` is missing or empty. A non-empty directory that is not
   * a layout is refused (OCI_LAYOUT_INVALID). Safe to call from several processes at once.
   */
  static async create(dir: string, options: LayoutOptions = {}): Promise<OciLayout> {
    await mkdir(dir, { recursive: true });
    const names = await readdir(dir);
    // A concurrent creator may be half-way (blobs/ made, oci-layout not linked yet): its entries are not "other
    // content", and refusing them made one of two first builds into a new store or cache fail.
    if (!names.includes(OCI_LAYOUT_FILE) && names.some((n) => !isLayoutEntry(n))) {
      throw new AgentrcError(
        "OCI_LAYOUT_INVALID",
        `${dir} is not empty and is not an OCI image layout (no ${OCI_LAYOUT_FILE}).`,
        { hint: "Choose a new or empty directory, or an existing OCI image layout." },
      );
    }
    await mkdir(join(dir, OCI_BLOBS_DIR, "sha256"), { recursive: true });
    // Exclusive creation (link fails if present): concurrent creators never clobber each other's index.json.
    await createExclusive(join(dir, OCI_LAYOUT_FILE), OCI_LAYOUT_CONTENT);
    await createExclusive(join(dir, OCI_INDEX_FILE), canonicalJson(emptyIndex()));
    return OciLayout.open(dir, options);
  }

  /** Opens an existing layout; throws OCI_LAYOUT_INVALID if `dir` is not one. */
  static async open(dir: string, options: LayoutOptions = {}): Promise<OciLayout> {
    let raw: string;
    try {
      raw = await readFile(join(dir, OCI_LAYOUT_FILE), "utf8");
    } catch (err) {
      throw new AgentrcError(
        "OCI_LAYOUT_INVALID",
        `${dir} is not an OCI image layout (no ${OCI_LAYOUT_FILE}).`,
        {
          cause: err,
        },
      );
    }
    let version: unknown;
    try {
      version = (JSON.parse(raw) as { imageLayoutVersion?: unknown }).imageLayoutVersion;
    } catch (err) {
      throw new AgentrcError("OCI_LAYOUT_INVALID", `${join(dir, OCI_LAYOUT_FILE)} is not valid JSON.`, {
        cause: err,
      });
    }
    if (version !== OCI_LAYOUT_VERSION) {
      throw new AgentrcError(
        "OCI_LAYOUT_INVALID",
        `${join(dir, OCI_LAYOUT_FILE)} has imageLayoutVersion ${JSON.stringify(version)}; expected "${OCI_LAYOUT_VERSION}".`,
      );
    }
    const layout = new OciLayout(dir, options);
    await layout.readIndex();
    return layout;
  }

  // --- blobs ---------------------------------------------------------------------------------

  /** Path of a blob (whether or not it exists). */
  blobPath(digest: string): string {
    const { algorithm, encoded } = parseDigest(digest);
    return join(this.root, OCI_BLOBS_DIR, algorithm, encoded);
  }

  async hasBlob(digest: string): Promise<boolean> {
    try {
      return (await stat(this.blobPath(digest))).isFile();
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === "ENOENT") return false;
      throw err;
    }
  }

  /** Size of a present blob; OCI_BLOB_NOT_FOUND otherwise. */
  async blobSize(digest: string): Promise<number> {
    try {
      return (await stat(this.blobPath(digest))).size;
    } catch (err) {
      throw this.#notFound(digest, err);
    }
  }

  /**
   * A stream of a blob's bytes. With `verify`, the stream fails with OCI_DIGEST_MISMATCH at its end if the
   * bytes do not hash to `digest`.
   */
  async getBlob(digest: string, options: { verify?: boolean } = {}): Promise<Readable> {
    const path = this.blobPath(digest);
    let handle: Awaited<ReturnType<typeof open>>;
    try {
      handle = await open(path, "r");
    } catch (err) {
      throw this.#notFound(digest, err);
    }
    const stream = handle.createReadStream();
    if (!options.verify) return stream;
    const check = new VerifyingStream(digest);
    stream.on("error", (err) => check.destroy(err));
    // A consumer that stops early destroys `check`: close the file too (no file handle left to the GC).
    check.on("close", () => stream.destroy());
    return stream.pipe(check);
  }

  /** A whole blob in memory, verified against its digest (for manifests, configs and other small blobs). */
  async readBlob(digest: string, maxSize = Number.POSITIVE_INFINITY): Promise<Buffer> {
    const size = await this.blobSize(digest);
    if (size > maxSize) {
      throw new AgentrcError(
        "OCI_SIZE_MISMATCH",
        `Blob ${digest} is ${size} bytes, over the ${maxSize}-byte limit.`,
      );
    }
    const buf = await readFile(this.blobPath(digest));
    if (sha256Digest(buf) !== digest) {
      throw new AgentrcError("OCI_DIGEST_MISMATCH", `Blob ${digest} in ${this.root} is corrupt.`, {
        hint: "Delete the blob file and pull or build again.",
      });
    }
    return buf;
  }

  /**
   * Writes a blob. The content is streamed to a temporary file in `blobs/sha256/`, hashed, checked against
   * `expected` (digest and/or size), then renamed to its digest. If `expected.digest` is already present the
   * source is not read (a stream source is destroyed).
   */
  async putBlob(source: BlobSource, expected: ExpectedBlob = {}): Promise<BlobInfo> {
    if (expected.digest !== undefined) {
      assertSha256Digest(expected.digest);
      if (await this.hasBlob(expected.digest)) {
        const size = await this.blobSize(expected.digest);
        if (expected.size === undefined || expected.size === size) {
          if (source instanceof Readable) source.destroy();
          return { digest: expected.digest, size };
        }
      }
    }
    const dir = join(this.root, OCI_BLOBS_DIR, "sha256");
    await mkdir(dir, { recursive: true });
    const tmp = join(dir, tempName());
    const handle = await open(tmp, "wx");
    const hasher = new HashingStream();
    let info: BlobInfo;
    try {
      const input =
        typeof source === "string" || source instanceof Uint8Array
          ? Readable.from([Buffer.from(source)])
          : typeof source === "function"
            ? source()
            : (source as Readable | AsyncIterable<Buffer>);
      const sink = handle.createWriteStream(); // closes the handle when done
      if (expected.size === undefined) await pipeline(input, hasher, sink);
      else await pipeline(input, new SizeLimit(expected.size), hasher, sink);
      if (this.#options.fsync) await syncFile(tmp);
      info = hasher.result;
      checkExpected(info, expected);
      await rename(tmp, join(dir, info.digest.slice("sha256:".length)));
    } catch (caught) {
      const err = withFilePath(caught, tmp);
      await handle.close().catch(() => {});
      await rm(tmp, { force: true });
      throw err;
    }
    return info;
  }

  /**
   * Moves a file whose digest the caller computed while writing it (e.g. packLayer into `tempBlobPath()`)
   * into place. The file must be on the same filesystem; it is not re-read.
   */
  async commitBlob(tempPath: string, info: BlobInfo): Promise<BlobInfo> {
    const path = this.blobPath(assertSha256Digest(info.digest));
    const size = (await stat(tempPath)).size;
    if (size !== info.size) {
      await rm(tempPath, { force: true });
      throw new AgentrcError("OCI_SIZE_MISMATCH", `${tempPath} has ${size} bytes; expected ${info.size}.`);
    }
    await rename(tempPath, path);
    return info;
  }

  /** A fresh temporary path inside the blob directory (same filesystem as the final blob). */
  async tempBlobPath(): Promise<string> {
    const dir = join(this.root, OCI_BLOBS_DIR, "sha256");
    await mkdir(dir, { recursive: true });
    return join(dir, tempName());
  }

  /**
   * Removes the temporary blobs of writers that are gone: a process killed while writing (SIGKILL, a crash, a full
   * machine) never reaches its cleanup. A temp file is stale when the process named in it no longer runs, or, for
   * one without a live owner we can check (an old name, another machine sharing the directory), when it has not
   * been written for a day. Returns the number removed.
   */
  async removeStaleTemporaries(now = Date.now()): Promise<number> {
    const dir = join(this.root, OCI_BLOBS_DIR, "sha256");
    const names = (await readdir(dir).catch(() => [] as string[])).filter((n) => n.startsWith(TEMP_PREFIX));
    let removed = 0;
    for (const name of names) {
      const pid = Number(/^\.tmp-(\d+)-/.exec(name)?.[1] ?? Number.NaN);
      const path = join(dir, name);
      let stale = Number.isSafeInteger(pid) && pid > 0 && !processAlive(pid);
      if (!stale) {
        const mtime = await stat(path).then(
          (st) => st.mtimeMs,
          () => now,
        );
        stale = now - mtime > STALE_TEMP_MS && !(Number.isSafeInteger(pid) && processAlive(pid));
      }
      if (
        stale &&
        (await rm(path, { force: true }).then(
          () => true,
          () => false,
        ))
      )
        removed++;
    }
    return removed;
  }

  // --- manifests and index -------------------------------------------------------------------

  /**
   * Stores manifest bytes unchanged as a blob and returns its descriptor (with `artifactType` when the
   * manifest declares one). With `tag`, also tags it.
   */
  async putManifest(bytes: Buffer | string, options: PutManifestOptions = {}): Promise<Descriptor> {
    const buf = Buffer.from(bytes);
    const json = parseManifestObject(buf, "manifest", "OCI_MANIFEST_INVALID");
    const mediaType = options.mediaType ?? (typeof json.mediaType === "string" ? json.mediaType : undefined);
    if (mediaType === undefined || !MANIFEST_MEDIA_TYPES.includes(mediaType)) {
      throw new AgentrcError(
        "OCI_MANIFEST_INVALID",
        `Manifest media type ${JSON.stringify(mediaType)} is not a manifest or index type.`,
      );
    }
    if (json.mediaType !== undefined && json.mediaType !== mediaType) {
      throw new AgentrcError(
        "OCI_MANIFEST_INVALID",
        `Manifest declares mediaType ${JSON.stringify(json.mediaType)} but is stored as ${mediaType}.`,
      );
    }
    if (options.checkReferences !== false) {
      for (const d of referencedDescriptors(json, mediaType)) {
        if (!(await this.hasBlob(d.digest))) {
          throw new AgentrcError(
            "OCI_BLOB_NOT_FOUND",
            `Manifest references ${d.digest} (${d.mediaType}), which is not in ${this.root}.`,
            { hint: "Write the config and layer blobs before the manifest." },
          );
        }
      }
    }
    // Digest given: a manifest already stored (a rebuild with nothing changed) is not written again.
    const info = await this.putBlob(buf, { digest: sha256Digest(buf), size: buf.length });
    const descriptor: Descriptor = { mediaType, digest: info.digest, size: info.size };
    if (typeof json.artifactType === "string") descriptor.artifactType = json.artifactType;
    if (options.tag !== undefined) await this.tag(options.tag, descriptor);
    return descriptor;
  }

  /** Reads and parses index.json. */
  async readIndex(): Promise<ImageIndex> {
    const path = join(this.root, OCI_INDEX_FILE);
    let raw: Buffer;
    try {
      raw = await readFile(path);
    } catch (err) {
      throw new AgentrcError("OCI_LAYOUT_INVALID", `${this.root} has no readable ${OCI_INDEX_FILE}.`, {
        cause: err,
      });
    }
    const json = parseManifestObject(raw, OCI_INDEX_FILE, "OCI_LAYOUT_INVALID");
    if (!Array.isArray(json.manifests)) {
      throw new AgentrcError("OCI_LAYOUT_INVALID", `${path} has no manifests array.`);
    }
    for (const d of json.manifests as unknown[]) checkDescriptor(d, `${path}: entry`, "OCI_LAYOUT_INVALID");
    return json as unknown as ImageIndex;
  }

  /**
   * Applies `mutate` to index.json under the layout lock (read fresh, modify, write temp, rename).
   * Returns what `mutate` returns.
   */
  async updateIndex<T>(mutate: (index: ImageIndex) => T): Promise<T> {
    return this.withIndexLock(async () => {
      const index = await this.readIndex();
      const result = mutate(index);
      index.manifests = sortManifests(index.manifests);
      await this.#writeFileAtomic(join(this.root, OCI_INDEX_FILE), canonicalJson(index));
      return result;
    });
  }

  /**
   * Runs `fn` holding the layout's index lock (not reentrant: `fn` must not call `updateIndex`). Garbage
   * collection and lease creation (src/oci/lease.ts) serialise on it with every index update.
   */
  withIndexLock<T>(fn: () => Promise<T>): Promise<T> {
    return withLock(join(this.root, LOCK_FILE), fn, this.#options.lock);
  }

  /** Points `ref` at `descriptor` (replacing any previous target of `ref`). The manifest blob must exist. */
  async tag(ref: string, descriptor: Descriptor): Promise<void> {
    assertRefName(ref);
    checkDescriptor(descriptor, "descriptor", "OCI_MANIFEST_INVALID");
    if (!(await this.hasBlob(descriptor.digest))) {
      throw this.#notFound(descriptor.digest);
    }
    const entry: Descriptor = {
      ...descriptor,
      annotations: { ...(descriptor.annotations ?? {}), [ANNOTATION_REF_NAME]: ref },
    };
    // A tag that moves may leave its old manifest unnamed: that manifest's referrers go with it.
    const subjects = await untaggedReferrerSubjects(this);
    await this.updateIndex((index) => {
      // The tag moves here; an untagged entry for the same manifest is no longer needed to keep it reachable.
      index.manifests = index.manifests.filter(
        (d) => refOf(d) !== ref && !(refOf(d) === undefined && d.digest === descriptor.digest),
      );
      index.manifests.push(entry);
      dropOrphanReferrers(index.manifests, subjects);
    });
  }

  /** Removes a tag; false if it did not exist. Blobs are kept. */
  async untag(ref: string): Promise<boolean> {
    const subjects = await untaggedReferrerSubjects(this);
    return this.updateIndex((index) => {
      const before = index.manifests.length;
      index.manifests = index.manifests.filter((d) => refOf(d) !== ref);
      const removed = index.manifests.length !== before;
      dropOrphanReferrers(index.manifests, subjects);
      return removed;
    });
  }

  /** Every index entry, in index order (sorted by ref name, then digest). */
  async list(): Promise<IndexEntry[]> {
    const index = await this.readIndex();
    return index.manifests.map((descriptor) => ({ ref: refOf(descriptor), descriptor }));
  }

  /**
   * The descriptor of a tag or a digest (ref.name annotation removed). A digest resolves through index.json or,
   * failing that, through a present manifest blob. Throws OCI_REF_NOT_FOUND.
   */
  async resolve(tagOrDigest: string): Promise<Descriptor> {
    const index = await this.readIndex();
    if (isDigest(tagOrDigest)) {
      const hit = index.manifests.find((d) => d.digest === tagOrDigest);
      if (hit) return withoutRefName(hit);
      if (await this.hasBlob(tagOrDigest)) {
        const buf = await this.readBlob(tagOrDigest, MAX_MANIFEST_SIZE);
        const json = parseManifestObject(buf, tagOrDigest, "OCI_MANIFEST_INVALID");
        if (typeof json.mediaType === "string" && MANIFEST_MEDIA_TYPES.includes(json.mediaType)) {
          const d: Descriptor = { mediaType: json.mediaType, digest: tagOrDigest, size: buf.length };
          if (typeof json.artifactType === "string") d.artifactType = json.artifactType;
          return d;
        }
      }
      throw new AgentrcError("OCI_REF_NOT_FOUND", `No manifest ${tagOrDigest} in ${this.root}.`);
    }
    const hit = index.manifests.find((d) => refOf(d) === tagOrDigest);
    if (hit) return withoutRefName(hit);
    const refs = index.manifests.map(refOf).filter((r): r is string => r !== undefined);
    const guess = didYouMean(tagOrDigest, refs);
    throw new AgentrcError("OCI_REF_NOT_FOUND", `No tag ${JSON.stringify(tagOrDigest)} in ${this.root}.`, {
      hint: guess !== undefined ? `Did you mean ${JSON.stringify(guess)}?` : "Build or pull it first.",
    });
  }

  /** Resolves and reads a manifest: its descriptor, exact bytes and parsed JSON. */
  async getManifest(
    tagOrDigest: string,
  ): Promise<{ descriptor: Descriptor; bytes: Buffer; json: Record<string, unknown> }> {
    const descriptor = await this.resolve(tagOrDigest);
    const bytes = await this.readBlob(descriptor.digest, MAX_MANIFEST_SIZE);
    return { descriptor, bytes, json: parseManifestObject(bytes, descriptor.digest, "OCI_MANIFEST_INVALID") };
  }

  /** Digests of every blob reachable from `descriptor` (itself included), following manifests and indexes. */
  async reachableBlobs(descriptor: Descriptor): Promise<Set<string>> {
    const seen = new Set<string>();
    const visit = async (d: Descriptor): Promise<void> => {
      if (seen.has(d.digest)) return;
      seen.add(d.digest);
      if (!MANIFEST_MEDIA_TYPES.includes(d.mediaType)) return;
      const bytes = await this.readBlob(d.digest, MAX_MANIFEST_SIZE);
      const json = parseManifestObject(bytes, d.digest, "OCI_MANIFEST_INVALID");
      for (const child of referencedDescriptors(json, d.mediaType)) await visit(child);
    };
    await visit(descriptor);
    return seen;
  }

  async #writeFileAtomic(path: string, content: string): Promise<void> {
    const tmp = `${path}${tempName()}`;
    try {
      const fh = await open(tmp, "wx");
      try {
        await fh.writeFile(content);
        if (this.#options.fsync) await fh.sync();
      } finally {
        await fh.close();
      }
      await rename(tmp, path);
    } catch (err) {
      await rm(tmp, { force: true });
      throw withFilePath(err, tmp);
    }
  }

  #notFound(digest: string, cause?: unknown): AgentrcError {
    return new AgentrcError(
      "OCI_BLOB_NOT_FOUND",
      `Blob ${digest} is not in ${this.root}.`,
      cause === undefined ? {} : { cause },
    );
  }
}

// --- helpers -------------------------------------------------------------------------------------

async function syncFile(path: string): Promise<void> {
  const fh = await open(path, "r+");
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}

async function createExclusive(path: string, content: string): Promise<void> {
  try {
    await stat(path);
    return;
  } catch {
    // absent: create below
  }
  const tmp = `${path}${tempName()}`;
  try {
    await writeFile(tmp, content, { flag: "wx" });
  } catch (err) {
    await unlink(tmp).catch(() => {});
    throw withFilePath(err, tmp);
  }
  try {
    await link(tmp, path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
  } finally {
    await unlink(tmp).catch(() => {});
  }
}

/** Temporary files not written for this long are stale even when their owner cannot be checked. */
const STALE_TEMP_MS = 24 * 3600 * 1000;

/** `.tmp-<pid>-<uuid>`: the writer's pid lets a later process tell a dead writer's leftovers from live work. */
function tempName(): string {
  return `${TEMP_PREFIX}${process.pid}-${randomUUID()}`;
}

function processAlive(pid: number): boolean {
  if (pid === process.pid) return true;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === "EPERM";
  }
}

/** A name `create` itself puts in a layout directory (blobs/, oci-layout, index.json, their temp files). */
function isLayoutEntry(name: string): boolean {
  return [OCI_BLOBS_DIR, OCI_LAYOUT_FILE, OCI_INDEX_FILE].some(
    (n) => name === n || name.startsWith(`${n}${TEMP_PREFIX}`),
  );
}

function refOf(d: Descriptor): string | undefined {
  return d.annotations?.[ANNOTATION_REF_NAME];
}

function withoutRefName(d: Descriptor): Descriptor {
  const { annotations, ...rest } = d;
  if (annotations === undefined) return { ...rest };
  const { [ANNOTATION_REF_NAME]: _ref, ...others } = annotations;
  return Object.keys(others).length > 0 ? { ...rest, annotations: others } : { ...rest };
}

function compareBytes(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a), Buffer.from(b));
}

function sortManifests(list: Descriptor[]): Descriptor[] {
  return [...list].sort(
    (a, b) => compareBytes(refOf(a) ?? "", refOf(b) ?? "") || compareBytes(a.digest, b.digest),
  );
}

function checkExpected(info: BlobInfo, expected: ExpectedBlob): void {
  if (expected.size !== undefined && info.size !== expected.size) {
    throw new AgentrcError("OCI_SIZE_MISMATCH", `Blob has ${info.size} bytes; expected ${expected.size}.`);
  }
  if (expected.digest !== undefined && info.digest !== expected.digest) {
    throw new AgentrcError(
      "OCI_DIGEST_MISMATCH",
      `Blob hashes to ${info.digest}; expected ${expected.digest}.`,
    );
  }
}

/** Fails as soon as more than `limit` bytes pass (so an oversized upload never fills the disk). */
class SizeLimit extends Transform {
  #seen = 0;
  constructor(readonly limit: number) {
    super();
  }
  override _transform(chunk: Buffer, _enc: BufferEncoding, cb: TransformCallback): void {
    this.#seen += chunk.length;
    if (this.#seen > this.limit) {
      cb(new AgentrcError("OCI_SIZE_MISMATCH", `Blob exceeds its expected size of ${this.limit} bytes.`));
      return;
    }
    cb(null, chunk);
  }
}

/** Pass-through that fails at the end when the content does not hash to `expected`. */
class VerifyingStream extends HashingStream {
  constructor(readonly expected: string) {
    super();
  }
  override _flush(callback: TransformCallback): void {
    super._flush((err) => {
      if (err) return callback(err);
      if (this.digest !== this.expected) {
        callback(
          new AgentrcError(
            "OCI_DIGEST_MISMATCH",
            `Blob hashes to ${this.digest}; expected ${this.expected}.`,
          ),
        );
        return;
      }
      callback();
    });
  }
}
