import {
  type AgentrcPlugin,
  addSelectedFiles,
  type Compiler,
  directiveHasErrors,
  loadIgnoreFile,
  selectForDirective,
} from "../../src/core.js";

const NAME = "bind";

/**
 * `BIND <src> <target> [mode]`: a relative source inside the build context is bundled — the file, or every file
 * below the directory (`.agentrcignore` applied), goes into the data layer at its context-relative path, whatever
 * the mode. An absolute source (or `~`, a host home path) is a runtime host mapping: not bundled, not an error.
 * A relative source that climbs out with `..` or resolves outside through a symlink is PATH_ESCAPE; a missing one
 * is FILE_NOT_FOUND. An existing empty directory bundles nothing and is not an error.
 */
export class BindPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      compilation.hooks.selectFiles.tapPromise(NAME, async () => {
        const nodes = compilation
          .directives("BIND")
          .filter(
            (n) =>
              typeof n.args.source === "string" &&
              !isHostPath(n.args.source) &&
              !directiveHasErrors(compilation, n),
          );
        if (nodes.length === 0) return;
        const ignore = await loadIgnoreFile(compilation.context);
        await Promise.all(
          nodes.map(async (node) => {
            const files = await selectForDirective({
              compilation,
              node,
              pointer: "/source",
              plugin: NAME,
              pattern: String(node.args.source),
              kind: "path",
              ignore,
            });
            if (files) addSelectedFiles(compilation, "data", files, node);
          }),
        );
      });
    });
  }
}

/** A host path mapped at run time: absolute (POSIX or a Windows drive) or under the home directory. */
export function isHostPath(source: string): boolean {
  return (
    source.startsWith("/") || /^[A-Za-z]:[\\/]/.test(source) || source === "~" || source.startsWith("~/")
  );
}
