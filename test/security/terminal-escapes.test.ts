import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import { formatDiagnostics } from "../../src/diagnostics/format.js";
import { build } from "../../src/index.js";
import { FIXTURES } from "../helpers/build.js";
import { runCli } from "../helpers/cli.js";
import { copyTree } from "../helpers/copyTree.js";
import { testdir } from "../helpers/testdir.js";

const ESC = "\u001b";

describe("untrusted text never reaches the terminal raw", () => {
  it("inspect escapes control characters in annotations and titles", async () => {
    const base = await testdir();
    await copyTree(join(FIXTURES, "valid/minimal"), join(base, "agent"));
    const hostile = `${ESC}]0;pwned\u0007${ESC}[2J\nfake line`;
    const r = await build({
      dir: join(base, "agent"),
      cacheDir: join(base, "cache"),
      config: {
        build: {
          tags: ["localhost/evil:1"],
          store: join(base, "store"),
          annotations: { "org.opencontainers.image.description": hostile },
        },
      },
    });
    assert.equal(r.errorCount, 0);
    const out = await runCli(["inspect", "localhost/evil:1", "--store", join(base, "store")]);
    assert.equal(out.code, 0, out.stderr);
    assert.equal(out.stdout.includes(ESC), false);
    assert.equal(out.stdout.includes("\u0007"), false);
    assert.match(
      out.stdout,
      /org\.opencontainers\.image\.description: \\x1b\]0;pwned\\x07\\x1b\[2J\\x0afake line\n/,
    );
    const json = JSON.parse(
      (await runCli(["inspect", "localhost/evil:1", "--store", join(base, "store"), "--json"])).stdout,
    );
    assert.equal(
      json.manifest.annotations["org.opencontainers.image.description"],
      hostile,
      "--json keeps the exact value",
    );
  });

  it("diagnostics escape control characters in messages, hints and source lines", () => {
    const text = formatDiagnostics(
      [
        {
          code: "REGISTRY_DENIED",
          severity: "error",
          message: `registry said ${ESC}[31mno`,
          hint: `try ${ESC}[2J`,
          location: { file: "Agentfile", line: 1, column: 1 },
        },
      ],
      { color: false, source: () => `AGENT ${ESC}[1mx` },
    );
    assert.equal(text.includes(ESC), false);
    assert.match(text, /registry said \\x1b\[31mno/);
    assert.match(text, /1 \| AGENT \\x1b\[1mx/);
  });
});
