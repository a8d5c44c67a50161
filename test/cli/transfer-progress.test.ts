import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { TransferProgress } from "../../src/cli/transferProgress.js";

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
});
