/** Writes docs/errors.md from the catalogue in src/diagnostics/codes.ts (test/docs.test.ts checks it is current). */
import { writeFileSync } from "node:fs";
import { CODES } from "../src/diagnostics/codes.js";

export function renderErrorsDoc(): string {
  const rows = Object.entries(CODES)
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([code, info]) => `| \`${code}\` | ${info.severity} | ${info.summary} | ${info.hint} |`);
  return [
    "# Diagnostic codes",
    "",
    "Generated from `src/diagnostics/codes.ts` by `npm run docs:errors`; do not edit by hand.",
    "Codes are stable: a code is never renamed or reused. Plugins may raise their own codes (for example the",
    "example organisation plugin's `ACME_*`); `lint.rules` in the configuration can change any code's severity.",
    "",
    "| code | default severity | meaning | fix hint |",
    "|---|---|---|---|",
    ...rows,
    "",
  ].join("\n");
}

if (import.meta.url === `file://${process.argv[1]}`) {
  writeFileSync(new URL("../docs/errors.md", import.meta.url), renderErrorsDoc());
}
