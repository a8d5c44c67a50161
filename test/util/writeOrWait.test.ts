import assert from "node:assert/strict";
import { once } from "node:events";
import { PassThrough, Writable } from "node:stream";
import { describe, it } from "node:test";
import { setImmediate as turn } from "node:timers/promises";
import tarStream from "tar-stream";
import { writeOrWait } from "../../src/util/writeOrWait.js";

/** Whether `p` has settled after a few turns of the event loop. */
async function settled(p: Promise<unknown>): Promise<boolean> {
  let done = false;
  void p.then(
    () => {
      done = true;
    },
    () => {
      done = true;
    },
  );
  for (let i = 0; i < 5; i++) await turn();
  return done;
}

describe("writeOrWait", () => {
  it("settles at once while the sink has room, and waits for drain when it is full", async () => {
    const sink = new PassThrough({ highWaterMark: 4 });
    assert.equal(await settled(writeOrWait(sink, Buffer.from("ab"))), true);
    const full = writeOrWait(sink, Buffer.from("cdefgh"));
    assert.equal(await settled(full), false, "must wait while nobody reads");
    sink.resume();
    assert.equal(await settled(full), true, "must settle on drain");
    assert.equal(sink.listenerCount("drain"), 0);
    assert.equal(sink.listenerCount("close"), 0);
  });

  it("settles when a full sink is destroyed instead of draining", async () => {
    const sink = new Writable({ highWaterMark: 1, write: () => {} }); // never calls back: never drains
    const full = writeOrWait(sink, Buffer.from("abc"));
    assert.equal(await settled(full), false);
    sink.destroy();
    assert.equal(await settled(full), true);
  });

  it("settles on a sink destroyed before the write (its close event already passed)", async () => {
    const sink = new Writable({ highWaterMark: 1, write: () => {} });
    sink.on("error", () => {});
    sink.destroy();
    await once(sink, "close");
    assert.equal(await settled(writeOrWait(sink, Buffer.from("abc"))), true);
  });

  it("works on tar-stream's parser, which stops reading when it fails", async () => {
    const extract = tarStream.extract();
    extract.on("error", () => {});
    const garbage = Buffer.alloc(1024 * 1024, 0x41); // not a tar: the parser errors and is destroyed
    let waited = 0;
    for (let i = 0; i < 64 && !extract.destroyed; i++) {
      await writeOrWait(extract, garbage);
      waited++;
    }
    assert.equal(extract.destroyed, true);
    assert.ok(waited < 64, `the parser took ${waited} MiB of garbage`);
  });
});
