/**
 * An example organisation plugin, as a company would write it: it adds an OWNER directive, stamps the owner into
 * the package annotations (`com.acme.owner`), and gates builds on the organisation's compliance rules. It uses
 * only the public API, imported from the `agentrc` package as a user's plugin would (inside this repository
 * the name resolves to the package itself through its `exports`).
 */
import type { AgentrcPlugin, Compiler } from "agentrc";

export interface AcmePolicyOptions {
  /** Audit levels the organisation accepts. */
  requiredAudit?: string[];
}

const NAME = "acme-policy";

export class AcmePolicyPlugin implements AgentrcPlugin {
  readonly name = NAME;
  readonly #requiredAudit: string[];

  constructor(options: AcmePolicyOptions = {}) {
    this.#requiredAudit = options.requiredAudit ?? ["all", "compliance"];
  }

  apply(compiler: Compiler): void {
    compiler.registerDirective(
      {
        name: "OWNER",
        summary: "The team that owns this agent (ACME).",
        params: ["team"],
        once: true,
        schema: {
          type: "object",
          required: ["team"],
          additionalProperties: false,
          properties: {
            team: {
              type: "string",
              pattern: "^team-[a-z][a-z0-9-]*$",
              errorMessage: "must be an ACME team id such as team-platform",
            },
          },
        },
      },
      this,
    );
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      compilation.hooks.annotations.tap(NAME, (annotations) => {
        const [owner] = compilation.directives<{ team: string }>("OWNER");
        return owner ? { ...annotations, "com.acme.owner": owner.args.team } : annotations;
      });
      compilation.hooks.check.tap(NAME, () => {
        if (!compilation.spec) return;
        const at = { file: compilation.spec.file, line: 1, column: 1 };
        if (compilation.directives("OWNER").length === 0) {
          compilation.report({
            code: "ACME_OWNER_MISSING",
            severity: "error",
            message: "ACME agents must declare an OWNER team",
            hint: "Add `OWNER team-<name>`.",
            location: at,
            plugin: NAME,
          });
        }
        const [audit] = compilation.directives<{ level: string }>("AUDIT");
        if (!audit || !this.#requiredAudit.includes(audit.args.level)) {
          compilation.report({
            code: "ACME_AUDIT_LEVEL",
            severity: "error",
            message: `ACME requires AUDIT ${this.#requiredAudit.join(" or ")}`,
            hint: `Set AUDIT ${this.#requiredAudit[0]}.`,
            location: audit ? compilation.locate(audit, "/level") : at,
            plugin: NAME,
          });
        }
      });
    });
  }
}
