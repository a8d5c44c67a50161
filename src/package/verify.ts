import { createHash } from "node:crypto";
import { effectiveDirectives } from "../compiler/inheritance.js";
import type { PackageConfig } from "../compiler/payloads.js";
import { deriveRiskTier, RISK_TIERS, type RiskTier } from "../compiler/risk.js";
import { isAgentrcError } from "../diagnostics/AgentrcError.js";
import type { Lockfile } from "../lockfile/types.js";
import {
  ANNOTATION_AGENT_NAME,
  ANNOTATION_AGENTFILE_VERSION,
  ANNOTATION_BASE_DIGEST,
  ANNOTATION_ORAS_DIGEST,
  ANNOTATION_POLICY_HASH,
  ANNOTATION_RISK_TIER,
  ANNOTATION_TITLE,
  DIRECTORY_LAYER_MEDIA_TYPES,
  MEDIA_TYPE_LOCK,
  MEDIA_TYPE_POLICY_CEDAR,
} from "../oci/mediaTypes.js";
import type { Descriptor } from "../oci/types.js";
import { schemaValidator } from "../schema/validate.js";
import { compareFileIndex, type LayerScan, type ScanLimits, scanLayer } from "./fileIndex.js";
import type { OpenedPackage, PackageSourceKind } from "./open.js";

/** The checks of `agentrc verify`, in the order they run (docs/review.md). */
export const VERIFY_CHECKS = [
  "blobs",
  "layers",
  "uncompressed",
  "files",
  "policy",
  "lock",
  "annotations",
  "risk",
] as const;
/** The trust checks, after the package's own: signatures (always listed), provenance, and the trust policy. */
export const TRUST_CHECKS = ["signatures", "provenance", "trust-policy"] as const;
export type VerifyCheckName = (typeof VERIFY_CHECKS)[number] | (typeof TRUST_CHECKS)[number] | "rebuild";

/** One failed check: a stable code, the part of the package it is about, and what is wrong. */
export interface VerifyFailure {
  check: VerifyCheckName;
  code: string;
  /** `manifest`, `config`, `layer <title>`, `file <path>`, `annotation <key>`, `lock <section>`, … */
  part: string;
  message: string;
}

export interface VerifyCheckResult {
  name: VerifyCheckName;
  /** `skipped` when an earlier failure leaves nothing trustworthy to check (a manifest or config not matching its digest). */
  status: "passed" | "failed" | "skipped";
  /** What was checked, for the report. */
  detail: string;
}

export interface VerifyReport {
  ok: boolean;
  ref: string;
  source: string;
  kind: PackageSourceKind;
  digest: string;
  checks: VerifyCheckResult[];
  failures: VerifyFailure[];
}

const sha256 = (b: Buffer | string) => `sha256:${createHash("sha256").update(b).digest("hex")}`;
const titleOf = (d: Descriptor, i: number) => d.annotations?.[ANNOTATION_TITLE] ?? `#${i}`;

/**
 * Verifies a package against itself, reading every blob once: blob digests and sizes; the config's layer list and
 * uncompressed digests; the file index against the layers' contents; the policy hash against the policy layer and
 * the annotation; the lockfile layer against the config; the annotations against the config (the risk tier
 * re-derived). Every check runs (a layer that cannot be read only skips what depends on it), and each failure has
 * its own code and names the part that failed.
 */
export async function verifyPackage(pkg: OpenedPackage, limits: ScanLimits = {}): Promise<VerifyReport> {
  const failures: VerifyFailure[] = [];
  const checks: VerifyCheckResult[] = [];
  const fail = (check: VerifyCheckName, code: string, part: string, message: string) =>
    failures.push({ check, code, part, message });
  const record = (name: VerifyCheckName, detail: string) =>
    checks.push({ name, status: failures.some((f) => f.check === name) ? "failed" : "passed", detail });
  const report = (): VerifyReport => ({
    ok: failures.length === 0,
    ref: pkg.ref,
    source: pkg.source,
    kind: pkg.kind,
    digest: pkg.descriptor.digest,
    checks,
    failures,
  });
  const { manifest, config } = pkg;
  const annotations = manifest.annotations ?? {};

  // --- blobs: manifest, config, every layer (read once; directory layers are also unpacked in memory) ----------
  if (pkg.kind !== "registry") {
    checkBytes(pkg.manifestBytes, pkg.descriptor, "manifest", fail);
    checkBytes(pkg.configBytes, manifest.config, "config", fail);
  }
  const scans: Array<LayerScan | undefined> = [];
  const budget = {
    maxEntries: limits.maxEntries ?? 100_000,
    maxTotalSize: limits.maxTotalSize ?? 4 * 1024 ** 3,
  };
  for (const [i, layer] of manifest.layers.entries()) {
    const part = `layer ${titleOf(layer, i)}`;
    const scan = await readLayer(pkg, layer, budget, part, fail);
    if (scan === undefined) {
      scans.push(undefined);
      continue;
    }
    budget.maxEntries -= scan.entries.length;
    budget.maxTotalSize -= scan.uncompressedSize;
    if (scan.size !== layer.size) {
      fail(
        "blobs",
        "PACKAGE_BLOB_SIZE_MISMATCH",
        part,
        `${part} has ${scan.size} bytes; the manifest says ${layer.size}`,
      );
    }
    if (scan.digest !== layer.digest) {
      fail(
        "blobs",
        "PACKAGE_BLOB_DIGEST_MISMATCH",
        part,
        `${part} hashes to ${scan.digest}; the manifest says ${layer.digest}`,
      );
    }
    // Content that does not match its digest is not what the package names: nothing later relies on it.
    scans.push(scan.digest === layer.digest ? scan : undefined);
  }
  const bytes = manifest.layers.reduce((n, l) => n + l.size, pkg.descriptor.size + manifest.config.size);
  record(
    "blobs",
    `manifest, config and ${manifest.layers.length} layers (${bytes} bytes)${pkg.kind === "registry" ? "; manifest and config digests checked by the registry client" : ""}`,
  );
  const untrusted = failures.find((f) => f.part === "manifest" || f.part === "config");
  if (untrusted !== undefined) {
    // The manifest or config is not the one its digest names: everything else they say is unverifiable.
    for (const name of VERIFY_CHECKS.slice(1)) {
      checks.push({
        name,
        status: "skipped",
        detail: `skipped: the ${untrusted.part} does not match its digest`,
      });
    }
    return report();
  }

  // --- layers: the config's layer list against the manifest ----------------------------------------------------
  if (config.layers.length !== manifest.layers.length) {
    fail(
      "layers",
      "PACKAGE_LAYER_MISMATCH",
      "config",
      `the config lists ${config.layers.length} layers; the manifest has ${manifest.layers.length}`,
    );
  }
  for (const [i, layer] of manifest.layers.entries()) {
    const listed = config.layers[i];
    if (listed === undefined) continue;
    const title = titleOf(layer, i);
    const diffs: string[] = [];
    if (listed.title !== layer.annotations?.[ANNOTATION_TITLE])
      diffs.push(`title ${listed.title} ≠ ${title}`);
    if (listed.mediaType !== layer.mediaType)
      diffs.push(`media type ${listed.mediaType} ≠ ${layer.mediaType}`);
    if (listed.digest !== layer.digest) diffs.push(`digest ${listed.digest} ≠ ${layer.digest}`);
    if (listed.size !== layer.size) diffs.push(`size ${listed.size} ≠ ${layer.size}`);
    if (diffs.length > 0) {
      fail(
        "layers",
        "PACKAGE_LAYER_MISMATCH",
        `layer ${title}`,
        `layer ${title}: the config says ${diffs.join(", ")} (config ≠ manifest)`,
      );
    }
  }
  record("layers", `${config.layers.length} layers listed in the config`);

  // --- uncompressed digests ----------------------------------------------------------------------------------------
  for (const [i, layer] of manifest.layers.entries()) {
    const scan = scans[i];
    const listed = config.layers[i];
    if (scan === undefined) continue;
    const title = titleOf(layer, i);
    const diffs: string[] = [];
    if (listed !== undefined && listed.uncompressedDigest !== scan.uncompressedDigest) {
      diffs.push(`the config says ${listed.uncompressedDigest}`);
    }
    if (listed !== undefined && listed.uncompressedSize !== scan.uncompressedSize) {
      diffs.push(`the config says ${listed.uncompressedSize} bytes (it has ${scan.uncompressedSize})`);
    }
    const oras = layer.annotations?.[ANNOTATION_ORAS_DIGEST];
    if (DIRECTORY_LAYER_MEDIA_TYPES.includes(layer.mediaType) && oras !== scan.uncompressedDigest) {
      diffs.push(`${ANNOTATION_ORAS_DIGEST} says ${oras ?? "nothing"}`);
    }
    if (diffs.length > 0) {
      fail(
        "uncompressed",
        "PACKAGE_LAYER_UNCOMPRESSED_MISMATCH",
        `layer ${title}`,
        `layer ${title} uncompresses to ${scan.uncompressedDigest}, but ${diffs.join("; ")}`,
      );
    }
  }
  record("uncompressed", "uncompressed digests and sizes of every layer");

  // --- file index against the layers' contents ------------------------------------------------------------------
  const unread = new Set(manifest.layers.flatMap((l, i) => (scans[i] === undefined ? [titleOf(l, i)] : [])));
  const problems = compareFileIndex(
    config.files.filter((f) => !unread.has(f.layer)),
    manifest.layers.flatMap((l, i) =>
      scans[i] ? [{ title: titleOf(l, i), entries: scans[i]!.entries }] : [],
    ),
  );
  for (const p of problems) fail("files", p.code, `file ${p.path}`, p.message);
  record("files", `${config.files.length} files in the index`);

  // --- policy hash -----------------------------------------------------------------------------------------------
  await checkPolicy(pkg, scans, fail);
  record("policy", config.policyHash === undefined ? "no policy" : `policy ${config.policyHash}`);

  // --- lockfile against the config ---------------------------------------------------------------------------------
  const lockDetail = await checkLock(pkg, scans, fail);
  record("lock", lockDetail);

  // --- annotations against the config ------------------------------------------------------------------------------
  const expected: Array<[string, string]> = [
    [ANNOTATION_AGENT_NAME, config.agent.name],
    [ANNOTATION_AGENTFILE_VERSION, config.agentfileVersion],
  ];
  for (const [key, value] of expected) {
    if (annotations[key] !== value) {
      fail(
        "annotations",
        "PACKAGE_ANNOTATION_MISMATCH",
        `annotation ${key}`,
        `annotation ${key} is ${JSON.stringify(annotations[key] ?? null)}; the config says ${JSON.stringify(value)}`,
      );
    }
  }
  record("annotations", "agent name and Agentfile version");

  const risk = deriveRiskTier(effectiveDirectives(config));
  // A plugin may raise the tier (an organisation rating an agent higher), never lower it.
  const rank = (tier: string | undefined) => RISK_TIERS.indexOf(tier as RiskTier);
  if (rank(annotations[ANNOTATION_RISK_TIER]) < rank(risk.tier)) {
    fail(
      "risk",
      "PACKAGE_RISK_TIER_MISMATCH",
      `annotation ${ANNOTATION_RISK_TIER}`,
      `annotation ${ANNOTATION_RISK_TIER} is ${JSON.stringify(annotations[ANNOTATION_RISK_TIER] ?? null)}; the agent's directives make it ${risk.tier} (${risk.reasons.join("; ")})`,
    );
  }
  record(
    "risk",
    annotations[ANNOTATION_RISK_TIER] === risk.tier || failures.some((f) => f.check === "risk")
      ? `risk tier ${risk.tier}`
      : `risk tier ${annotations[ANNOTATION_RISK_TIER]}, raised from the derived ${risk.tier}`,
  );

  return report();
}

type Fail = (check: VerifyCheckName, code: string, part: string, message: string) => void;

function checkBytes(bytes: Buffer, d: Descriptor, part: string, fail: Fail): void {
  if (bytes.length !== d.size) {
    fail(
      "blobs",
      "PACKAGE_BLOB_SIZE_MISMATCH",
      part,
      `the ${part} has ${bytes.length} bytes; its descriptor says ${d.size}`,
    );
  }
  const digest = sha256(bytes);
  if (digest !== d.digest) {
    fail(
      "blobs",
      "PACKAGE_BLOB_DIGEST_MISMATCH",
      part,
      `the ${part} hashes to ${digest}, not ${d.digest} which names it`,
    );
  }
}

/** Reads one layer; a blob that is missing, corrupt in transit or unreadable is a failure, not a throw. */
async function readLayer(
  pkg: OpenedPackage,
  layer: Descriptor,
  budget: { maxEntries: number; maxTotalSize: number },
  part: string,
  fail: Fail,
): Promise<LayerScan | undefined> {
  try {
    return await scanLayer(await pkg.openBlob(layer, { verify: false }), layer, budget);
  } catch (err) {
    if (!isAgentrcError(err)) throw err;
    if (err.code === "OCI_BLOB_NOT_FOUND" || err.code === "REGISTRY_NOT_FOUND") {
      fail("blobs", "PACKAGE_BLOB_MISSING", part, `${part} (${layer.digest}) is not in ${pkg.source}`);
    } else if (err.code === "REGISTRY_DIGEST_MISMATCH") {
      fail("blobs", "PACKAGE_BLOB_DIGEST_MISMATCH", part, `${part}: ${err.message}`);
    } else if (err.code === "REGISTRY_SIZE_MISMATCH") {
      fail("blobs", "PACKAGE_BLOB_SIZE_MISMATCH", part, `${part}: ${err.message}`);
    } else if (
      err.code === "PACKAGE_LAYER_UNREADABLE" ||
      err.code === "OCI_EXTRACT_TOO_LARGE" ||
      err.code === "OCI_EXTRACT_TOO_MANY_ENTRIES"
    ) {
      fail("uncompressed", err.code, part, err.message);
      await checkRawBlob(pkg, layer, part, fail);
    } else throw err;
    return undefined;
  }
}

/** Digest and size of a layer whose content could not be unpacked (so the blob check still reports on it). */
async function checkRawBlob(pkg: OpenedPackage, layer: Descriptor, part: string, fail: Fail): Promise<void> {
  const hash = createHash("sha256");
  let size = 0;
  try {
    for await (const chunk of await pkg.openBlob(layer, { verify: false })) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
  } catch (err) {
    if (!isAgentrcError(err)) throw err;
    fail("blobs", "PACKAGE_BLOB_DIGEST_MISMATCH", part, `${part}: ${err.message}`);
    return;
  }
  if (size !== layer.size)
    fail(
      "blobs",
      "PACKAGE_BLOB_SIZE_MISMATCH",
      part,
      `${part} has ${size} bytes; the manifest says ${layer.size}`,
    );
  const digest = `sha256:${hash.digest("hex")}`;
  if (digest !== layer.digest)
    fail(
      "blobs",
      "PACKAGE_BLOB_DIGEST_MISMATCH",
      part,
      `${part} hashes to ${digest}; the manifest says ${layer.digest}`,
    );
}

async function checkPolicy(
  pkg: OpenedPackage,
  scans: Array<LayerScan | undefined>,
  fail: Fail,
): Promise<void> {
  const { manifest, config } = pkg;
  const annotation = manifest.annotations?.[ANNOTATION_POLICY_HASH];
  const i = manifest.layers.findIndex((l) => l.mediaType === MEDIA_TYPE_POLICY_CEDAR);
  const part = i >= 0 ? `layer ${titleOf(manifest.layers[i]!, i)}` : "config";
  if (i >= 0) {
    const scan = scans[i];
    // The policy hash is the sha256 of the compiled policy text, which is the layer's exact bytes.
    if (scan !== undefined && config.policyHash !== scan.digest) {
      fail(
        "policy",
        "PACKAGE_POLICY_HASH_MISMATCH",
        part,
        `the policy layer hashes to ${scan.digest}; the config's policyHash is ${config.policyHash ?? "missing"}`,
      );
    }
  } else if (config.policyHash !== undefined && config.policyHash !== sha256("")) {
    fail(
      "policy",
      "PACKAGE_POLICY_HASH_MISMATCH",
      part,
      `the config has policyHash ${config.policyHash} but the package has no policy layer`,
    );
  }
  if (annotation !== config.policyHash) {
    fail(
      "policy",
      "PACKAGE_POLICY_HASH_MISMATCH",
      `annotation ${ANNOTATION_POLICY_HASH}`,
      `annotation ${ANNOTATION_POLICY_HASH} is ${annotation ?? "missing"}; the config's policyHash is ${config.policyHash ?? "missing"}`,
    );
  }
}

/** The lockfile layer against the config and the annotations; returns the report's detail line. */
async function checkLock(
  pkg: OpenedPackage,
  scans: Array<LayerScan | undefined>,
  fail: Fail,
): Promise<string> {
  const { manifest, config } = pkg;
  const i = manifest.layers.findIndex((l) => l.mediaType === MEDIA_TYPE_LOCK);
  const base = manifest.annotations?.[ANNOTATION_BASE_DIGEST];
  if (i < 0) {
    if (base !== undefined) {
      fail(
        "lock",
        "PACKAGE_LOCK_MISMATCH",
        `annotation ${ANNOTATION_BASE_DIGEST}`,
        `annotation ${ANNOTATION_BASE_DIGEST} is ${base} but the package has no lockfile to pin it`,
      );
    }
    return "no lockfile layer";
  }
  const layer = manifest.layers[i]!;
  const part = `layer ${titleOf(layer, i)}`;
  if (scans[i] === undefined || scans[i]!.digest !== layer.digest) return "lockfile not readable";
  const bad = (section: string, message: string) =>
    fail("lock", "PACKAGE_LOCK_MISMATCH", `lock ${section}`, message);
  let lock: Lockfile;
  try {
    lock = JSON.parse((scans[i]!.content ?? (await pkg.readBlob(layer))).toString("utf8")) as Lockfile;
  } catch (err) {
    if (isAgentrcError(err)) throw err;
    bad("file", `${part} is not JSON: ${(err as Error).message}`);
    return "lockfile";
  }
  const validate = schemaValidator("lockfile.schema.json");
  if (!validate(lock)) {
    bad(
      "file",
      `${part} is not a valid agentrc.lock: ${validate.errors?.map((e) => `${e.instancePath || "/"} ${e.message}`).join("; ")}`,
    );
    return "lockfile";
  }
  const contents = new Map<string, string>();
  for (const scan of scans)
    for (const e of scan?.entries ?? []) if (e.sha256 !== undefined) contents.set(e.path, e.sha256);
  compareLock(lock, config, base, contents, bad);
  return "lockfile sections against the config";
}

function compareLock(
  lock: Lockfile,
  config: PackageConfig,
  base: string | undefined,
  contents: ReadonlyMap<string, string>,
  bad: (section: string, message: string) => void,
): void {
  const of = (name: string) => config.agent.directives.filter((d) => d.directive === name).map((d) => d.args);
  const fileDigest = (layerTitle: string, path: string | undefined) => {
    if (path === undefined) return undefined;
    const clean = path.replace(/^\.\//, "");
    const inPackage = clean.startsWith(`${layerTitle}/`) ? clean : `${layerTitle}/${clean}`;
    return contents.get(inPackage);
  };
  if (lock.policy_hash !== config.policyHash) {
    bad(
      "policy_hash",
      `the lock's policy_hash is ${lock.policy_hash ?? "missing"}; the config's policyHash is ${config.policyHash ?? "missing"}`,
    );
  }
  if (lock.base_image?.digest !== base) {
    bad(
      "base_image",
      `the lock pins the base to ${lock.base_image?.digest ?? "nothing"}; annotation ${ANNOTATION_BASE_DIGEST} is ${base ?? "missing"}`,
    );
  }
  const tools = of("TOOL");
  const lockTools = lock.tools ?? [];
  if (tools.map((t) => t.ref).join("\n") !== lockTools.map((t) => t.name).join("\n")) {
    bad(
      "tools",
      `the lock's tools (${lockTools.map((t) => t.name).join(", ") || "none"}) are not the agent's TOOLs (${tools.map((t) => String(t.ref)).join(", ") || "none"})`,
    );
  } else {
    for (const t of lockTools) {
      const actual = fileDigest("tools", t.path);
      if (t.digest !== undefined && actual !== undefined && t.digest !== actual) {
        bad("tools", `the lock pins tool ${t.name} (${t.path}) to ${t.digest}; the package holds ${actual}`);
      }
    }
  }
  const functions = of("FUNCTION");
  const lockFunctions = lock.functions ?? [];
  if (
    functions.map((f) => `${f.path}:${f.symbol}`).join("\n") !==
    lockFunctions.map((f) => `${f.path}:${f.symbol}`).join("\n")
  ) {
    bad("functions", "the lock's functions are not the agent's FUNCTIONs");
  } else {
    for (const f of lockFunctions) {
      const actual = fileDigest("src", f.path);
      if (f.digest !== undefined && actual !== undefined && f.digest !== actual) {
        bad("functions", `the lock pins function ${f.path} to ${f.digest}; the package holds ${actual}`);
      }
    }
  }
  const skillNames = of("SKILL").map((s) =>
    s.source === "name" ? String(s.ref) : String(s.ref).replace(/\/+$/, "").split("/").pop()!,
  );
  const lockSkills = (lock.skills ?? []).map((s) => s.name);
  if (lockSkills.some((n) => !skillNames.includes(n))) {
    bad(
      "skills",
      `the lock pins skills (${lockSkills.join(", ")}) the agent does not declare (${skillNames.join(", ") || "none"})`,
    );
  }
  const creds = [...new Set(of("CRED").map((c) => String(c.name)))].sort();
  if (creds.join("\n") !== (lock.credential_names ?? []).join("\n")) {
    bad(
      "credential_names",
      `the lock's credential names (${(lock.credential_names ?? []).join(", ") || "none"}) are not the agent's CREDs (${creds.join(", ") || "none"})`,
    );
  }
  const sops = of("SOP").map((s) => ({ name: String(s.name), digest: sha256(String(s.text ?? "")) }));
  const lockSops = lock.sops ?? [];
  if (JSON.stringify(sops) !== JSON.stringify(lockSops.map((s) => ({ name: s.name, digest: s.digest })))) {
    bad("sops", "the lock's SOP digests are not those of the agent's SOP blocks");
  }
}
