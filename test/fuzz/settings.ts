import assert from "node:assert/strict";
import type { Parameters as FcParameters } from "fast-check";
import { CODES } from "../../src/core.js";

/**
 * Fuzz settings. In CI (`npm test`) every suite runs a fixed seed and a bounded number of cases, so a run is
 * repeatable and finishes in well under two minutes. `npm run fuzz` (scripts/fuzz.mjs) picks a random seed, prints
 * it, and multiplies the cases: re-run a failure with `AGENTRC_FUZZ_SEED=<seed> npm run fuzz`.
 */
export const FUZZ_SEED = Number(process.env.AGENTRC_FUZZ_SEED ?? 20261201);
export const FUZZ_SCALE = Number(process.env.AGENTRC_FUZZ_SCALE ?? 1);

/** fast-check parameters for a suite of `runs` cases (at CI scale). */
export function fuzzParameters<T>(runs: number): FcParameters<T> {
  return { seed: FUZZ_SEED, numRuns: Math.max(1, Math.round(runs * FUZZ_SCALE)), endOnFailure: true };
}

const KNOWN = new Set(Object.keys(CODES));

/** A code the catalogue knows and that is not a crash in disguise. */
export function assertHandledCode(code: string | undefined, context: string): void {
  assert.ok(code !== undefined, `no code: ${context}`);
  assert.notEqual(code, "INTERNAL", context);
  assert.notEqual(code, "PLUGIN_FAILED", `a built-in plugin crashed: ${context}`);
  assert.ok(KNOWN.has(code), `unknown code ${code}: ${context}`);
}

/**
 * Runs `fn`; a throw must be an AgentrcError with a handled code (and, when given, one of `prefixes`). Returns the
 * code, or undefined when `fn` succeeded.
 */
export async function expectHandled(
  fn: () => Promise<unknown>,
  context: () => string,
  prefixes?: readonly string[],
): Promise<string | undefined> {
  try {
    await fn();
    return undefined;
  } catch (err) {
    const e = err as Error & { code?: string };
    assert.equal(
      e?.name,
      "AgentrcError",
      `not an AgentrcError (${e?.name}: ${e?.message}) for ${context()}\n${e?.stack}`,
    );
    assertHandledCode(e.code, `${e.message} for ${context()}`);
    if (prefixes) {
      assert.ok(
        prefixes.some((p) => e.code!.startsWith(p)),
        `${e.code} is not one of ${prefixes.join(", ")}: ${e.message} for ${context()}`,
      );
    }
    return e.code;
  }
}
