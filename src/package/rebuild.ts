import type { PackageFileIndexEntry } from "../compiler/payloads.js";
import { ANNOTATION_TITLE } from "../oci/mediaTypes.js";
import { canonicalJson } from "../util/canonicalJson.js";
import type { OpenedPackage } from "./open.js";

/** One located difference between a package and its rebuild. */
export interface RebuildDifference {
  /** `manifest`, `annotation <key>`, `config <field>`, `directive <n>`, `layer <title>`, `file <path>`. */
  part: string;
  /** What the package has (digest, value) — null when the package lacks it. */
  package: string | null;
  /** What the rebuild has — null when the rebuild lacks it. */
  rebuilt: string | null;
}

export interface RebuildReport {
  /** The source directory rebuilt. */
  dir: string;
  identical: boolean;
  /** The package's manifest digest. */
  expected: string;
  /** The rebuild's manifest digest. */
  digest: string;
  /** Whether the source tree's agentrc.lock matched its inputs (`stale`: the rebuild resolved another lock). */
  lockfile: "current" | "stale";
  /** Where they differ, most specific last: annotations, config fields, directives, layers, files. */
  differences: RebuildDifference[];
}

/**
 * Compares a package with the package rebuilt from its source: identical when the manifest digests are equal;
 * otherwise every annotation, config field, directive, layer (by title) and file (by path, from both file indexes)
 * that differs, so the report says which layer and which file changed without unpacking anything.
 */
export function compareRebuild(pkg: OpenedPackage, rebuilt: OpenedPackage, dir: string): RebuildReport {
  const differences: RebuildDifference[] = [];
  const report: RebuildReport = {
    dir,
    identical: pkg.descriptor.digest === rebuilt.descriptor.digest,
    expected: pkg.descriptor.digest,
    digest: rebuilt.descriptor.digest,
    lockfile: rebuilt.lockfile ?? "current",
    differences,
  };
  if (report.identical) return report;
  const diff = (part: string, a: unknown, b: unknown) => {
    const x = a === undefined ? null : typeof a === "string" ? a : canonicalJson(a);
    const y = b === undefined ? null : typeof b === "string" ? b : canonicalJson(b);
    if (x !== y) differences.push({ part, package: x, rebuilt: y });
  };
  const keys = (a: object | undefined, b: object | undefined) =>
    [...new Set([...Object.keys(a ?? {}), ...Object.keys(b ?? {})])].sort();

  const am = pkg.manifest.annotations ?? {};
  const bm = rebuilt.manifest.annotations ?? {};
  for (const k of keys(am, bm)) diff(`annotation ${k}`, am[k], bm[k]);
  for (const k of ["formatVersion", "agentfileVersion", "policyHash", "builder"] as const) {
    diff(`config ${k}`, pkg.config[k], rebuilt.config[k]);
  }
  diff("config agent.name", pkg.config.agent.name, rebuilt.config.agent.name);
  const da = pkg.config.agent.directives;
  const db = rebuilt.config.agent.directives;
  for (let i = 0; i < Math.max(da.length, db.length); i++) {
    const a = da[i];
    const b = db[i];
    diff(`directive ${i + 1} (${a?.directive ?? b?.directive})`, a, b);
  }

  const layersA = new Map(pkg.manifest.layers.map((l) => [l.annotations?.[ANNOTATION_TITLE] ?? l.digest, l]));
  const layersB = new Map(
    rebuilt.manifest.layers.map((l) => [l.annotations?.[ANNOTATION_TITLE] ?? l.digest, l]),
  );
  const changedLayers = new Set<string>();
  for (const title of keys(Object.fromEntries(layersA), Object.fromEntries(layersB))) {
    const a = layersA.get(title)?.digest;
    const b = layersB.get(title)?.digest;
    if (a !== b) {
      changedLayers.add(title);
      differences.push({ part: `layer ${title}`, package: a ?? null, rebuilt: b ?? null });
    }
  }
  const filesA = byPath(pkg.config.files);
  const filesB = byPath(rebuilt.config.files);
  for (const path of keys(Object.fromEntries(filesA), Object.fromEntries(filesB))) {
    const a = filesA.get(path);
    const b = filesB.get(path);
    const describe = (f: PackageFileIndexEntry | undefined) =>
      f === undefined ? null : `${f.sha256} ${f.size} bytes mode ${f.mode.toString(8)} in ${f.layer}`;
    if (describe(a) !== describe(b))
      differences.push({ part: `file ${path}`, package: describe(a), rebuilt: describe(b) });
  }
  // Layers whose digest changed though no file did (e.g. another epoch or compressor) are still listed above.
  return report;
}

function byPath(files: readonly PackageFileIndexEntry[]): Map<string, PackageFileIndexEntry> {
  return new Map(files.map((f) => [f.path, f]));
}

/** One line naming where a rebuild differs: the layers and files first, as those are what a reviewer looks for. */
export function describeRebuild(report: RebuildReport): string {
  if (report.identical) return `the rebuild of ${report.dir} has the same digest ${report.digest}`;
  const layers = report.differences.filter((d) => d.part.startsWith("layer ")).map((d) => d.part.slice(6));
  const files = report.differences.filter((d) => d.part.startsWith("file ")).map((d) => d.part.slice(5));
  const other = report.differences.filter((d) => !d.part.startsWith("layer ") && !d.part.startsWith("file "));
  const parts = [
    layers.length > 0 ? `layer${layers.length === 1 ? "" : "s"} ${layers.join(", ")}` : "",
    files.length > 0
      ? `file${files.length === 1 ? "" : "s"} ${files.slice(0, 10).join(", ")}${files.length > 10 ? ` and ${files.length - 10} more` : ""}`
      : "",
    other.length > 0
      ? other
          .map((d) => d.part)
          .slice(0, 5)
          .join(", ")
      : "",
  ].filter((p) => p !== "");
  const stale = report.lockfile === "stale" ? " (its agentrc.lock does not match the tree)" : "";
  return `the rebuild of ${report.dir}${stale} has digest ${report.digest}, not ${report.expected}; differences in ${parts.join("; ") || "the manifest"}`;
}
