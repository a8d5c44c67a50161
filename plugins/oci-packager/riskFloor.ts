import { type Compilation, diagnostic, oci, STAGE } from "../../src/core.js";
import { assessRisk, RISK_TIERS, type RiskTier } from "./risk.js";

interface TapLike {
  name: string;
  type: "sync" | "async" | "promise";
  fn: (...args: unknown[]) => unknown;
}
interface Interceptable {
  intercept(interceptor: { register: (tap: TapLike) => TapLike }): void;
}
interface Lowering {
  plugin: string;
  hook: string;
  from: string;
  to: string | undefined;
}

const rank = (tier: string | undefined): number => RISK_TIERS.indexOf(tier as RiskTier);

/**
 * Keeps `io.agentrc.risk.tier` at or above the tier the agent's declarations give. Every other tap on the
 * `annotations` and `manifest` hooks is watched, so the first plugin that lowers the tier (or removes it) is
 * named; at `STAGE.MANIFEST_VERIFY` of the manifest hook the final value is compared with the derived tier and
 * RISK_TIER_LOWERED is reported (an error: a gate that trusts the tier would otherwise under-rate the agent),
 * pointing at the directive that decides the tier.
 */
export function guardRiskTier(compilation: Compilation, owner: string): void {
  let lowered: Lowering | undefined;
  const watch = (hook: "annotations" | "manifest", tierOf: (value: unknown) => string | undefined) => {
    const note = (tap: string, before: unknown, after: unknown) => {
      const from = tierOf(before);
      const to = tierOf(after ?? before);
      if (lowered || from === undefined || rank(from) < 0 || rank(to) >= rank(from)) return;
      lowered = { plugin: tap, hook, from, to };
    };
    (compilation.hooks[hook] as unknown as Interceptable).intercept({
      register(tap: TapLike): TapLike {
        if (tap.name === owner) return tap;
        const fn = tap.fn;
        if (tap.type === "sync") {
          return {
            ...tap,
            fn: (value, ...rest) => observed(fn(value, ...rest), (out) => note(tap.name, value, out)),
          };
        }
        if (tap.type === "promise") {
          return {
            ...tap,
            fn: (value, ...rest) =>
              Promise.resolve(fn(value, ...rest)).then((out) =>
                observed(out, (o) => note(tap.name, value, o)),
              ),
          };
        }
        return {
          ...tap,
          fn: (value, ...rest) => {
            const callback = rest.pop() as (err?: unknown, out?: unknown) => void;
            return fn(value, ...rest, (err?: unknown, out?: unknown) => {
              if (!err) note(tap.name, value, out);
              callback(err, out);
            });
          },
        };
      },
    });
  };
  watch("annotations", (value) => (value as Record<string, string> | undefined)?.[oci.ANNOTATION_RISK_TIER]);
  watch(
    "manifest",
    (value) => (value as oci.ImageManifest | undefined)?.annotations?.[oci.ANNOTATION_RISK_TIER],
  );

  compilation.hooks.manifest.tap({ name: owner, stage: STAGE.MANIFEST_VERIFY }, (manifest) => {
    const derived = assessRisk(compilation);
    const final = manifest.annotations?.[oci.ANNOTATION_RISK_TIER];
    if (rank(final) >= rank(derived.tier)) return manifest;
    const by = lowered
      ? ` (plugin ${lowered.plugin} changed it from "${lowered.from}" in the ${lowered.hook} hook)`
      : "";
    const why = derived.because ? ` (${derived.because.directive} at line ${derived.because.loc.line})` : "";
    compilation.report(
      diagnostic(
        "RISK_TIER_LOWERED",
        `${oci.ANNOTATION_RISK_TIER} is ${final === undefined ? "missing" : `"${final}"`}${by}, but the agent's declarations make it "${derived.tier}"${why}`,
        derived.because ? compilation.locate(derived.because) : undefined,
        { plugin: owner },
      ),
    );
    return manifest;
  });
}

/** Runs `seen` on a tap's result and passes the result on unchanged. */
function observed<T>(out: T, seen: (out: T) => void): T {
  seen(out);
  return out;
}
