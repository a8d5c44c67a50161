import { createHash } from "node:crypto";
import { createServer, type Socket } from "node:net";
import { after, describe, it } from "node:test";
import fc from "fast-check";
import { bytesBlob } from "../../src/registry/blobs.js";
import { RegistryClient } from "../../src/registry/client.js";
import { expectHandled, fuzzParameters } from "./settings.js";

/**
 * A hostile registry: a raw TCP server on 127.0.0.1 answering every request with the reply the current case
 * describes (status line, headers and body as raw bytes, so malformed HTTP is possible too), then closing the
 * connection. It does not pretend to be a correct registry.
 */
interface Reply {
  status: string;
  headers: [string, string][];
  body: Buffer;
  /** Close the socket after this many bytes of the whole reply (a connection cut mid-reply). */
  cutAt?: number | undefined;
}

let current: Reply = { status: "200 OK", headers: [], body: Buffer.alloc(0) };
const sockets = new Set<Socket>();
const server = createServer((socket) => {
  sockets.add(socket);
  socket.on("close", () => sockets.delete(socket));
  socket.on("error", () => {});
  let seen = "";
  socket.on("data", (chunk) => {
    seen += chunk.toString("latin1");
    if (!seen.includes("\r\n\r\n")) return;
    seen = "";
    const r = current;
    const head = `HTTP/1.1 ${r.status}\r\n${r.headers.map(([k, v]) => `${k}: ${v}\r\n`).join("")}connection: close\r\n\r\n`;
    const whole = Buffer.concat([Buffer.from(head, "latin1"), r.body]);
    socket.end(r.cutAt === undefined ? whole : whole.subarray(0, r.cutAt % (whole.length + 1)));
  });
});
await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
after(async () => {
  for (const s of sockets) s.destroy();
  await new Promise((resolve) => server.close(resolve));
});
const port = (server.address() as { port: number }).port;
const host = `127.0.0.1:${port}`;

const digestOf = (b: Buffer) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const BLOB = Buffer.from("layer bytes\n");
const BLOB_DIGEST = digestOf(BLOB);

const manifest = {
  schemaVersion: 2,
  mediaType: "application/vnd.oci.image.manifest.v1+json",
  artifactType: "application/vnd.agentrc.agent.v1",
  config: {
    mediaType: "application/vnd.agentrc.agent.config.v1+json",
    digest: BLOB_DIGEST,
    size: BLOB.length,
  },
  layers: [
    { mediaType: "application/vnd.oci.image.layer.v1.tar+gzip", digest: BLOB_DIGEST, size: BLOB.length },
  ],
};

/** Well-formed replies of every kind the client reads; mutated below. */
const DOCUMENTS: unknown[] = [
  manifest,
  { schemaVersion: 2, mediaType: "application/vnd.oci.image.index.v1+json", manifests: [manifest.config] },
  { name: "team/agent", tags: ["1", "latest"] },
  { token: "t0k3n", expires_in: 60 },
  { access_token: "t0k3n" },
  { errors: [{ code: "MANIFEST_UNKNOWN", message: "manifest unknown", detail: {} }] },
  { errors: "nope" },
];

/** Replaces one value somewhere in a JSON document. */
function mutateJson(doc: unknown, path: number[], value: unknown): unknown {
  if (path.length === 0 || doc === null || typeof doc !== "object") return value;
  const keys = Object.keys(doc as object);
  if (keys.length === 0) return value;
  const key = keys[path[0]! % keys.length]!;
  const copy: Record<string, unknown> = Array.isArray(doc) ? ([...doc] as never) : { ...(doc as object) };
  copy[key] = mutateJson((doc as Record<string, unknown>)[key], path.slice(1), value);
  return copy;
}

const weird = fc.oneof(
  fc.constantFrom(
    null,
    -1,
    0,
    1e308,
    "",
    "sha256:zz",
    "x".repeat(10_000),
    [],
    {},
    true,
    "../../etc",
    "\u0000",
  ),
  fc.string({ unit: "binary", maxLength: 30 }),
  fc.integer(),
);

const body = fc.oneof(
  fc
    .tuple(fc.constantFrom(...DOCUMENTS), fc.array(fc.nat(8), { maxLength: 4 }), weird, fc.boolean())
    .map(([doc, path, value, mutate]) =>
      Buffer.from(JSON.stringify(mutate ? mutateJson(doc, path, value) : doc)),
    ),
  fc.constant(BLOB),
  fc.uint8Array({ maxLength: 512 }).map((b) => Buffer.from(b)),
  fc.constantFrom(Buffer.from("{"), Buffer.from("null"), Buffer.from("[]"), Buffer.from('{"tags":null}')),
);

const headerValue = (name: string, values: fc.Arbitrary<string>) =>
  values.map((v): [string, string] => [name, v]);
const anyHeader = fc.oneof(
  headerValue(
    "content-type",
    fc.constantFrom(
      "application/json",
      "application/vnd.oci.image.manifest.v1+json",
      "application/vnd.oci.image.index.v1+json",
      "application/vnd.docker.distribution.manifest.v2+json",
      "text/html",
      ";;;",
    ),
  ),
  headerValue("content-length", fc.constantFrom("0", "1", "5", "999999999", "-3", "abc", "12, 13")),
  headerValue("docker-content-digest", fc.constantFrom(BLOB_DIGEST, "sha256:abc", "md5:00", "garbage")),
  headerValue(
    "www-authenticate",
    fc.constantFrom(
      `Bearer realm="http://${host}/token",service="reg",scope="repository:team/agent:pull"`,
      'Bearer realm="ftp://x/token"',
      "Bearer",
      'Basic realm="x"',
      "Bearer realm=",
      "Negotiate",
      `Bearer realm="http://${host}/token",error="insufficient_scope"`,
    ),
  ),
  headerValue(
    "location",
    fc.constantFrom(
      `http://${host}/v2/x`,
      "/v2/team/agent/blobs/uploads/1",
      "//evil",
      "file:///etc/passwd",
      "::",
      "",
    ),
  ),
  headerValue(
    "link",
    fc.constantFrom(
      '</v2/team/agent/tags/list?last=1>; rel="next"',
      "<http://[::1>; rel=next",
      "garbage",
      '</v2/team/agent/tags/list>; rel="next"',
    ),
  ),
  headerValue("retry-after", fc.constantFrom("0", "1", "999999", "soon", "Wed, 21 Oct 2015 07:28:00 GMT")),
  headerValue("transfer-encoding", fc.constantFrom("chunked", "gzip", "identity")),
  headerValue("content-encoding", fc.constantFrom("gzip", "br", "deflate")),
);

const reply = fc.record(
  {
    status: fc.oneof(
      fc.constantFrom(
        "200 OK",
        "201 Created",
        "202 Accepted",
        "204 No Content",
        "206 Partial",
        "307 Moved",
        "308 Moved",
      ),
      fc.constantFrom(
        "400 Bad",
        "401 Unauthorized",
        "403 Forbidden",
        "404 Not Found",
        "416 Range",
        "429 Slow down",
      ),
      fc.constantFrom("500 Oops", "503 Busy", "999 What", "abc", "", "200"),
      fc.integer({ min: 100, max: 599 }).map((n) => `${n} X`),
    ),
    headers: fc.array(anyHeader, { maxLength: 5 }),
    body,
    cutAt: fc.oneof({ weight: 4, arbitrary: fc.constant(undefined) }, { weight: 1, arbitrary: fc.nat(400) }),
  },
  { requiredKeys: ["status", "headers", "body"] },
);

type Operation = (client: RegistryClient) => Promise<unknown>;
const drainStream = async (s: AsyncIterable<unknown>) => {
  for await (const _ of s) {
    // read to the end
  }
};
const OPERATIONS: [string, Operation][] = [
  ["ping", (c) => c.ping()],
  ["listTags", (c) => c.listTags("team/agent", { maxTags: 1000 })],
  ["getManifest", (c) => c.getManifest("team/agent", "latest")],
  ["headManifest", (c) => c.headManifest("team/agent", "latest")],
  ["headBlob", (c) => c.headBlob("team/agent", BLOB_DIGEST)],
  ["getBlob", async (c) => drainStream(await c.getBlob("team/agent", BLOB_DIGEST, BLOB.length))],
  ["getBlob without size", async (c) => drainStream(await c.getBlob("team/agent", BLOB_DIGEST))],
  ["listReferrers", (c) => c.listReferrers("team/agent", BLOB_DIGEST)],
  ["pushBlob", (c) => c.pushBlob("team/agent", bytesBlob(BLOB))],
];

describe("fuzz: hostile registry replies through the client", () => {
  it("every operation resolves or fails with a catalogued code, never INTERNAL, never a crash", async () => {
    await fc.assert(
      fc.asyncProperty(reply, fc.nat(OPERATIONS.length - 1), async (r, op) => {
        current = r;
        const [name, run] = OPERATIONS[op]!;
        const client = new RegistryClient(host, {
          credentials: { username: "u", password: "p" },
          retry: { retries: 1, baseDelayMs: 1, maxDelayMs: 2, maxRetryAfterMs: 5 },
          requestTimeoutMs: 5000,
        });
        try {
          await expectHandled(
            () => run(client),
            () =>
              `${name} against ${JSON.stringify({ ...r, body: r.body.toString("latin1").slice(0, 300) })}`,
          );
        } finally {
          await client.close();
        }
      }),
      fuzzParameters(400),
    );
  });
});
