import type { CodeInfo } from "./codes.js";

/** Diagnostic codes of OCI model, packing, image layouts and the local store. Merged into CODES (codes.ts). */
export const OCI_CODES = {} as const satisfies Record<string, CodeInfo>;
