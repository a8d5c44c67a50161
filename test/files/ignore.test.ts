import assert from "node:assert/strict";
import { describe, it } from "node:test";
import { IgnoreMatcher } from "../../src/core.js";

const m = (text: string) => IgnoreMatcher.parse(text);

describe(".agentrcignore matching (gitignore subset)", () => {
  it("a name without a slash matches at any depth; comments and blank lines are skipped", () => {
    const ig = m("# comment\n\n*.log\n");
    assert.equal(ig.ignores("a.log"), true);
    assert.equal(ig.ignores("deep/dir/b.log"), true);
    assert.equal(ig.ignores("a.txt"), false);
    assert.equal(ig.ignores("# comment"), false);
  });

  it("a leading or middle slash anchors to the context root", () => {
    const ig = m("/build\ndocs/draft.md\n");
    assert.equal(ig.ignores("build/out.js"), true);
    assert.equal(ig.ignores("src/build/out.js"), false);
    assert.equal(ig.ignores("docs/draft.md"), true);
    assert.equal(ig.ignores("x/docs/draft.md"), false);
  });

  it("a trailing slash matches directories only, and everything below them", () => {
    const ig = m("tmp/\n");
    assert.equal(ig.ignores("tmp", true), true);
    assert.equal(ig.ignores("tmp", false), false);
    assert.equal(ig.ignores("tmp/a/b.txt"), true);
    assert.equal(ig.ignores("src/tmp/x"), true);
  });

  it("** forms: leading, trailing and in the middle", () => {
    const ig = m("**/cache\nlogs/**\na/**/z.txt\n");
    assert.equal(ig.ignores("cache/x"), true);
    assert.equal(ig.ignores("p/q/cache/x"), true);
    assert.equal(ig.ignores("logs/2024/x.txt"), true);
    assert.equal(ig.ignores("logs"), false, "logs/** matches what is inside, not logs itself");
    assert.equal(ig.ignores("a/z.txt"), true);
    assert.equal(ig.ignores("a/b/c/z.txt"), true);
    assert.equal(ig.ignores("b/a/z.txt"), false);
  });

  it("? and character classes never match a slash; [!…] negates", () => {
    const ig = m("file?.txt\n[abc].md\nx[!0-9].js\n");
    assert.equal(ig.ignores("file1.txt"), true);
    assert.equal(ig.ignores("file12.txt"), false);
    assert.equal(ig.ignores("b.md"), true);
    assert.equal(ig.ignores("d.md"), false);
    assert.equal(ig.ignores("xa.js"), true);
    assert.equal(ig.ignores("x1.js"), false);
    assert.equal(m("a?b\n").ignores("a/b"), false);
  });

  it("! re-includes, last match wins, but not below an excluded directory", () => {
    const ig = m("*.log\n!keep.log\nsecret/\n!secret/ok.txt\n");
    assert.equal(ig.ignores("a.log"), true);
    assert.equal(ig.ignores("keep.log"), false);
    assert.equal(
      ig.ignores("secret/ok.txt"),
      true,
      "a parent directory that is excluded cannot be re-entered",
    );
  });

  it("escapes: \\# and \\! at the start, \\* literal, trailing spaces trimmed unless escaped", () => {
    const ig = m("\\#notes\n\\!bang\nstar\\*\ntrailing   \nspace\\ \n");
    assert.equal(ig.ignores("#notes"), true);
    assert.equal(ig.ignores("!bang"), true);
    assert.equal(ig.ignores("star*"), true);
    assert.equal(ig.ignores("starX"), false);
    assert.equal(ig.ignores("trailing"), true);
    assert.equal(ig.ignores("space "), true);
    assert.equal(ig.ignores("space"), false);
  });

  it("an unclosed [ is a literal; regex metacharacters are literal", () => {
    const ig = m("[abc\na+b.(c)\n");
    assert.equal(ig.ignores("[abc"), true);
    assert.equal(ig.ignores("a+b.(c)"), true);
    assert.equal(ig.ignores("aab.(c)"), false);
  });

  it("an empty matcher ignores nothing; CRLF files parse", () => {
    assert.equal(new IgnoreMatcher().ignores("anything"), false);
    assert.equal(m("a.txt\r\nb.txt\r\n").ignores("b.txt"), true);
  });
});
