import assert from "node:assert/strict";
import { mkdir, mkdtemp, readdir, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { gzipSync } from "node:zlib";
import { extractTar } from "../../src/oci/extract.js";
import { ANNOTATION_TITLE, MEDIA_TYPE_DATA_LAYER } from "../../src/oci/mediaTypes.js";
import { RegistryClient } from "../../src/registry/client.js";
import { agentConfigBytes, pushAgentPackage } from "../helpers/agentConfig.js";
import { runCli } from "../helpers/cli.js";
import { startRegistry, type TestRegistry } from "../helpers/registry.js";

/**
 * Decompression amplification in `pull -o`: a small gzip layer can inflate to gigabytes that no file accounts for
 * (zeros after the end-of-archive marker, metadata records, data of entries that are skipped). The entry and byte
 * limits only count file content, so such bytes must be bounded separately, or unpacking a few megabytes takes
 * minutes of CPU.
 */

const MiB = 1024 * 1024;

/** One raw tar header; `size` is written in base-256 when it does not fit the octal field. */
function header(name: string, type: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0, 100);
  h.write("0000644\0", 100);
  h.write("0000000\0", 108);
  h.write("0000000\0", 116);
  if (size < 8 ** 11) h.write(`${size.toString(8).padStart(11, "0")}\0`, 124);
  else {
    h[124] = 0x80;
    let n = size;
    for (let i = 135; i > 124; i--, n = Math.floor(n / 256)) h[i] = n % 256;
  }
  h.write("00000000000\0", 136);
  h.write("        ", 148);
  h.write(type, 156);
  h.write("ustar\0", 257);
  h.write("00", 263);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, "0")}\0 `, 148);
  return h;
}

const pad = (n: number) => Buffer.alloc((512 - (n % 512)) % 512);
const file = (name: string, content: string) => [
  header(name, "0", content.length),
  Buffer.from(content),
  pad(content.length),
];
const END = Buffer.alloc(1024);

/** `n` MiB of zeros as concatenated gzip members (cheap to build; gunzip reads members back to back). */
let zeroMember: Buffer | undefined;
function gzippedZeros(mib: number): Buffer {
  zeroMember ??= gzipSync(Buffer.alloc(64 * MiB));
  assert.equal(mib % 64, 0);
  return Buffer.concat(Array.from({ length: mib / 64 }, () => zeroMember!));
}

describe("pull -o bounds the work a small layer can cause", () => {
  let registry: TestRegistry;
  let client: RegistryClient;
  let base: string;
  before(async () => {
    registry = await startRegistry({ mode: "open" });
    client = new RegistryClient(registry.host, registry.clientOptions());
    base = await mkdtemp(join(tmpdir(), "agentrc-sec-bomb-"));
  });
  after(async () => {
    await client?.close();
    await registry?.stop();
    await rm(base, { recursive: true, force: true });
  });

  async function pushPackage(name: string, layer: Buffer): Promise<string> {
    const config = agentConfigBytes([{ path: "data/ok.txt", content: "fine\n", layer: "data" }]);
    await pushAgentPackage(client, name, "1", config, [
      { mediaType: MEDIA_TYPE_DATA_LAYER, bytes: layer, annotations: { [ANNOTATION_TITLE]: "data" } },
    ]);
    return `${registry.host}/${name}:1`;
  }

  async function refused(name: string, layer: Buffer): Promise<{ code: string; message: string }> {
    const ref = await pushPackage(name, layer);
    const work = join(base, name.replace(/\W/g, "-"));
    await mkdir(work);
    const env = { HOME: base, AGENTRC_STORE: join(base, "store") };
    const r = await runCli(["pull", ref, "-o", join(work, "out"), "--json"], { env });
    assert.equal(r.code, 1, `pull -o accepted the layer: ${r.stdout}`);
    assert.deepEqual(await readdir(work), [], "nothing is left behind");
    return (JSON.parse(r.stdout) as { error: { code: string; message: string } }).error;
  }

  test("256 MiB of zeros after the end-of-archive marker", async () => {
    const tar = gzipSync(Buffer.concat([...file("data/ok.txt", "fine\n"), END]));
    const error = await refused("bomb/trailing", Buffer.concat([tar, gzippedZeros(256)]));
    assert.equal(error.code, "OCI_EXTRACT_TOO_LARGE", error.message);
    assert.match(error.message, /bytes of headers, padding or trailing data/);
  });

  test("64 MiB of pax records (4 MiB each, the most tar-stream reads) before one small file", async () => {
    const records: Buffer[] = [];
    for (let i = 0; i < 16; i++) records.push(header("PaxHeader", "x", 4 * MiB), Buffer.alloc(4 * MiB));
    const tar = gzipSync(Buffer.concat([...records, ...file("data/ok.txt", "fine\n"), END]), { level: 1 });
    const error = await refused("bomb/pax-chain", tar);
    assert.equal(error.code, "OCI_EXTRACT_TOO_LARGE", error.message);
    assert.match(error.message, /bytes of headers, padding or trailing data/);
  });

  test("a pax record that declares 1 TiB is refused up front, before it is inflated", async () => {
    const head = gzipSync(header("PaxHeader", "x", 1024 ** 4));
    const error = await refused("bomb/pax-huge", Buffer.concat([head, gzippedZeros(256)]));
    assert.equal(error.code, "OCI_EXTRACT_TOO_LARGE", error.message);
    assert.match(error.message, /bytes of headers, padding or trailing data/);
  });

  test("256 MiB carried by a `./` entry (skipped, so counted by no limit)", async () => {
    const head = gzipSync(header("./", "3", 256 * MiB));
    const tail = gzipSync(Buffer.concat([...file("data/ok.txt", "fine\n"), END]));
    const error = await refused("bomb/root-entry", Buffer.concat([head, gzippedZeros(256), tail]));
    assert.equal(error.code, "OCI_EXTRACT_TOO_LARGE", error.message);
    assert.match(error.message, /bytes of headers, padding or trailing data/);
  });
});

describe("extractTar (behind pull -o's pre-scan, and oci-archive import) bounds the same bytes itself", () => {
  test("zeros after the end-of-archive marker, and data of a skipped `./` entry", async () => {
    const base = await mkdtemp(join(tmpdir(), "agentrc-sec-extract-"));
    try {
      const layers = [
        Buffer.concat([gzipSync(Buffer.concat([...file("ok.txt", "fine\n"), END])), gzippedZeros(256)]),
        Buffer.concat([gzipSync(header("./", "3", 256 * MiB)), gzippedZeros(256)]),
      ];
      for (const [i, layer] of layers.entries()) {
        const target = join(base, String(i));
        await assert.rejects(
          extractTar(Readable.from([layer]), target, { links: "refuse" }),
          (err: Error & { code?: string }) => {
            assert.equal(err.code, "OCI_EXTRACT_TOO_LARGE");
            assert.match(err.message, /more than \d+ bytes of headers, padding or trailing data/);
            return true;
          },
        );
        await assert.rejects(readdir(target), { code: "ENOENT" });
      }
    } finally {
      await rm(base, { recursive: true, force: true });
    }
  });
});
