import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { describe, it } from "node:test";
import { main } from "../../src/cli/main.js";
import { PackProgressPlugin } from "../../src/cli/progress.js";
import { build } from "../../src/index.js";
import { FakeTerminal } from "../helpers/terminal.js";
import { testdir } from "../helpers/testdir.js";

/** An agent with a data layer of incompressible bytes (many chunks to report) and a few skills (several layers). */
async function agentWithData(): Promise<string> {
  const skills: Record<string, string> = {};
  const lines = ["AGENT packer", "AUDIT basic", "INGEST data/**"];
  for (const name of ["alpha", "beta", "gamma", "delta"]) {
    skills[`skills/${name}/SKILL.md`] = `---\nname: ${name}\ndescription: ${name}\n---\n# ${name}\n`;
    lines.push(`SKILL ${name}`);
  }
  return testdir({
    Agentfile: `${lines.join("\n")}\n`,
    ...skills,
    "data/big.bin": randomBytes(3 * 1024 * 1024),
  });
}

describe("build progress on a terminal", () => {
  it("shows the layer being packed with its bytes and rate, and never more lines than the rows", async () => {
    const dir = await agentWithData();
    const term = new FakeTerminal(4, 72);
    let clock = 0;
    const frames: string[] = [];
    const write = (s: string) => {
      term.write(s);
      frames.push(term.text);
    };
    const plugin = new PackProgressPlugin(write, true, { size: () => term, now: () => (clock += 25) });
    const result = await build({
      dir,
      cacheDir: join(dir, ".cache"),
      config: { build: { output: join(dir, ".out") } },
      plugins: [plugin],
    });
    assert.equal(result.errorCount, 0, JSON.stringify(result.diagnostics));
    const data = frames.filter((f) =>
      /^packing data +\d+(\.\d)? (KiB|MiB) \/ 3\.0 MiB {2}\d+\.\d (KiB|MiB)\/s$/m.test(f),
    );
    assert.ok(
      data.length >= 3,
      `the data layer's bytes and rate are redrawn while it packs:\n${frames.join("\n--\n")}`,
    );
    const amounts = data.map((f) => /^packing data +(\S+ \S+) \//m.exec(f)![1]);
    assert.ok(new Set(amounts).size >= 3, `the byte count moves: ${amounts.join(", ")}`);
    assert.ok(
      frames.some((f) => /^packed \d+\/\d+ layers/m.test(f)),
      "a summary line counts the layers",
    );
    assert.deepEqual(term.scrolledOff, [], "no frame scrolled off the top of a 4-row terminal");
    assert.ok(Math.max(...term.heights) <= 3, `at most rows - 1 lines: ${Math.max(...term.heights)}`);
    assert.equal(term.text, "", "the progress block is erased before the build's own output");
  });

  it("`agentrc build` on a TTY stderr draws within the terminal's size", async () => {
    const dir = await agentWithData();
    const term = new FakeTerminal(3, 60);
    const stderr = Object.assign(new PassThrough(), { isTTY: true, rows: term.rows, columns: term.columns });
    stderr.on("data", (c: Buffer) => term.write(c.toString()));
    const stdout = new PassThrough();
    let out = "";
    stdout.on("data", (c: Buffer) => {
      out += c;
    });
    const code = await main(["build", dir, "-t", "localhost/packer:1", "--no-color"], {
      stdout,
      stderr,
      stdin: new PassThrough(),
      env: { AGENTRC_STORE: join(dir, ".store"), AGENTRC_CACHE: join(dir, ".cache"), HOME: dir },
      cwd: dir,
    });
    await new Promise((r) => setImmediate(r));
    assert.equal(code, 0, term.text);
    assert.match(out, /^sha256:[0-9a-f]{64}\n$/);
    assert.deepEqual(
      term.scrolledOff.filter((l) => /packing|packed/.test(l)),
      [],
      "no progress frame scrolled off",
    );
    assert.match(
      term.text,
      /✔ built packer \(\d+ layers, .*\) into local store\n {2}tagged localhost\/packer:1/,
    );
  });
});
