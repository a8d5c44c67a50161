import { createHash } from "node:crypto";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";
import {
  type AgentrcPlugin,
  type Compilation,
  type Compiler,
  comparePathBytes,
  contextRelative,
  diagnostic,
  STAGE,
  selectPattern,
} from "../../src/core.js";
import {
  isEnvFileName,
  SECRET_DETECTORS,
  type SecretFinding,
  type SecretScanResult,
  SecretScanSink,
  scanFileForSecrets,
} from "./secrets.js";

export {
  isEnvFileName,
  SECRET_DETECTORS,
  type SecretFinding,
  SecretScanner,
  type SecretScanOptions,
  type SecretScanResult,
  scanFileForSecrets,
  scanTextForSecrets,
} from "./secrets.js";

const NAME = "secret-scan";
const CONCURRENCY = 8;
/** Bump when the detectors change meaning, so that files found clean before are scanned again. */
const SCANNER_VERSION = `1.${SECRET_DETECTORS.length}`;

/**
 * Scans every file about to be packed (all layers) and the Agentfile for secrets: private keys, cloud and SaaS
 * tokens, JWTs, secret-looking `KEY=VALUE` assignments and `.env` files (patterns: secrets.ts,
 * docs/files.md). Files are streamed in chunks; binary files are skipped. Each finding is SECRET_IN_FILE at the
 * file, line and column of the match, with a redacted preview — the value itself is never printed. Files matched
 * by the `lint.allowSecrets` globs (relative to the context) are not scanned.
 */
export class SecretScanPlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      // Files that another plugin reads first (the packer, in build mode) are scanned from the bytes it reads,
      // unless their content (by digest) was found clean before: then there is nothing to scan.
      const seen = new Map<string, SecretScanResult>();
      let clean: CleanSet | undefined;
      compilation.contentObservers.push((file, digest) => {
        const envFile = isEnvFileName(file.source);
        if (digest && clean?.has(cleanKey(envFile, digest))) return undefined;
        const sink = new SecretScanSink({ envFile });
        return { update: (chunk) => sink.update(chunk), end: () => seen.set(file.source, sink.result()) };
      });
      compilation.hooks.check.tapPromise({ name: NAME, stage: STAGE.CHECK_PACK_AHEAD - 1 }, async () => {
        clean = await CleanSet.open(compilation.options.cacheDir);
      });
      compilation.hooks.check.tapPromise(NAME, async () => {
        clean ??= await CleanSet.open(compilation.options.cacheDir);
        await scan(compilation, seen, clean);
      });
    });
  }
}

interface Target {
  /** Shown in diagnostics: relative to the context, or absolute when the file lives elsewhere. */
  display: string;
  absolute: string;
}

/** The clean-set key of a content: scanner version, the .env rule or not, digest. */
function cleanKey(envFile: boolean, digest: string): string {
  return `${SCANNER_VERSION}:${envFile ? "env" : "file"}:${digest}`;
}

async function scan(
  compilation: Compilation,
  seen: ReadonlyMap<string, SecretScanResult>,
  clean: CleanSet,
): Promise<void> {
  const context = compilation.context;
  const allowed = await allowList(context, compilation.options.lint.allowSecrets);
  const targets = new Map<string, Target>();
  // A skill or toolset package has no Agentfile: its files are all there is to scan.
  const agentfile = compilation.kind === "agent" ? compilation.spec.file : undefined;
  if (agentfile !== undefined)
    targets.set(agentfile, { display: agentfile, absolute: join(context, ...agentfile.split("/")) });
  for (const f of compilation.allFiles()) {
    const display = contextRelative(context, f.source) ?? f.source;
    if (!targets.has(display)) targets.set(display, { display, absolute: f.source });
  }
  const list = [...targets.values()]
    .filter((t) => !allowed.has(t.display))
    .sort((a, b) => comparePathBytes(a.display, b.display));
  const results = new Map<string, SecretScanResult>();
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < list.length) {
      const t = list[next++]!;
      // Content already found clean (same digest, same name rule) is not read again: a warm rebuild only stats.
      // Otherwise one read serves both the scan and the file's digest (which the lockfile and packer need too).
      const known = await compilation.compiler.fileDigests.peek(t.absolute).catch(() => undefined);
      const envFile = isEnvFileName(t.display);
      if (known?.digest && clean.has(cleanKey(envFile, known.digest))) continue;
      const already = seen.get(t.absolute);
      if (already && known?.digest) {
        // Read (and digested) by the packer in this run: scanned from its bytes, not read again.
        results.set(t.display, already);
        if (already.findings.length === 0 && already.bytes > 0) clean.add(cleanKey(envFile, known.digest));
        continue;
      }
      const hash = known?.digest ? undefined : createHash("sha256");
      const result = await scanFileForSecrets(
        t.absolute,
        hash ? { onChunk: (c) => hash.update(c) } : {},
      ).catch(() => emptyResult());
      const digest = known?.digest ?? `sha256:${hash!.digest("hex")}`;
      if (hash && result.bytes > 0) known?.record(digest);
      results.set(t.display, result);
      const key = cleanKey(envFile, digest);
      if (result.findings.length === 0 && result.bytes > 0) clean.add(key);
    }
  };
  await Promise.all(Array.from({ length: Math.min(CONCURRENCY, list.length) }, worker));
  await clean.save();
  // Lines where the parser already reported a literal CRED secret are not reported twice.
  const credLines = new Set(
    compilation.diagnostics
      .filter(
        (d) => d.code === "CRED_LITERAL_SECRET" && agentfile !== undefined && d.location?.file === agentfile,
      )
      .map((d) => d.location!.line),
  );
  for (const t of list) {
    const r = results.get(t.display);
    if (!r) continue;
    const findings = r.findings.filter((f) => t.display !== agentfile || !credLines.has(f.line));
    findings.forEach((f, i) => {
      const more = i === findings.length - 1 && r.more > 0 ? ` (and ${r.more} more in this file)` : "";
      compilation.report(
        diagnostic(
          "SECRET_IN_FILE",
          `${t.display}: ${describe(f)}${more}`,
          { file: t.display, line: f.line, column: f.column },
          { plugin: NAME },
        ),
      );
    });
  }
}

function describe(f: SecretFinding): string {
  if (f.rule === "env-file") return `a .env file with values is about to be packed (first: ${f.preview})`;
  return `possible ${f.label}: ${f.preview}`;
}

function emptyResult(): SecretScanResult {
  return { findings: [], more: 0, binary: false, bytes: 0, maxBuffered: 0 };
}

/** Context-relative paths of the files the allow-list globs select (a matched directory allows all below it). */
async function allowList(context: string, globs: readonly string[]): Promise<Set<string>> {
  const out = new Set<string>();
  const results = await Promise.all(globs.map((g) => selectPattern(context, g).catch(() => undefined)));
  for (const r of results) if (r?.ok) for (const f of r.files) out.add(f.path);
  return out;
}

/** Keys of contents the scanner found clean, persisted in the cache directory (advisory: losing it costs a rescan). */
class CleanSet {
  #dirty = false;
  private constructor(
    private readonly file: string | undefined,
    private readonly keys: Set<string>,
  ) {}

  static async open(cacheDir: string | undefined): Promise<CleanSet> {
    const file = cacheDir ? join(cacheDir, "secret-scan-clean.json") : undefined;
    let keys: string[] = [];
    if (file)
      keys = await readFile(file, "utf8").then(
        (t) => JSON.parse(t) as string[],
        () => [],
      );
    return new CleanSet(file, new Set(Array.isArray(keys) ? keys : []));
  }

  has(key: string): boolean {
    return this.keys.has(key);
  }

  add(key: string): void {
    this.keys.add(key);
    this.#dirty = true;
  }

  async save(): Promise<void> {
    if (!this.file || !this.#dirty) return;
    try {
      await mkdir(dirname(this.file), { recursive: true });
      const temp = `${this.file}.${process.pid}.tmp`;
      await writeFile(temp, JSON.stringify([...this.keys]));
      await rename(temp, this.file);
    } catch {
      // advisory cache
    }
  }
}
