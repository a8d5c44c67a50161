import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TransferProgress } from "../../src/cli/transferProgress.js";
import { FakeTerminal } from "../helpers/terminal.js";

const D1 = `sha256:${"a".repeat(64)}`;
const D2 = `sha256:${"b".repeat(64)}`;

describe("push/pull progress rendering", () => {
  it("prints one plain line per finished blob when stderr is not a terminal", () => {
    let out = "";
    const p = new TransferProgress((s) => {
      out += s;
    }, false);
    p.update({ phase: "start", digest: D1, size: 2048, title: "src", transferred: 0 });
    p.update({ phase: "progress", digest: D1, size: 2048, title: "src", transferred: 1024 });
    p.update({ phase: "done", digest: D1, size: 2048, title: "src", transferred: 2048, status: "uploaded" });
    p.update({ phase: "done", digest: D2, size: 10, title: "config", transferred: 10, status: "exists" });
    p.finish();
    assert.equal(out, `uploaded src 2.0 KiB ${D1}\nexists config 10 B ${D2}\n`);
    assert.doesNotMatch(out, /\u001b/, "no escape sequences outside a terminal");
  });

  it("draws one bar per blob on a terminal and redraws them in place", () => {
    let out = "";
    const p = new TransferProgress((s) => {
      out += s;
    }, true);
    p.update({ phase: "start", digest: D1, size: 4096, title: "src", transferred: 0 });
    p.update({ phase: "start", digest: D2, size: 100, title: "config", transferred: 0 });
    p.update({ phase: "done", digest: D1, size: 4096, title: "src", transferred: 4096, status: "uploaded" });
    p.finish();
    const frames = out.split("\u001b[2A");
    assert.ok(frames.length >= 3, "later frames move the cursor up over the two bars");
    const last = frames.at(-1)!;
    assert.match(last, /src\s+\[#{24}\] uploaded\n/);
    assert.match(last, /config\s+\[\.{24}\]\s+0 B \/ 100 B\n/);
  });

  it("with more blobs than rows shows the blobs in flight and one summary line, within the rows and columns", () => {
    const term = new FakeTerminal(8, 60);
    let clock = 0;
    const p = new TransferProgress(term.write, true, "", { size: () => term, now: () => (clock += 40) });
    const digest = (i: number) => `sha256:${i.toString(16).padStart(64, "0")}`;
    const blob = (i: number) => ({ digest: digest(i), size: 1024 * 1024, title: `layer-${i}` });
    const total = 40;
    const inFlight = 4;
    let middle = "";
    // As pushImage runs them: four at a time, the oldest finishing as the next starts.
    for (let i = 0; i < total + inFlight; i++) {
      if (i < total) p.update({ ...blob(i), phase: "start", transferred: 0 });
      for (let j = Math.max(0, i - inFlight + 1); j <= Math.min(i, total - 1); j++) {
        p.update({ ...blob(j), phase: "progress", transferred: 512 * 1024 });
      }
      if (i >= inFlight - 1 && i - inFlight + 1 < total) {
        p.update({ ...blob(i - inFlight + 1), phase: "done", transferred: 1024 * 1024, status: "uploaded" });
      }
      if (i === 20) middle = term.text;
    }
    p.finish();
    assert.deepEqual(term.scrolledOff, [], "no frame scrolled off the top");
    assert.ok(Math.max(...term.heights) <= 7, `at most rows - 1 lines, saw ${Math.max(...term.heights)}`);
    const lines = middle.split("\n");
    assert.deepEqual(
      lines.slice(0, -1).map((l) => l.split(" ")[0]),
      ["layer-18", "layer-19", "layer-20"],
      `the blobs in flight:\n${middle}`,
    );
    assert.match(lines[0]!, /^layer-18 \[#{12}\.{12}\] +512\.0 KiB \/ 1\.0 MiB$/);
    assert.match(lines.at(-1)!, /^18 of 21 blobs done, 19\.5 MiB moved, \d+\.\d MiB\/s$/);
    assert.match(term.text, /^40 of 40 blobs done, 40\.0 MiB moved, \d+\.\d (KiB|MiB)\/s$/);
  });
});
