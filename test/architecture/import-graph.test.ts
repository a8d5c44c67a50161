import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { fileURLToPath } from "node:url";
import { findCycles, folderImportGraph, importSpecifiers } from "../helpers/importGraph.js";

const root = fileURLToPath(new URL("../..", import.meta.url));

describe("folder-level import graph of src/ and plugins/", () => {
  it("has no cycle between folders", () => {
    const edges = folderImportGraph(root, ["src", "plugins"]);
    assert.ok(edges.length > 20, `expected the real graph, found ${edges.length} edges`);
    const cycles = findCycles(edges);
    const explain = cycles.map((cycle) => {
      const steps = cycle.slice(1).map((to, i) => {
        const edge = edges.find((e) => e.from === cycle[i] && e.to === to)!;
        return `  ${cycle[i]} → ${to} (${edge.files.slice(0, 3).join(", ")})`;
      });
      return `${cycle.join(" → ")}\n${steps.join("\n")}`;
    });
    assert.deepEqual(explain, [], `import cycles between folders:\n${explain.join("\n")}`);
  });

  it("built-in plugins reach the core only through src/core.ts", () => {
    const edges = folderImportGraph(root, ["src", "plugins"]);
    const leaks = edges.filter(
      (e) => e.from.startsWith("plugins/") && e.to.startsWith("src/") && e.to !== "src/core.ts",
    );
    assert.deepEqual(leaks, []);
  });

  it("finds and names a cycle (the detector itself)", () => {
    const cycles = findCycles([
      { from: "src/a", to: "src/b" },
      { from: "src/b", to: "src/c" },
      { from: "src/c", to: "src/a" },
      { from: "src/c", to: "src/d" },
      { from: "src/d", to: "src/d" },
      { from: "src/e", to: "src/a" },
      { from: "src/f", to: "src/a" },
      { from: "src/a", to: "src/f" },
    ]);
    assert.deepEqual(cycles, [
      ["src/a", "src/f", "src/a"],
      ["src/b", "src/c", "src/a", "src/b"],
      ["src/d", "src/d"],
    ]);
  });

  it("reads static, re-export, side-effect and dynamic imports, not imports quoted in comments", () => {
    const source = [
      'import type { A } from "../a/x.js";',
      "import {",
      "  b,",
      '} from "../b/y.js";',
      'export { c } from "./c.js";',
      'import "../d/side.js";',
      'const e = await import("../e/lazy.js");',
      ' * import { f } from "../f/doc.js";',
      '// const g = import("../g/doc.js");',
    ].join("\n");
    assert.deepEqual(importSpecifiers(source), [
      "../a/x.js",
      "../b/y.js",
      "./c.js",
      "../d/side.js",
      "../e/lazy.js",
    ]);
  });
});
