import {
  type AgentrcPlugin,
  addSelectedFiles,
  type Compiler,
  directiveHasErrors,
  loadIgnoreFile,
  selectGlobArguments,
} from "../../src/core.js";

const NAME = "include";

/**
 * `INCLUDE <glob>…`: explicit extra files (prompts, examples, assets). Each glob is matched with fast-glob relative to the build context
 * (dot files included, `.agentrcignore` applied, `!<glob>` arguments exclude); a matched directory brings every
 * file below it. The files go into the data layer at their context-relative paths. A glob that selects nothing
 * is GLOB_NO_MATCH.
 */
export class IncludePlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      compilation.hooks.selectFiles.tapPromise(NAME, async () => {
        const nodes = compilation.directives("INCLUDE").filter((n) => !directiveHasErrors(compilation, n));
        if (nodes.length === 0) return;
        const ignore = await loadIgnoreFile(compilation.context);
        for (const node of nodes) {
          addSelectedFiles(
            compilation,
            "data",
            await selectGlobArguments(compilation, node, NAME, ignore),
            node,
          );
        }
      });
    });
  }
}
