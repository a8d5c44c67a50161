import type { CodeInfo } from "./codes.js";

/** Diagnostic codes of the registry client, references, auth, push and pull. Merged into CODES (codes.ts). */
export const REGISTRY_CODES = {} as const satisfies Record<string, CodeInfo>;
