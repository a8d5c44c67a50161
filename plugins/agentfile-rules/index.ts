import { type AgentrcPlugin, type Compilation, type Compiler, diagnostic } from "../../src/core.js";

const NAME = "agentfile-rules";

/**
 * Advisory lint rules that need only the agent spec: BIND without a mode, no AUDIT, and FROM with a mutable tag
 * that the lockfile does not pin (checked after resolve, once the lockfile is read).
 */
export class AgentfileRulesPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      compilation.hooks.spec.tap(NAME, (spec) => {
        for (const bind of compilation.directives<{ explicitMode: boolean; source: string }>("BIND")) {
          if (!bind.args.explicitMode) {
            compilation.report(
              diagnostic(
                "BIND_NO_MODE",
                `BIND ${bind.args.source} has no mode; it defaults to copy`,
                compilation.locate(bind),
                {
                  plugin: NAME,
                },
              ),
            );
          }
        }
        if (spec.agent !== null && compilation.directives("AUDIT").length === 0) {
          compilation.report(
            diagnostic(
              "AUDIT_MISSING",
              "no AUDIT level is declared",
              { file: spec.file, line: 1, column: 1 },
              { plugin: NAME },
            ),
          );
        }
      });
      compilation.hooks.check.tap(NAME, () => checkFromPinned(compilation));
    });
  }
}

function checkFromPinned(compilation: Compilation): void {
  // lock and build pin the tag themselves (base-resolver), or fail with BASE_RESOLVE_FAILED / LOCKFILE_STALE;
  // the warning is for lint, which stays offline.
  if (compilation.mode !== "lint" || compilation.kind !== "agent") return;
  const [from] = compilation.directives<{ ref: string }>("FROM");
  if (!from || typeof from.args.ref !== "string") return;
  const ref = from.args.ref;
  if (ref === "scratch" || ref.includes("@sha256:")) return;
  const pinned = compilation.lock?.base_image;
  if (pinned && pinned.ref === ref && typeof pinned.digest === "string") return;
  compilation.report(
    diagnostic(
      "FROM_MUTABLE_TAG",
      `FROM ${ref} is a mutable tag and agentrc.lock does not pin it`,
      compilation.locate(from, "/ref"),
      { plugin: NAME },
    ),
  );
}
