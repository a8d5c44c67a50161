import assert from "node:assert/strict";
import { join } from "node:path";
import { describe, it } from "node:test";
import {
  comparePathBytes,
  IgnoreMatcher,
  type PatternResult,
  selectPattern,
  walkDirectory,
} from "../../src/core.js";
import { type Entry, tree } from "./helpers.js";

const summary = (r: PatternResult) =>
  r.ok
    ? { files: r.files.map((f) => f.path), problems: r.problems.map((p) => `${p.kind}:${p.path}`) }
    : { error: r.reason };

describe("selectPattern and walkDirectory", () => {
  it("a plain path selects a file or every file of a directory; a glob selects what it matches", async () => {
    const dir = await tree({
      "data/a.md": "a",
      "data/b.txt": "b",
      "data/sub/c.md": "c",
      "data/.hidden.md": "h",
    });
    assert.deepEqual(summary(await selectPattern(dir, "data")), {
      files: ["data/.hidden.md", "data/a.md", "data/b.txt", "data/sub/c.md"],
      problems: [],
    });
    assert.deepEqual(summary(await selectPattern(dir, "data/b.txt")), {
      files: ["data/b.txt"],
      problems: [],
    });
    assert.deepEqual(summary(await selectPattern(dir, "data/*.md")), {
      files: ["data/.hidden.md", "data/a.md"],
      problems: [],
    });
    assert.deepEqual(summary(await selectPattern(dir, "data/**/*.md")), {
      files: ["data/.hidden.md", "data/a.md", "data/sub/c.md"],
      problems: [],
    });
    // A glob matching a directory brings the whole directory, as Docker's COPY does.
    assert.deepEqual(summary(await selectPattern(dir, "data/s*")), {
      files: ["data/sub/c.md"],
      problems: [],
    });
  });

  it("refuses .. and absolute patterns, and reports a missing plain path", async () => {
    const dir = await tree({ "a.txt": "a" });
    assert.deepEqual(summary(await selectPattern(dir, "../x/*")), { error: "escape" });
    assert.deepEqual(summary(await selectPattern(dir, "a/../../x")), { error: "escape" });
    assert.deepEqual(summary(await selectPattern(dir, "/etc/*")), { error: "absolute" });
    assert.deepEqual(summary(await selectPattern(dir, "nope.txt")), { error: "missing" });
    assert.deepEqual(summary(await selectPattern(dir, "nope/*.txt")), { files: [], problems: [] });
  });

  it("symlinks: inside targets are dereferenced, outside ones and dangling ones are problems", async () => {
    const root = await tree({
      "outside.txt": "secret",
      "outdir/x.txt": "x",
      "agent/data/real.md": "r",
      "agent/data/inside.md": { symlink: "real.md" },
      "agent/data/out.md": { symlink: "../../outside.txt" },
      "agent/data/outdir": { symlink: "../../outdir" },
      "agent/data/dangling.md": { symlink: "nowhere.md" },
      "agent/linked": { symlink: "data" },
    });
    const ctx = join(root, "agent");
    const walked = await walkDirectory(ctx, "data");
    assert.deepEqual(summary(walked), {
      files: ["data/inside.md", "data/real.md"],
      problems: ["dangling:data/dangling.md", "escape:data/out.md", "escape:data/outdir"],
    });
    assert.ok(walked.ok);
    const inside = walked.files.find((f) => f.path === "data/inside.md");
    assert.equal(inside?.size, 1, "the size is the target's");
    // Through a glob, including a symlinked directory that stays inside.
    assert.deepEqual(summary(await selectPattern(ctx, "linked/*.md")), {
      files: ["linked/inside.md", "linked/real.md"],
      problems: ["dangling:linked/dangling.md", "escape:linked/out.md"],
    });
    // A glob whose fixed base is a link out of the context is refused before walking.
    assert.deepEqual(summary(await selectPattern(ctx, "data/outdir/*.txt")), { error: "symlink-escape" });
    assert.deepEqual(summary(await selectPattern(ctx, "data/out.md")), { error: "symlink-escape" });
  });

  it("a symlink cycle is not followed (its files are reached through the real path)", async () => {
    const root = await tree({
      "a/f.txt": "f",
      "a/up": { symlink: ".." },
      "a/b/back": { symlink: "../.." },
      "c/to-a": { symlink: "../a" },
    });
    const r = await selectPattern(root, "**");
    assert.deepEqual(summary(r), {
      files: ["a/f.txt", "c/to-a/f.txt"],
      problems: [],
    });
  });

  it("FIFOs are unsupported file types, found by a walk or named directly", async () => {
    const dir = await tree({ "data/a.txt": "a", "data/pipe": { fifo: true } });
    assert.deepEqual(summary(await walkDirectory(dir, "data")), {
      files: ["data/a.txt"],
      problems: ["unsupported:data/pipe"],
    });
    const direct = await selectPattern(dir, "data/pipe");
    assert.deepEqual(summary(direct), { files: [], problems: ["unsupported:data/pipe"] });
    assert.ok(direct.ok);
    assert.match(direct.problems[0]!.detail, /FIFO/);
  });

  it("the ignore matcher and exclusions apply to walks and globs, not to a file named explicitly", async () => {
    const dir = await tree({ "data/a.md": "a", "data/b.log": "b", "data/tmp/c.md": "c", "data/d.md": "d" });
    const ignore = IgnoreMatcher.parse("*.log\ntmp/\n");
    const r = await selectPattern(dir, "data/**", { ignore, exclude: ["data/d.md"] });
    assert.ok(r.ok);
    assert.deepEqual(
      r.files.map((f) => f.path),
      ["data/a.md"],
    );
    assert.equal(r.ignored, 2);
    assert.deepEqual(summary(await selectPattern(dir, "data/b.log", { ignore })), {
      files: ["data/b.log"],
      problems: [],
    });
  });

  it("results do not depend on creation (directory listing) order", async () => {
    const names = ["b.md", "a.md", "c/z.md", "c/a.md", "A.md", "é.md", "e.md", "_.md", "aa/b.md", "a-b.md"];
    const build = async (order: string[]) => {
      const entries: Record<string, Entry> = {};
      for (const n of order) entries[`data/${n}`] = n;
      const dir = await tree(entries);
      return summary(await selectPattern(dir, "data/**/*.md"));
    };
    const forward = await build(names);
    const backward = await build([...names].reverse());
    const shuffled = await build([
      names[3]!,
      names[7]!,
      names[0]!,
      names[9]!,
      ...names.slice(4, 7),
      names[1]!,
      names[2]!,
      names[8]!,
    ]);
    assert.deepEqual(forward, backward);
    assert.deepEqual(forward, shuffled);
    assert.ok("files" in forward);
    const files = forward.files as string[];
    assert.deepEqual(files, [...files].sort(comparePathBytes));
    assert.equal(files.at(-1), "data/é.md", "UTF-8 byte order puts é after ASCII");
  });
});
