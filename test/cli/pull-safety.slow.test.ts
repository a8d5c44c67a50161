import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import {
  ANNOTATION_TITLE,
  MEDIA_TYPE_AGENTFILE,
  MEDIA_TYPE_DATA_LAYER,
  MEDIA_TYPE_SOURCE_LAYER,
} from "../../src/oci/mediaTypes.js";
import { RegistryClient } from "../../src/registry/client.js";
import { agentConfigBytes, type IndexedFile, pushAgentPackage } from "../helpers/agentConfig.js";
import { runCli } from "../helpers/cli.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

/** One raw ustar entry: type 0 file, 2 symlink, 3 character device, 5 directory. */
interface RawEntry {
  name: string;
  type?: "0" | "2" | "3" | "5";
  linkname?: string;
  content?: string;
}

function header(e: RawEntry): Buffer {
  const h = Buffer.alloc(512);
  const size = Buffer.byteLength(e.content ?? "");
  h.write(e.name, 0, 100);
  h.write(e.type === "5" ? "0000755\0" : "0000644\0", 100);
  h.write("0000000\0", 108);
  h.write("0000000\0", 116);
  h.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
  h.write("00000000000\0", 136);
  h.write("        ", 148);
  h.write(e.type ?? "0", 156);
  if (e.linkname) h.write(e.linkname, 157, 100);
  h.write("ustar\0", 257);
  h.write("00", 263);
  if (e.type === "3") {
    h.write("0000001\0", 329);
    h.write("0000003\0", 337);
  }
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return h;
}

/** A gzipped tar written byte by byte, so that it can hold what no well-behaved tar writer produces. */
function hostileTar(entries: RawEntry[]): Buffer {
  const parts: Buffer[] = [];
  for (const e of entries) {
    parts.push(header(e));
    const content = Buffer.from(e.content ?? "");
    if (content.length > 0) parts.push(content, Buffer.alloc((512 - (content.length % 512)) % 512));
  }
  parts.push(Buffer.alloc(1024));
  return gzipSync(Buffer.concat(parts), { level: 1 });
}

interface Layer {
  mediaType: string;
  title: string;
  bytes: Buffer;
  /** The regular files of a tar layer (for the config's file index). */
  files?: RawEntry[];
}

describe("pull -o refuses hostile packages and writes nothing outside the target", () => {
  let registry: TestRegistry;
  let client: RegistryClient;
  let base: string;
  before(async () => {
    registry = await startRegistry({ mode: "open" });
    client = new RegistryClient(registry.host, registry.clientOptions());
    base = await mkdtemp(join(tmpdir(), "agentrc-pull-safety-"));
  });
  after(async () => {
    await client?.close();
    await registry?.stop();
    await rm(base, { recursive: true, force: true });
  });

  /** Pushes an agent package made of `layers` and returns its reference. */
  async function pushPackage(name: string, layers: Layer[]): Promise<string> {
    const config = agentConfigBytes(
      layers.flatMap((l): IndexedFile[] =>
        l.files === undefined
          ? [{ path: l.title, content: l.bytes, layer: l.title }]
          : l.files.map((f) => ({ path: f.name, content: f.content ?? "", layer: l.title })),
      ),
    );
    await pushAgentPackage(
      client,
      name,
      "1",
      config,
      layers.map((l) => ({
        mediaType: l.mediaType,
        bytes: l.bytes,
        annotations: { [ANNOTATION_TITLE]: l.title },
      })),
    );
    return `${registry.host}/${name}:1`;
  }

  const agentfile: Layer = {
    mediaType: MEDIA_TYPE_AGENTFILE,
    title: "Agentfile",
    bytes: Buffer.from("AGENT x\n"),
  };
  const goodData: Layer = {
    mediaType: MEDIA_TYPE_DATA_LAYER,
    title: "data",
    bytes: hostileTar([
      { name: "data/", type: "5" },
      { name: "data/ok.txt", content: "fine\n" },
    ]),
    files: [{ name: "data/ok.txt", content: "fine\n" }],
  };
  const data = (entries: RawEntry[]): Layer => ({
    mediaType: MEDIA_TYPE_DATA_LAYER,
    title: "data",
    bytes: hostileTar(entries),
    files: entries.filter((e) => (e.type ?? "0") === "0"),
  });

  /** Runs `pull -o` into a fresh work directory and checks the code, the message and that nothing was left. */
  async function refuses(name: string, layers: Layer[], code: string, message: RegExp) {
    const ref = await pushPackage(name, layers);
    const work = join(base, `work-${name.replace(/\W/g, "-")}`);
    await mkdir(work);
    const out = join(work, "out");
    const env = { HOME: base, AGENTRC_STORE: join(base, "store") };
    const r = await runCli(["pull", ref, "-o", out, "--json"], { env });
    assert.equal(r.code, 1, r.stderr);
    const error = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, code, error.message);
    assert.match(error.message, message);
    assert.deepEqual(await readdir(work), [], "the target was removed and nothing else was written");
    return work;
  }

  test("a `../` entry (after a good layer was already unpacked)", async () => {
    const work = await refuses(
      "hostile/dotdot",
      [
        agentfile,
        goodData,
        {
          ...data([{ name: "../escape.txt", content: "x" }]),
          mediaType: MEDIA_TYPE_SOURCE_LAYER,
          title: "src",
        },
      ],
      "OCI_EXTRACT_PATH_UNSAFE",
      /contains "\.\."/,
    );
    await assert.rejects(stat(join(work, "escape.txt")), { code: "ENOENT" });
  });

  test("an absolute path", async () => {
    const target = join(base, "absolute-target.txt");
    await refuses(
      "hostile/absolute",
      [data([{ name: target, content: "x" }])],
      "OCI_EXTRACT_PATH_UNSAFE",
      /absolute path/,
    );
    await assert.rejects(stat(target), { code: "ENOENT" });
  });

  test("a symlink escaping the target, and a file written through it", async () => {
    await refuses(
      "hostile/symlink",
      [
        data([
          { name: "data/", type: "5" },
          { name: "data/link", type: "2", linkname: "../../../.." },
          { name: "data/link/pwned.txt", content: "x" },
        ]),
      ],
      "OCI_EXTRACT_LINK_ESCAPE",
      /data\/link/,
    );
  });

  test("a character device", async () => {
    await refuses(
      "hostile/device",
      [data([{ name: "data/tty", type: "3" }])],
      "OCI_EXTRACT_SPECIAL_FILE",
      /character-device|never extracted/,
    );
  });

  test("200,000 entries", async () => {
    // One directory entry, repeated (a tar may repeat a directory): the limit counts entries, not paths, so this
    // reaches it as 200,000 distinct names would, without creating and removing 100,000 directories first (a
    // minute of file-system time here). test/oci/extract.test.ts refuses distinct entries over a lower limit.
    const entries: RawEntry[] = Array.from({ length: 200_000 }, () => ({
      name: "data/",
      type: "5" as const,
    }));
    await refuses(
      "hostile/entries",
      [data(entries)],
      "OCI_EXTRACT_TOO_MANY_ENTRIES",
      /more than 100000 entries/,
    );
  });

  test("a file layer whose title climbs out", async () => {
    await refuses(
      "hostile/title",
      [{ ...agentfile, title: "../../Agentfile" }],
      "OCI_EXTRACT_PATH_UNSAFE",
      /contains "\.\."/,
    );
  });

  test("two layers providing the same file", async () => {
    await refuses(
      "hostile/duplicate",
      [goodData, { ...goodData, mediaType: MEDIA_TYPE_SOURCE_LAYER }],
      "OCI_EXTRACT_DUPLICATE_PATH",
      /data\/ok\.txt/,
    );
  });

  test("a non-empty -o directory is refused before anything is downloaded", async () => {
    const out = join(base, "taken");
    await mkdir(out);
    await writeFile(join(out, "keep.txt"), "mine");
    // Port 1 on 127.0.0.1 is closed: reaching the network would fail with another code.
    const r = await runCli(["pull", "127.0.0.1:1/any/thing:1", "-o", out, "--json"], {
      env: { HOME: base, AGENTRC_STORE: join(base, "store") },
    });
    assert.equal(r.code, 1);
    const error = (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
    assert.equal(error.code, "OCI_EXTRACT_TARGET_EXISTS");
    assert.match(error.message, /not an empty directory/);
    assert.deepEqual(await readdir(out), ["keep.txt"]);
  });

  test("a good package unpacks; pulling it again finds every blob in the store", async () => {
    const ref = await pushPackage("fine/pkg", [agentfile, goodData]);
    const env = { HOME: base, AGENTRC_STORE: join(base, "store-fine") };
    const out = join(base, "fine-out");
    const first = await runCli(["pull", ref, "-o", out, "--json"], { env });
    assert.equal(first.code, 0, first.stdout);
    assert.deepEqual((await readdir(out)).sort(), ["Agentfile", "data"]);
    assert.deepEqual(await readdir(join(out, "data")), ["ok.txt"]);
    const again = await runCli(["pull", ref, "--json"], { env });
    const blobs = (JSON.parse(again.stdout) as { blobs: Array<{ status: string }> }).blobs;
    assert.deepEqual(
      blobs.map((b) => b.status),
      blobs.map(() => "exists"),
    );
  });
});
