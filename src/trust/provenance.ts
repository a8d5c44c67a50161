import type { InTotoStatement } from "./bundles.js";
import type { BundleCheck } from "./verify.js";

/** What `inspect` and `verify` show of a package's SLSA provenance. */
export interface ProvenanceSummary {
  predicateType: string;
  builder: string | undefined;
  builderVersion: Record<string, string> | undefined;
  buildType: string | undefined;
  /** The git source (`git+<remote>`) and commit, when the build ran in a checkout. */
  source: { uri: string; commit: string | undefined } | undefined;
  /** Every resolved dependency: uri or name, digest, role (base, skill, toolset). */
  dependencies: Array<{ uri?: string; name?: string; digest: string; role?: string }>;
  /** Signed (a DSSE bundle), and by which key when it was verified. */
  signed: boolean;
  signer: string | undefined;
}

interface ResourceDescriptor {
  uri?: string;
  name?: string;
  digest?: Record<string, string>;
  annotations?: Record<string, string>;
}

/** A flat view of a SLSA v1 statement; `check`, its referrer's check, says whether (and by whom) it was signed. */
export function summariseProvenance(
  statement: InTotoStatement,
  check: BundleCheck | undefined,
): ProvenanceSummary {
  const predicate = statement.predicate as {
    buildDefinition?: { buildType?: string; resolvedDependencies?: ResourceDescriptor[] };
    runDetails?: { builder?: { id?: string; version?: Record<string, string> } };
  };
  const deps = Array.isArray(predicate.buildDefinition?.resolvedDependencies)
    ? predicate.buildDefinition.resolvedDependencies
    : [];
  const git = deps.find((d) => typeof d?.uri === "string" && d.uri.startsWith("git+"));
  return {
    predicateType: statement.predicateType,
    builder: predicate.runDetails?.builder?.id,
    builderVersion: predicate.runDetails?.builder?.version,
    buildType: predicate.buildDefinition?.buildType,
    source: git ? { uri: git.uri!, commit: git.digest?.gitCommit } : undefined,
    dependencies: deps
      .filter((d) => d !== git && d?.digest && typeof d.digest === "object")
      .map((d) => {
        const [alg, value] = Object.entries(d.digest!)[0] ?? ["", ""];
        return {
          ...(d.uri === undefined ? {} : { uri: d.uri }),
          ...(d.name === undefined ? {} : { name: d.name }),
          digest: `${alg}:${value}`,
          ...(d.annotations?.role === undefined ? {} : { role: d.annotations.role }),
        };
      }),
    signed: check !== undefined && check.status !== "unsigned",
    signer: check?.signer,
  };
}
