import { dirname, join, resolve } from "node:path";
import { builtinPlugins } from "../plugins/index.js";
import type { Compilation, CompilationMode } from "./compiler/Compilation.js";
import { Compiler } from "./compiler/Compiler.js";
import type { AgentrcPlugin, CompilerOptions, RegistrySettings } from "./compiler/types.js";
import { configBase, loadConfig } from "./config/loadConfig.js";
import type { AgentrcConfig } from "./config/types.js";
import { AgentrcError } from "./diagnostics/AgentrcError.js";
import type { Diagnostic } from "./diagnostics/types.js";
import { defaultCacheDir } from "./fs/fileDigest.js";
import { assertRefName } from "./oci/layout.js";
import type { AttachedArtifact } from "./oci/referrers.js";
import { LocalStore } from "./oci/store.js";
import { attachToPackage } from "./package/attach.js";
import {
  type OpenedPackage,
  type OpenPackageOptions,
  openPackage as openPackageReader,
  openSourceDirectory,
  type SourceBuilder,
} from "./package/open.js";
import { checkUnpackTarget, type PulledManifest, pullImage, type UnpackOptions } from "./package/pull.js";
import { pushFromStore } from "./package/push.js";
import type { PackageView } from "./package/read.js";
import { compareRebuild, describeRebuild, type RebuildReport } from "./package/rebuild.js";
import { type VerifyCheckName, type VerifyReport, verifyPackage } from "./package/verify.js";
import { RegistryClient, type RegistryClientOptions } from "./registry/client.js";
import { parseReference } from "./registry/reference.js";
import type { BlobProgress, BlobResult, ProgressCallback, PushImageResult } from "./transfer/types.js";
import { signatureReferrer } from "./trust/bundles.js";
import { checkTrust, type TrustDecision, TrustPolicyViolation } from "./trust/check.js";
import {
  generateKeyPair,
  loadPublicKey,
  type PrivateKeyFormat,
  type PublicKeyInfo,
  writeKeyPair,
} from "./trust/keys.js";
import { resolveTrustPolicy, type TrustPolicy } from "./trust/policy.js";
import { type ProvenanceSummary, summariseProvenance } from "./trust/provenance.js";
import { type BundleCheck, checkAttachments, signatureFailures, type TrustFailure } from "./trust/verify.js";
import { didYouMean } from "./util/didYouMean.js";

export interface RunOptions {
  /** Directory to start from: the build context, or the directory holding the config file. Default: cwd. */
  dir?: string;
  /** The environment of the run (CompilerOptions.env); default the registry settings' `env`, else process.env. */
  env?: Readonly<Record<string, string | undefined>>;
  /** Explicit config file (skips discovery). */
  configFile?: string;
  /** Inline configuration merged over the file's (the CLI passes flags this way). */
  config?: AgentrcConfig;
  /** Extra plugins applied after the configured ones. */
  plugins?: AgentrcPlugin[];
  /** Cache directory (file digests, packed layers); default $AGENTRC_CACHE or $XDG_CACHE_HOME/agentrc. */
  cacheDir?: string;
  /**
   * Registry settings for every plugin that talks to a registry (FROM pinning, `SKILL oci://`, `build --push`):
   * merged over the config file's `registry`. Functions (credentials resolver, trace) can only be given here.
   */
  registry?: RegistrySettings;
  /**
   * `lock`: re-resolve the tags of pinned registry dependencies (FROM, SKILL oci://, TOOLSET oci://) — every one for
   * `[]`, else those named (reference as written, or a skill's name). Builds never re-resolve a pin.
   */
  update?: string[];
  /** Resolve agentrc.lock but never write it (see CompilerOptions.build.readOnlyLockfile). */
  readOnlyLockfile?: boolean;
  /**
   * false: ignore `build.cacheTo` of the configuration, so the run writes no shared build cache (a source tree opened
   * as a package, `verify --rebuild`: builds that must write nothing outside their temporary output).
   */
  exportCache?: boolean;
  /** build only: after emit, push the package to registries (compiler.hooks.publish). */
  push?: BuildPushOptions;
  /** `--trust-policy <file>`: the trust policy for FROM, SKILL oci:// and TOOLSET (instead of the config's; the user's applies too). */
  trustPolicy?: string;
  /** build only (`--sign-key`): sign the package and its provenance with this private key (signer hook). */
  signKey?: string;
}

/** Where `build` pushes after emit (`agentrc build --push`); the registry settings are `RunOptions.registry`. */
export interface BuildPushOptions {
  /** References to push to; default: the build's tags (`config.build.tags`). */
  references?: string[];
  onProgress?: (event: BlobProgress, reference: string) => void;
}

/** Loads the configuration and builds the compiler options: defaults ← config file ← inline config. */
export async function resolveOptions(run: RunOptions = {}): Promise<CompilerOptions> {
  const dir = resolve(run.dir ?? ".");
  const loaded = await loadConfig(dir, run.configFile);
  const base = configBase(loaded, dir);
  const file = loaded.config;
  const inline = run.config ?? {};
  const context = resolve(base, inline.context ?? file.context ?? ".");
  const env = run.env ?? run.registry?.env ?? process.env;
  const trustPolicy = await resolveTrustPolicy({
    file: run.trustPolicy,
    config: inline.trustPolicy ?? file.trustPolicy,
    configDir: base,
    cwd: dir,
    env,
  });
  return {
    context,
    agentfile: inline.agentfile ?? file.agentfile ?? "Agentfile",
    cacheDir: run.cacheDir ?? defaultCacheDir(),
    env,
    registry: {
      ...registrySettings(base, file.registry, inline.registry, run.registry),
      ...(trustPolicy === undefined ? {} : { trustPolicy }),
    },
    ...(trustPolicy === undefined ? {} : { trustPolicy }),
    plugins: [
      ...enabledBuiltins({ ...file.builtins, ...inline.builtins }, loaded.filepath),
      ...(file.plugins ?? []),
      ...(inline.plugins ?? []),
      ...(run.plugins ?? []),
    ],
    lint: {
      rules: { ...file.lint?.rules, ...inline.lint?.rules },
      allowSecrets: [...(file.lint?.allowSecrets ?? []), ...(inline.lint?.allowSecrets ?? [])],
    },
    build: {
      ...((inline.build?.frozenLockfile ?? file.build?.frozenLockfile) ? { frozenLockfile: true } : {}),
      ...(run.readOnlyLockfile === true ? { readOnlyLockfile: true } : {}),
      ...(run.update === undefined ? {} : { update: [...run.update] }),
      ...(inline.build?.output === undefined ? {} : { output: resolve(dir, inline.build.output) }),
      ...(inline.build?.outputFormat === undefined ? {} : { outputFormat: inline.build.outputFormat }),
      ...(inline.build?.store === undefined ? {} : { store: inline.build.store }),
      tags: [...(file.build?.tags ?? []), ...(inline.build?.tags ?? [])],
      ...cacheRefs(file.build, inline.build, run.exportCache !== false),
      annotations: { ...file.build?.annotations, ...inline.build?.annotations },
      ...(run.signKey === undefined ? {} : { signKey: resolve(dir, run.signKey) }),
      ...((inline.build?.image ?? file.build?.image) ? { image: true } : {}),
    },
  };
}

/** `cacheFrom` of the file and the inline config together; `cacheTo` from the inline config over the file's. */
function cacheRefs(
  file: AgentrcConfig["build"],
  inline: AgentrcConfig["build"],
  exportCache: boolean,
): { cacheFrom?: string[]; cacheTo?: string } {
  const from = [...new Set([...(file?.cacheFrom ?? []), ...(inline?.cacheFrom ?? [])])];
  const to = exportCache ? (inline?.cacheTo ?? file?.cacheTo) : undefined;
  return { ...(from.length > 0 ? { cacheFrom: from } : {}), ...(to === undefined ? {} : { cacheTo: to }) };
}

/** Config file ← inline config ← API settings; a `caFile` from a file is relative to that file's directory. */
function registrySettings(
  base: string,
  file: AgentrcConfig["registry"],
  inline: AgentrcConfig["registry"],
  api: RegistrySettings | undefined,
): RegistrySettings {
  const out: RegistrySettings = {};
  for (const [settings, relativeTo] of [
    [file, base],
    [inline, base],
  ] as const) {
    if (settings?.plainHttp !== undefined) out.plainHttp = settings.plainHttp;
    if (settings?.insecure !== undefined) out.insecure = settings.insecure;
    if (settings?.caFile !== undefined) out.caFile = resolve(relativeTo, settings.caFile);
    if (settings?.concurrency !== undefined) out.concurrency = settings.concurrency;
  }
  // As with --ca-file and --insecure: a CA or skipped verification means TLS, also for loopback hosts.
  if (out.plainHttp === undefined && (out.caFile !== undefined || out.insecure === true))
    out.plainHttp = false;
  return { ...out, ...api };
}

/**
 * The built-in plugins minus those the configuration switches off (`builtins: { name: false }`), as webpack's
 * `resolve.fallback: { fs: false }` switches a default off; a name that is no built-in is CONFIG_INVALID.
 */
function enabledBuiltins(switches: Record<string, boolean>, file: string | undefined): AgentrcPlugin[] {
  const all = builtinPlugins();
  const names = all.map((p) => p.name);
  for (const name of Object.keys(switches)) {
    if (names.includes(name)) continue;
    const guess = didYouMean(name, names);
    throw new AgentrcError(
      "CONFIG_INVALID",
      `builtins.${name}: there is no built-in plugin called "${name}"${guess ? ` (did you mean "${guess}"?)` : ""}`,
      {
        hint: `Built-in plugins: ${names.join(", ")}.`,
        ...(file ? { location: { file, line: 1, column: 1 } } : {}),
      },
    );
  }
  return all.filter((p) => switches[p.name] !== false);
}

/** Creates a compiler with the built-in plugins plus the configured ones. */
export async function createCompiler(run: RunOptions = {}): Promise<Compiler> {
  return new Compiler(await resolveOptions(run));
}

export interface LintResult {
  compilation: Compilation;
  diagnostics: Diagnostic[];
  errorCount: number;
  warningCount: number;
  /** build with `push`: one result per reference pushed. */
  pushed?: PushImageResult[];
}

/** Parses and checks an agent without packing it. */
export function lint(run: RunOptions = {}): Promise<LintResult> {
  return runMode("lint", run);
}

/** Lints, then resolves and writes agentrc.lock (unless `config.build.frozenLockfile`, which only compares). */
export function lock(run: RunOptions = {}): Promise<LintResult> {
  return runMode("lock", run);
}

/** Builds the package and emits it (local store by default). Diagnostics as for lint; `compilation.package` holds it. */
export function build(run: RunOptions = {}): Promise<LintResult> {
  return runMode("build", run);
}

async function runMode(mode: CompilationMode, run: RunOptions): Promise<LintResult> {
  const compiler = await createCompiler(run);
  const push = mode === "build" ? run.push : undefined;
  if (mode === "build") {
    // A bad tag or push reference fails now, not after every layer has been packed.
    for (const tag of compiler.options.build.tags) assertRefName(tag);
    for (const ref of push?.references ?? (push ? compiler.options.build.tags : [])) parseReference(ref);
  }
  const publish = push
    ? {
        references: push.references ?? compiler.options.build.tags,
        ...(push.onProgress ? { onProgress: push.onProgress } : {}),
        results: [] as PushImageResult[],
      }
    : undefined;
  const compilation = await compiler.run(mode, publish ? { publish } : {});
  const diagnostics = compilation.diagnostics;
  return {
    compilation,
    diagnostics,
    errorCount: diagnostics.filter((d) => d.severity === "error").length,
    warningCount: diagnostics.filter((d) => d.severity === "warning").length,
    ...(publish && publish.results.length > 0 ? { pushed: publish.results } : {}),
  };
}

/** Options of `push` and `pull`: registry client options plus the local store and progress. */
export interface TransferOptions extends RegistryClientOptions {
  /** Local store directory; default from `env` ($AGENTRC_STORE, XDG rules). */
  store?: string;
  /** Blob transfers in flight at once (default 4). */
  concurrency?: number;
  /** Called as each blob starts, moves bytes and finishes. */
  onProgress?: ProgressCallback;
}

export interface PushOptions extends TransferOptions {
  /** The package in the local store to push (default: `ref` as written, then normalised). */
  source?: string;
}

/**
 * Pushes a package from the local store to a registry: blobs the registry has are skipped (HEAD), the others upload
 * in parallel (bounded), then the manifest (its bytes unchanged, so the digest is the one `build` printed). Returns
 * the digest, the digest-pinned reference and what happened to each blob.
 */
export async function push(ref: string, options: PushOptions = {}): Promise<PushImageResult> {
  const target = parseReference(ref);
  const store = await openStore(options);
  const client = new RegistryClient(target.registry, clientOptions(options));
  try {
    return await pushFromStore(store, client, target, options.source ?? ref, transfer(options));
  } finally {
    await client.close();
  }
}

export interface PullOptions extends TransferOptions, UnpackOptions {
  /** Also unpack the package into this directory (new or empty). */
  output?: string;
  /** `--trust-policy <file>`, else the project's `trustPolicy` (config in `cwd`); the user's policy applies as well. */
  trustPolicy?: string;
  /** Where the project's configuration is looked for (default `process.cwd()`). */
  cwd?: string;
  /** The project's configuration file (`--config`). */
  configFile?: string;
}

export interface PullResult {
  /** Manifest digest. */
  digest: string;
  mediaType: string;
  size: number;
  /** `registry/repository@digest`. */
  reference: string;
  /** The local store tag the package was stored under. */
  tag: string;
  manifest: PulledManifest["json"];
  blobs: BlobResult[];
  /** With `output`: where the package was unpacked. */
  output?: { dir: string; files: number; bytes: number };
  /** With `output`: layers left out of the unpacked tree (PULL_LAYER_SKIPPED). */
  warnings: Diagnostic[];
  /** The trust policy's decision (scope, requirement, verified signers); absent without a policy. */
  trust?: TrustDecision;
  /** Referrers (signatures, attestations) pulled with the package. */
  referrers: Array<{ digest: string; artifactType?: string; subject: string }>;
}

/**
 * Pulls a package (any single image manifest) into the local store, every digest and size verified, tagged with the
 * normalised reference (`registry/repository:tag`, or `registry/repository@digest` when pulled by digest). With
 * `output`, also unpacks an agent package there safely, from the download streams (see `pullImage`); the
 * directory is checked before any download.
 */
export async function pull(ref: string, options: PullOptions = {}): Promise<PullResult> {
  const source = parseReference(ref);
  if (options.output !== undefined) await checkUnpackTarget(resolve(options.output));
  const policy = await projectTrustPolicy(options);
  const store = await openStore(options);
  const tag =
    source.tag !== undefined
      ? `${source.registry}/${source.repository}:${source.tag}`
      : `${source.registry}/${source.repository}@${source.digest}`;
  const client = new RegistryClient(source.registry, clientOptions(options));
  const limits: UnpackOptions = {
    ...(options.maxEntries === undefined ? {} : { maxEntries: options.maxEntries }),
    ...(options.maxTotalSize === undefined ? {} : { maxTotalSize: options.maxTotalSize }),
  };
  let pulled: Awaited<ReturnType<typeof pullImage>>;
  try {
    pulled = await pullImage(client, source, store.layout, tag, {
      ...transfer(options),
      ...(policy === undefined ? {} : { trustPolicy: policy }),
      ...(options.output === undefined ? {} : { unpack: { dir: options.output, ...limits } }),
    });
  } finally {
    await client.close();
  }
  const result: PullResult = {
    digest: pulled.descriptor.digest,
    mediaType: pulled.descriptor.mediaType,
    size: pulled.descriptor.size,
    reference: `${source.registry}/${source.repository}@${pulled.descriptor.digest}`,
    tag,
    manifest: pulled.json,
    blobs: pulled.blobs,
    warnings: [],
    referrers: pulled.referrers.map((r) => ({
      digest: r.descriptor.digest,
      ...(r.descriptor.artifactType === undefined ? {} : { artifactType: r.descriptor.artifactType }),
      subject: r.subject,
    })),
    ...(pulled.trust === undefined ? {} : { trust: pulled.trust }),
  };
  if (pulled.output !== undefined) {
    const { warnings, ...output } = pulled.output;
    result.output = output;
    result.warnings = warnings;
  }
  return result;
}

/** Reads a package's manifest and config from a registry (no layers), as `inspect` shows it. */
export async function inspectRemote(ref: string, options: RegistryClientOptions = {}): Promise<PackageView> {
  const pkg = await openPackageReader(ref, { ...options, remote: true });
  await pkg.close();
  return {
    source: pkg.source,
    ref: pkg.ref,
    descriptor: pkg.descriptor,
    manifest: pkg.manifest,
    config: pkg.config,
  };
}

/**
 * The trust policy of a command run in a project directory (pull, verify, sign): `--trust-policy`, else the
 * `trustPolicy` of the configuration found in `cwd` (or `--config`); and the user's policy file in addition to either
 * (src/trust/policy.ts `resolveTrustPolicy`).
 */
export async function projectTrustPolicy(options: {
  trustPolicy?: string | undefined;
  cwd?: string | undefined;
  configFile?: string | undefined;
  env?: NodeJS.ProcessEnv | undefined;
}): Promise<TrustPolicy | undefined> {
  const cwd = options.cwd ?? process.cwd();
  if (options.trustPolicy !== undefined) {
    return resolveTrustPolicy({
      file: options.trustPolicy,
      cwd,
      ...(options.env === undefined ? {} : { env: options.env }),
    });
  }
  const loaded = await loadConfig(cwd, options.configFile);
  return resolveTrustPolicy({
    config: loaded.config.trustPolicy,
    configDir: configBase(loaded, cwd),
    cwd,
    ...(options.env === undefined ? {} : { env: options.env }),
  });
}

function openStore(options: TransferOptions): Promise<LocalStore> {
  return LocalStore.open({
    ...(options.store === undefined ? {} : { path: options.store }),
    ...(options.env === undefined ? {} : { env: options.env }),
  });
}

function clientOptions(options: TransferOptions): RegistryClientOptions {
  const {
    store: _store,
    concurrency: _c,
    onProgress: _p,
    ...rest
  } = options as TransferOptions & PullOptions & PushOptions;
  const {
    output: _o,
    maxEntries: _m,
    maxTotalSize: _t,
    source: _s,
    trustPolicy: _tp,
    cwd: _cwd,
    configFile: _cf,
    ...client
  } = rest;
  return client;
}

function transfer(options: TransferOptions): { concurrency?: number; onProgress?: ProgressCallback } {
  return {
    ...(options.concurrency === undefined ? {} : { concurrency: options.concurrency }),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
  };
}

export interface OpenOptions extends Omit<OpenPackageOptions, "buildSource"> {
  /** For an agent source directory: its configuration file (default: discovered in the directory). */
  configFile?: string;
  /**
   * For an agent source directory: a build cache to read and write. Default none: the build keeps its caches in
   * the temporary directory `close()` removes, so opening a source tree writes nothing that outlives it.
   */
  cacheDir?: string;
}

/**
 * Opens any package reference (local store, registry, OCI layout, oci-archive, or an agent source directory, which
 * is built into a temporary layout that `close()` removes; agentrc.lock is resolved in memory, nothing is written
 * to the source tree, the store or the build cache). See `openPackage` in src/package/open.ts for the resolution
 * rules.
 */
export function openPackage(target: string, options: OpenOptions = {}): Promise<OpenedPackage> {
  const { configFile, cacheDir, ...open } = options;
  return openPackageReader(target, { ...open, buildSource: sourceBuilder({ configFile, cacheDir }) });
}

/**
 * Builds an agent source tree into a fresh layout. agentrc.lock is resolved (pins it holds are kept) and packaged,
 * never written: the source tree is left as it was, and `lockfile` says whether the file on disk was current. A
 * `build.cacheTo` of the tree's configuration is ignored (no shared build cache is written).
 * Without `cacheDir` every cache of the build (file digests, packed layers, verdicts, fetched skills) lives beside
 * the layout, in the opener's temporary directory: the store and the user's build cache are never written.
 */
export function sourceBuilder(options: {
  configFile?: string | undefined;
  cacheDir?: string | undefined;
}): SourceBuilder {
  return async (dir, layoutDir) => {
    const result = await build({
      dir,
      ...(options.configFile === undefined ? {} : { configFile: options.configFile }),
      cacheDir: options.cacheDir ?? join(dirname(layoutDir), "cache"),
      readOnlyLockfile: true,
      exportCache: false,
      config: { build: { output: layoutDir } },
    });
    const pkg = result.compilation.package;
    if (result.errorCount > 0 || pkg === undefined) {
      const first = result.diagnostics.find((d) => d.severity === "error");
      throw new AgentrcError(
        "PACKAGE_SOURCE_BUILD_FAILED",
        `${dir} does not build${first ? `: ${first.code} ${first.message}` : ""}`,
        { diagnostics: result.diagnostics },
      );
    }
    return {
      ref: pkg.descriptor.digest,
      lockfile: result.compilation.lockfileStatus === "current" ? "current" : "stale",
    };
  };
}

export interface VerifyOptions extends OpenOptions {
  /** Also rebuild this agent source directory (its lockfile frozen) and require the same manifest digest. */
  rebuild?: string;
  /** Public key files (`--key`): every one must have signed the manifest digest; every bundle is verified. */
  keys?: string[];
  /**
   * `--trust-policy <file>`, else the project's; the user's policy as well. Registry and store references are checked
   * against their scope, OCI layouts and archives against the policy's `default`.
   */
  trustPolicy?: string;
}

export interface VerifyResult extends VerifyReport {
  /** With `rebuild`: the comparison (which layers and files differ when the digest does). */
  rebuild?: RebuildReport;
  /** Every signature and attestation bundle attached to the package, and how it checked. */
  attachments: BundleCheck[];
  /** The package's SLSA provenance (builder, source, dependencies), when it has one. */
  provenance?: ProvenanceSummary;
  /** The trust policy's decision, when a policy applies to the reference. */
  trust?: { scope: string; requirement: string; policy: string; signers: string[] };
}

/**
 * The trust checks of `verify`: every bundle attached to the package (tampered, misdirected and malformed ones fail
 * whatever the keys); with keys, a signature by each; the provenance's subject; the trust policy for a reference
 * with a registry scope (store and registry packages).
 */
async function verifyTrust(
  pkg: OpenedPackage,
  result: VerifyResult,
  keys: PublicKeyInfo[],
  policy: TrustPolicy | undefined,
): Promise<void> {
  const digest = pkg.descriptor.digest;
  const report = await checkAttachments(pkg.attachments, digest, keys);
  result.attachments = report.bundles;
  const failures = keys.length > 0 ? signatureFailures(report, keys) : report.failures;
  const add = (check: VerifyCheckName, list: TrustFailure[], detail: string) => {
    for (const f of list) result.failures.push({ check, code: f.code, part: f.part, message: f.message });
    if (list.length > 0) result.ok = false;
    result.checks.push({ name: check, status: list.length > 0 ? "failed" : "passed", detail });
  };
  const signatures = report.bundles.filter((b) => b.kind === "signature");
  const verified = [...new Set(signatures.filter((b) => b.status === "verified").map((b) => b.signer!))];
  add(
    "signatures",
    failures.filter((f) => !f.code.startsWith("TRUST_PROVENANCE")),
    keys.length === 0
      ? `${signatures.length} signature${signatures.length === 1 ? "" : "s"} attached (pass --key to verify them)`
      : `${signatures.length} signature${signatures.length === 1 ? "" : "s"}; verified by ${verified.join(", ") || "none of the keys"}`,
  );
  const provenance = report.provenance;
  if (provenance !== undefined) result.provenance = summariseProvenance(provenance, report.provenanceCheck);
  add(
    "provenance",
    failures.filter((f) => f.code.startsWith("TRUST_PROVENANCE")),
    provenance === undefined
      ? "no SLSA provenance attached"
      : `SLSA provenance by ${result.provenance?.builder ?? "?"} (${result.provenance?.signed ? "signed" : "unsigned"})`,
  );
  if (policy === undefined) return;
  if (pkg.kind === "source") {
    // A tree built here is not content entering from anywhere, and it has no signatures to check.
    result.checks.push({
      name: "trust-policy",
      status: "skipped",
      detail:
        "a source directory built here has no registry scope and no signatures: the trust policy does not apply",
    });
    return;
  }
  // An OCI layout or archive has no registry scope: the policy's `default` decides, as podman's does.
  const scoped = (pkg.kind === "registry" || pkg.kind === "store") && hasScope(pkg.ref);
  const unscoped = { layout: "an OCI layout", archive: "an OCI archive" } as Record<string, string>;
  const where = scoped ? "" : `${unscoped[pkg.kind] ?? `store tag ${pkg.ref}`} has no registry scope: `;
  try {
    const decision = await checkTrust(pkg.reference?.toString() ?? pkg.ref, digest, pkg.attachments, policy, {
      scoped,
    });
    result.trust = {
      scope: decision.scope!,
      requirement: decision.requirement!,
      policy: decision.policy!,
      signers: decision.signers,
    };
    add("trust-policy", [], `${where}scope "${decision.scope}" requires ${decision.requirement}: satisfied`);
  } catch (err) {
    if (!(err instanceof TrustPolicyViolation)) throw err;
    add(
      "trust-policy",
      [{ code: err.code, part: `scope ${err.scope}`, message: err.message }],
      `${where}scope "${err.scope}": refused`,
    );
  }
}

function hasScope(ref: string): boolean {
  try {
    parseReference(ref);
    return true;
  } catch {
    return false;
  }
}

/**
 * `agentrc verify`: checks a package from any source against itself (src/package/verify.ts) and, with `rebuild`,
 * against a rebuild of its source tree (PACKAGE_REBUILD_DIFFERS names the layers and files that differ). Problems
 * are reported in the result (`ok: false`), not thrown; a package that cannot be opened at all throws.
 */
export async function verify(target: string, options: VerifyOptions = {}): Promise<VerifyResult> {
  const { rebuild, keys: keyFiles, trustPolicy, ...open } = options;
  const cwd = options.cwd ?? process.cwd();
  const keys = await Promise.all((keyFiles ?? []).map((k) => loadPublicKey(resolve(cwd, k))));
  const policy = await projectTrustPolicy({
    trustPolicy,
    cwd,
    configFile: options.configFile,
    env: options.env,
  });
  const pkg = await openPackage(target, { ...open, checkDigests: false });
  try {
    const result: VerifyResult = { ...(await verifyPackage(pkg)), attachments: [] };
    await verifyTrust(pkg, result, keys, policy);
    if (rebuild === undefined) return result;
    const dir = resolve(options.cwd ?? process.cwd(), rebuild);
    const rebuilt = await openSourceDirectory(dir, {
      buildSource: sourceBuilder({ configFile: options.configFile, cacheDir: options.cacheDir }),
    });
    try {
      result.rebuild = compareRebuild(pkg, rebuilt, dir);
    } finally {
      await rebuilt.close();
    }
    result.checks.push({
      name: "rebuild",
      status: result.rebuild.identical ? "passed" : "failed",
      detail: describeRebuild(result.rebuild),
    });
    if (!result.rebuild.identical) {
      result.failures.push({
        check: "rebuild",
        code: "PACKAGE_REBUILD_DIFFERS",
        part: result.rebuild.differences.find((d) => d.part.startsWith("layer "))?.part ?? "manifest",
        message: describeRebuild(result.rebuild),
      });
      result.ok = false;
    }
    return result;
  } finally {
    await pkg.close();
  }
}

export interface SignOptions extends Omit<OpenPackageOptions, "buildSource" | "checkDigests"> {
  /** The private key file (`--key`); a signer plugin (KMS, keyless) may sign without one. */
  key?: string;
  /** The project's configuration (signer plugins), found in `cwd` unless given. */
  configFile?: string;
}

export interface SignResult {
  ref: string;
  kind: OpenedPackage["kind"];
  source: string;
  /** The manifest digest signed. */
  digest: string;
  /** The signature referrer: its manifest digest and artifact type. */
  signature: { digest: string; artifactType: string };
  /** The signing key's id (bundle hint), when the signer names its key that way. */
  keyId: string | undefined;
  /** Where the signature was attached. */
  attachedIn: "store" | "layout" | "registry";
}

/**
 * `agentrc sign`: signs the package's manifest digest with the signer `compiler.hooks.signer` gives (the built-in
 * key-signer for `key`; a KMS or keyless plugin from the configuration) and attaches the bundle as a referrer where
 * the package is: the local store or an OCI layout, or its registry (referrers API, else the tag fallback). `push`
 * carries store signatures to a registry.
 */
export async function sign(target: string, options: SignOptions = {}): Promise<SignResult> {
  const { key, configFile, ...open } = options;
  const cwd = options.cwd ?? process.cwd();
  const compiler = await createCompiler({ dir: cwd, ...(configFile === undefined ? {} : { configFile }) });
  const signer = await compiler.hooks.signer.promise({
    ...(key === undefined ? {} : { keyFile: resolve(cwd, key) }),
    reference: target,
    purpose: "sign",
    ...(options.env === undefined ? {} : { env: options.env }),
  });
  if (signer === undefined) {
    throw new AgentrcError(
      "TRUST_SIGNER_MISSING",
      `nothing can sign ${target}: no --key and no signer plugin answered`,
      {
        hint: "Pass --key <private.pem>, or configure a signer plugin (docs/trust.md).",
      },
    );
  }
  const pkg = await openPackageReader(target, open);
  try {
    const artifact = await signatureReferrer(pkg.descriptor, pkg.ref, signer);
    const attachedIn = await attachToPackage(pkg, artifact);
    return {
      ref: pkg.ref,
      kind: pkg.kind,
      source: pkg.source,
      digest: pkg.descriptor.digest,
      signature: { digest: artifact.descriptor.digest, artifactType: artifact.descriptor.artifactType! },
      keyId: bundleKeyId(artifact),
      attachedIn,
    };
  } finally {
    await pkg.close();
  }
}

/** The key hint of the bundle a signature referrer holds. */
function bundleKeyId(artifact: AttachedArtifact): string | undefined {
  for (const bytes of artifact.blobs.values()) {
    const hint = (
      JSON.parse(bytes.toString("utf8")) as { verificationMaterial?: { publicKey?: { hint?: unknown } } }
    ).verificationMaterial?.publicKey?.hint;
    if (typeof hint === "string") return hint;
  }
  return undefined;
}

export interface GenerateKeyResult {
  privateKey: string;
  publicKey: string;
  keyId: string;
  encrypted: boolean;
  format: PrivateKeyFormat;
}

/**
 * `agentrc key generate <prefix>`: an ECDSA P-256 pair, `<prefix>.key` (0600) and `<prefix>.pub`. PKCS#8 is encrypted
 * when `passphrase` is non-empty; the cosign format is always sealed with `passphrase` (empty allowed, as in cosign).
 */
export async function generateKey(
  prefix: string,
  options: { passphrase?: string; format?: PrivateKeyFormat } = {},
): Promise<GenerateKeyResult> {
  const format = options.format ?? "pkcs8";
  const pair = await generateKeyPair({ ...options, format });
  const written = await writeKeyPair(resolve(prefix), pair);
  return {
    ...written,
    keyId: pair.keyId,
    encrypted: format === "cosign" || (options.passphrase !== undefined && options.passphrase !== ""),
    format,
  };
}
