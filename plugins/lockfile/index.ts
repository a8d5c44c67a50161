import { readFile } from "node:fs/promises";
import { join } from "node:path";
import {
  type AgentrcPlugin,
  type Compiler,
  diagnostic,
  LOCKFILE_NAME,
  type Lockfile,
  schemaValidator,
} from "../../src/core.js";

const NAME = "lockfile";

/** Reads agentrc.lock (when present) during resolve and validates it; other plugins read `compilation.lock`. */
export class LockfilePlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      compilation.hooks.resolve.tapPromise(NAME, async () => {
        let text: string;
        try {
          text = await readFile(join(compilation.context, LOCKFILE_NAME), "utf8");
        } catch {
          return;
        }
        const at = { file: LOCKFILE_NAME, line: 1, column: 1 };
        let data: unknown;
        try {
          data = JSON.parse(text);
        } catch (e) {
          compilation.report(
            diagnostic(
              "LOCKFILE_INVALID",
              `${LOCKFILE_NAME} is not valid JSON: ${(e as Error).message}`,
              at,
              {
                plugin: NAME,
              },
            ),
          );
          return;
        }
        const validate = schemaValidator("lockfile.schema.json");
        if (!validate(data)) {
          for (const e of validate.errors ?? []) {
            if (e.keyword === "if") continue;
            compilation.report(
              diagnostic("LOCKFILE_INVALID", `${LOCKFILE_NAME}${e.instancePath || ""}: ${e.message}`, at, {
                plugin: NAME,
              }),
            );
          }
          return;
        }
        compilation.lock = data as Lockfile;
      });
    });
  }
}
