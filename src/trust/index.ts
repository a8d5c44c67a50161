/** Keys, Sigstore bundles attached as referrers, SLSA provenance, and the trust policy (docs/trust.md). */
export * from "./bundles.js";
export * from "./check.js";
export * from "./keys.js";
export * from "./policy.js";
export * from "./provenance.js";
export * from "./verify.js";
