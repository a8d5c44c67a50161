import assert from "node:assert/strict";
import { symlink } from "node:fs/promises";
import { join } from "node:path";
import { describe, it } from "node:test";
import { runBin } from "../helpers/cli.js";
import { testdir } from "../helpers/testdir.js";

/** Runs `agentrc lint --json` on a tree and checks it failed cleanly: exit 1, no stack trace, the expected codes. */
async function lintFails(
  files: Record<string, string | Uint8Array>,
  expected: string[],
  setup?: (dir: string) => Promise<void>,
  subdir = ".",
) {
  const dir = join(await testdir(files), subdir);
  if (setup) await setup(dir);
  const human = runBin(["lint", dir, "--no-color"]);
  assert.equal(human.code, 1, human.stderr);
  assert.doesNotMatch(
    human.stderr + human.stdout,
    /\n\s+at .+:\d+:\d+\)?\n/,
    "no stack trace without --debug",
  );
  const json = runBin(["lint", dir, "--json"]);
  assert.equal(json.code, 1);
  const result = JSON.parse(json.stdout) as {
    diagnostics: Array<{ code: string; location?: { line: number } }>;
  };
  const codes = result.diagnostics.map((d) => d.code);
  for (const c of expected) assert.ok(codes.includes(c), `expected ${c} in ${codes.join(", ")}`);
  return { human, result };
}

describe("bad input gets a clear diagnostic, never a crash", () => {
  it("a binary Agentfile", async () => {
    const { human } = await lintFails({ Agentfile: new Uint8Array([0x41, 0x47, 0, 0xff, 0xfe, 0x0a]) }, [
      "AGENTFILE_BINARY",
    ]);
    assert.match(
      human.stderr,
      /Agentfile:1:3 error AGENTFILE_BINARY Agentfile is not text: it contains a NUL byte/,
    );
  });

  it("an Agentfile that is not UTF-8", async () => {
    await lintFails({ Agentfile: new Uint8Array([0x41, 0x47, 0x45, 0x4e, 0x54, 0x20, 0xc3, 0x28, 0x0a]) }, [
      "AGENTFILE_BINARY",
    ]);
  });

  it("a 10 MB Agentfile", async () => {
    const big = `AGENT big\n${"LIMIT filler 1234567890abcdef\n".repeat(350_000)}`;
    assert.ok(big.length > 10_000_000);
    const { human } = await lintFails({ Agentfile: big }, ["AGENTFILE_TOO_LARGE"]);
    assert.match(human.stderr, /the limit is 1048576 bytes/);
  });

  it("CRLF endings, a BOM and tabs are read like LF text", async () => {
    const dir = await testdir({ Agentfile: "\uFEFFAGENT\tcrlf\r\nAUDIT basic\r\nTOLL x\r\n" });
    const r = runBin(["lint", dir, "--json"]);
    const result = JSON.parse(r.stdout);
    assert.equal(result.agent, "crlf");
    assert.deepEqual(
      result.diagnostics.map((d: { code: string; location: { line: number; column: number } }) => [
        d.code,
        d.location.line,
        d.location.column,
      ]),
      [["UNKNOWN_DIRECTIVE", 3, 1]],
    );
  });

  it("an unterminated block", async () => {
    const { human } = await lintFails({ Agentfile: "AGENT a\nAUDIT basic\nSOP onboarding\nstep one\n" }, [
      "UNTERMINATED_BLOCK",
    ]);
    assert.match(
      human.stderr,
      /Agentfile:3:1 error UNTERMINATED_BLOCK SOP block opened here is never closed with END/,
    );
    assert.match(human.stderr, /\n {2}3 \| SOP onboarding\n {4}\| \^~~\n/);
  });

  it("an unknown directive, with a did-you-mean", async () => {
    const { human } = await lintFails({ Agentfile: "AGENT a\nAUDIT basic\nINGESTT docs/*.md\n" }, [
      "UNKNOWN_DIRECTIVE",
    ]);
    assert.match(human.stderr, /unknown directive "INGESTT"; did you mean INGEST\?/);
    assert.match(human.stderr, /hint: Did you mean INGEST\?/);
  });

  it("a second AGENT", async () => {
    const { human } = await lintFails({ Agentfile: "AGENT a\nAUDIT basic\nAGENT b\n" }, [
      "DUPLICATE_DIRECTIVE",
    ]);
    assert.match(
      human.stderr,
      /Agentfile:3:1 error DUPLICATE_DIRECTIVE AGENT may appear once; first declared at line 1/,
    );
  });

  it("non-ASCII values are kept; a non-ASCII id is refused", async () => {
    const ok = await testdir({ Agentfile: 'AGENT a\nAUDIT basic\nLIMIT motd "Grüße 世界 🚀"\n' });
    assert.equal(runBin(["lint", ok]).code, 0);
    await lintFails({ Agentfile: "AGENT ågent\nAUDIT basic\n" }, ["INVALID_ARGUMENTS"]);
  });

  it("a path escaping the context through ..", async () => {
    const { result } = await lintFails(
      { "agent/Agentfile": "AGENT a\nAUDIT basic\nINCLUDE ../secret.txt\n", "secret.txt": "x" },
      ["PATH_ESCAPE"],
      undefined,
      "agent",
    );
    assert.equal(result.diagnostics.find((d) => d.code === "PATH_ESCAPE")?.location?.line, 3);
  });

  it("a path escaping the context through a symlink", async () => {
    const outside = await testdir({ "secret.txt": "top secret" });
    await lintFails(
      { Agentfile: "AGENT a\nAUDIT basic\nINCLUDE data/link.txt\n", "data/keep.txt": "x" },
      ["PATH_ESCAPE"],
      (dir) => symlink(join(outside, "secret.txt"), join(dir, "data/link.txt")),
    );
  });

  it("a missing build context or Agentfile", async () => {
    const dir = await testdir({ "README.md": "no agent here" });
    const r = runBin(["lint", dir, "--no-color"]);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /error AGENTFILE_NOT_FOUND no Agentfile in /);
  });
});

describe("stack traces only with --debug", () => {
  it("a throwing config file", async () => {
    const dir = await testdir({
      Agentfile: "AGENT a\nAUDIT basic\n",
      "agentrc.config.mjs": 'throw new Error("config exploded");\n',
    });
    const plain = runBin(["lint", dir, "--no-color"]);
    assert.equal(plain.code, 1);
    assert.match(plain.stderr, /error CONFIG_LOAD_FAILED cannot load configuration: config exploded/);
    assert.doesNotMatch(plain.stderr, /\n\s+at /);
    const debug = runBin(["lint", dir, "--no-color", "--debug"]);
    assert.equal(debug.code, 1);
    assert.match(debug.stderr, /Error: config exploded\n\s+at /);
  });
});

describe("huge lines and statements stay linear and never overflow the stack", () => {
  /** Lints with the real binary and checks it ended with the expected code and diagnostics, without a crash. */
  async function lintsCleanly(agentfile: string, expected: { code: number; codes: string[] }) {
    const dir = await testdir({ Agentfile: agentfile });
    const r = runBin(["lint", dir, "--json"]);
    assert.doesNotMatch(r.stderr, /Maximum call stack|\n\s+at /, r.stderr);
    assert.equal(r.code, expected.code, r.stdout + r.stderr);
    const codes = (JSON.parse(r.stdout) as { diagnostics: { code: string }[] }).diagnostics.map(
      (d) => d.code,
    );
    assert.deepEqual([...new Set(codes)].sort(), expected.codes);
  }

  it("a line of a million characters", async () => {
    await lintsCleanly(`AGENT a\nAUDIT basic\nLIMIT big ${"x".repeat(1_000_000)}\n`, { code: 0, codes: [] });
  });

  it("a logical line of 100,000 continued physical lines", async () => {
    await lintsCleanly(`AGENT a\nAUDIT basic\nLIMIT big \\\n${"x \\\n".repeat(100_000)}y\n`, {
      code: 1,
      codes: ["INVALID_ARGUMENTS"],
    });
  });

  it("long runs of blanks or slashes inside a line (quadratic trailing-run regexes hung for minutes)", async () => {
    const blanks = " ".repeat(300_000);
    const slashes = "/".repeat(300_000);
    const dir = await testdir({
      Agentfile: [
        "AGENT a",
        "AUDIT basic",
        `LIMIT big${blanks}x`,
        `ALLOW write /data${slashes}x/`,
        `OUTPUT schema${slashes}x.json`,
        "INCLUDE notes.txt",
        "",
      ].join("\n"),
      "notes.txt": `API_TOKEN=s3cr3tvalue # ${blanks}comment\nOTHER=a${blanks}b\nSPACED=c${blanks}#d\n`,
      ".agentrcignore": `build${slashes}x/\n`,
    });
    const r = runBin(["lint", dir, "--json"]);
    assert.doesNotMatch(r.stderr, /\n\s+at /, r.stderr);
    assert.equal(r.code, 1, r.stdout + r.stderr);
    const codes = (JSON.parse(r.stdout) as { diagnostics: { code: string }[] }).diagnostics.map(
      (d) => d.code,
    );
    assert.deepEqual([...new Set(codes)].sort(), ["FILE_NOT_FOUND", "SECRET_IN_FILE"]);
  });

  it("a line of 200,000 words", async () => {
    await lintsCleanly(`AGENT a\nAUDIT basic\nLIMIT big ${"x ".repeat(200_000)}\n`, {
      code: 1,
      codes: ["INVALID_ARGUMENTS"],
    });
  });
});
