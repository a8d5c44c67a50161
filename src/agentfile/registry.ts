import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { BUILTIN_DIRECTIVES } from "./directives.js";
import type { DirectiveDefinition } from "./types.js";

/** The directives the parser knows: the built-ins plus those plugins register. */
export class DirectiveRegistry {
  readonly #byName = new Map<string, DirectiveDefinition>();

  constructor(definitions: readonly DirectiveDefinition[] = BUILTIN_DIRECTIVES) {
    for (const d of definitions) this.#byName.set(d.name, d);
  }

  /** Adds a plugin directive. Its name must be upper case and new; its `schema` validates its `args`. */
  register(definition: DirectiveDefinition, plugin?: string): void {
    if (!/^[A-Z][A-Z0-9_]*$/.test(definition.name) || definition.name === "END") {
      throw new AgentrcError(
        "DIRECTIVE_CONFLICT",
        `directive name "${definition.name}" must be upper case letters, digits and '_' (and not END)`,
        plugin ? { plugin } : {},
      );
    }
    const existing = this.#byName.get(definition.name);
    if (existing) {
      throw new AgentrcError(
        "DIRECTIVE_CONFLICT",
        `directive ${definition.name} is already defined${existing.plugin ? ` by plugin ${existing.plugin}` : " (built-in)"}`,
        plugin ? { plugin } : {},
      );
    }
    this.#byName.set(definition.name, plugin ? { ...definition, plugin } : definition);
  }

  get(name: string): DirectiveDefinition | undefined {
    return this.#byName.get(name);
  }

  names(): string[] {
    return [...this.#byName.keys()];
  }

  isBlock = (name: string): boolean => this.#byName.get(name)?.block === true;
}
