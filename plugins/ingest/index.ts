import {
  type AgentrcPlugin,
  addSelectedFiles,
  type Compiler,
  directiveHasErrors,
  loadIgnoreFile,
  selectGlobArguments,
} from "../../src/core.js";

/**
 * Selects the files of one glob directive into the data layer. Each glob is matched with fast-glob relative to the
 * build context (dot files included, `.agentrcignore` applied, `!<glob>` arguments exclude); a matched directory
 * brings every file below it. Files keep their context-relative paths. A glob that selects nothing is GLOB_NO_MATCH.
 * INGEST and INCLUDE differ only in meaning (retrieval corpus vs explicit extra files), so they share this class.
 */
export class GlobDataPlugin implements AgentrcPlugin {
  constructor(
    readonly name: string,
    private readonly directive: string,
  ) {}

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(this.name, (compilation) => {
      compilation.hooks.selectFiles.tapPromise(this.name, async () => {
        const nodes = compilation
          .directives(this.directive)
          .filter((n) => !directiveHasErrors(compilation, n));
        if (nodes.length === 0) return;
        const ignore = await loadIgnoreFile(compilation.context);
        for (const node of nodes) {
          addSelectedFiles(
            compilation,
            "data",
            await selectGlobArguments(compilation, node, this.name, ignore),
            node,
          );
        }
      });
    });
  }
}

/** `INGEST <glob>…`: documents for retrieval, in the data layer. */
export class IngestPlugin extends GlobDataPlugin {
  constructor() {
    super("ingest", "INGEST");
  }
}
