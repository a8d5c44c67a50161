import { createReadStream } from "node:fs";
import { basename } from "node:path";
import { StringDecoder } from "node:string_decoder";
import { trimEnd } from "../../src/core.js";

/** One secret-looking value found in a file. Never holds the value itself. */
export interface SecretFinding {
  /** Detector id, e.g. `github-token`. */
  rule: string;
  /** What was found, for people: "GitHub token". */
  label: string;
  /** 1-based; columns count UTF-16 code units, as in diagnostics. */
  line: number;
  column: number;
  /** A redacted preview: the non-secret prefix, then `…(<length> chars)`. */
  preview: string;
}

export interface SecretScanResult {
  findings: SecretFinding[];
  /** Findings beyond `maxFindings` that were counted but not kept. */
  more: number;
  /** The file looked binary (a NUL byte in its first 8000 bytes) and was not scanned. */
  binary: boolean;
  bytes: number;
  /** The largest amount of text held at once while scanning (UTF-16 units), for memory checks. */
  maxBuffered: number;
}

export interface SecretScanOptions {
  /** Treat the content as a `.env` file (see `isEnvFileName`). */
  envFile?: boolean;
  /** Read size in bytes. Default 1 MiB. */
  chunkSize?: number;
  /** Findings kept per file. Default 10. */
  maxFindings?: number;
  /** Sees every chunk of the file, binary ones included (to hash the file in the same read). */
  onChunk?: (chunk: Buffer) => void;
}

interface Detector {
  rule: string;
  label: string;
  /**
   * A cheap literal test that must pass before `regex` runs: the detectors start with lookbehinds, which V8 cannot
   * search for by prefix, so skipping them on text without their literal makes the scan several times faster.
   */
  prefilter: RegExp;
  regex: RegExp;
  /** The leading part that is safe to show (a fixed prefix, never secret material). */
  visible(match: string): string;
  /** Capture group holding the secret when it is not the whole match. */
  group?: number;
  /** Extra filter, e.g. to skip documented example values. */
  accept?(value: string): boolean;
}

const notExample = (v: string): boolean => !/EXAMPLE/i.test(v);
const prefixOf =
  (re: RegExp) =>
  (m: string): string =>
    re.exec(m)?.[0] ?? "";

/**
 * The patterns of the secret scan. Each regex is global, bounded (no unbounded backtracking) and single-line.
 * docs/files.md lists them.
 */
export const SECRET_DETECTORS: readonly Detector[] = [
  {
    rule: "private-key",
    label: "private key",
    prefilter: /PRIVATE KEY/,
    regex: /-----BEGIN (?:[A-Z0-9]+ ){0,3}PRIVATE KEY(?: BLOCK)?-----/g,
    visible: (m) => m,
  },
  {
    rule: "aws-access-key-id",
    label: "AWS access key id",
    prefilter: /AKIA|ASIA|ABIA|ACCA/,
    regex: /(?<![A-Z0-9])(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}(?![A-Z0-9])/g,
    visible: (m) => m.slice(0, 4),
    accept: notExample,
  },
  {
    rule: "aws-secret-access-key",
    label: "AWS secret access key",
    prefilter: /secret/i,
    regex:
      /(?:aws_?secret_?access_?key|aws_?secret_?key|secret_?access_?key)["']?[ \t]*[:=][ \t]*["']?([A-Za-z0-9/+]{40})(?![A-Za-z0-9/+=])/dgi,
    group: 1,
    visible: () => "",
    accept: notExample,
  },
  {
    rule: "github-token",
    label: "GitHub token",
    prefilter: /gh[pousr]_/,
    regex: /(?<![A-Za-z0-9_])(?:ghp|gho|ghu|ghs|ghr)_[A-Za-z0-9]{36,251}(?![A-Za-z0-9_])/g,
    visible: prefixOf(/^gh[a-z]_/),
  },
  {
    rule: "github-token",
    label: "GitHub fine-grained token",
    prefilter: /github_pat_/,
    regex: /(?<![A-Za-z0-9_])github_pat_[A-Za-z0-9_]{22,244}(?![A-Za-z0-9_])/g,
    visible: () => "github_pat_",
  },
  {
    rule: "slack-token",
    label: "Slack token",
    prefilter: /xox|xapp-/,
    regex: /(?<![A-Za-z0-9_-])(?:xox[abposre]|xapp)-[A-Za-z0-9-]{10,250}(?![A-Za-z0-9_-])/g,
    visible: prefixOf(/^x[a-z]{3}-/),
  },
  {
    rule: "slack-webhook",
    label: "Slack webhook URL",
    prefilter: /hooks\.slack\.com/,
    regex:
      /https:\/\/hooks\.slack\.com\/services\/T[A-Za-z0-9_]{4,20}\/B[A-Za-z0-9_]{4,20}\/[A-Za-z0-9_]{12,40}/g,
    visible: () => "https://hooks.slack.com/services/",
  },
  {
    rule: "google-api-key",
    label: "Google API key",
    prefilter: /AIza/,
    regex: /(?<![A-Za-z0-9_-])AIza[0-9A-Za-z_-]{35}(?![A-Za-z0-9_-])/g,
    visible: () => "AIza",
  },
  {
    rule: "anthropic-api-key",
    label: "Anthropic API key",
    prefilter: /sk-ant-/,
    regex: /(?<![A-Za-z0-9_-])sk-ant-[A-Za-z0-9_-]{20,250}(?![A-Za-z0-9_-])/g,
    visible: () => "sk-ant-",
  },
  {
    rule: "openai-api-key",
    label: "OpenAI API key",
    prefilter: /sk-/,
    regex: /(?<![A-Za-z0-9_-])sk-(?:proj|svcacct|admin)-[A-Za-z0-9_-]{20,250}(?![A-Za-z0-9_-])/g,
    visible: prefixOf(/^sk-[a-z]+-/),
  },
  {
    rule: "openai-api-key",
    label: "OpenAI-style API key",
    prefilter: /sk-/,
    regex: /(?<![A-Za-z0-9_-])sk-[A-Za-z0-9]{32,250}(?![A-Za-z0-9_-])/g,
    visible: () => "sk-",
    accept: (v) => /[0-9]/.test(v) && /[A-Za-z]/.test(v.slice(3)),
  },
  {
    rule: "stripe-live-key",
    label: "Stripe live key",
    prefilter: /_live_/,
    regex: /(?<![A-Za-z0-9_])(?:sk|rk)_live_[A-Za-z0-9]{16,250}(?![A-Za-z0-9_])/g,
    visible: prefixOf(/^[a-z]{2}_live_/),
  },
  {
    rule: "jwt",
    label: "JWT bearer token",
    prefilter: /eyJ/,
    regex:
      /(?<![A-Za-z0-9_-])eyJ[A-Za-z0-9_-]{8,2000}\.eyJ[A-Za-z0-9_-]{8,8000}\.[A-Za-z0-9_-]{8,2000}(?![A-Za-z0-9_-])/g,
    visible: () => "eyJ",
  },
];

/** `KEY=VALUE` (optionally `export KEY=VALUE`) on a line of its own. */
const ASSIGNMENT = /^[ \t]*(?:export[ \t]+)?([A-Za-z_][A-Za-z0-9_.-]*)[ \t]*=[ \t]*(.*)$/dgm;

/** Keys that name secrets: *_TOKEN, *_SECRET, *_PASSWORD, *_KEY and their bare forms. */
const SECRET_KEY =
  /(?:^|[_.-])(?:TOKEN|SECRET|PASSWORD|PASSWD|PASSPHRASE|PWD|API_?KEY|ACCESS_?KEY|PRIVATE_?KEY|KEY)$/i;
const NOT_SECRET_KEY = /PUBLIC|(?:^|_)(?:SORT|PRIMARY|FOREIGN|PARTITION|CACHE|IDEMPOTENCY|HASH|LOOKUP)_KEY$/i;

const PLACEHOLDER =
  /^(?:[x*.\-_#0]+|<.*>|\[.*\]|\{\{.*\}\}|\$\{.*\}|\$\(.*\)|\$[A-Za-z_][A-Za-z0-9_]*|%[A-Za-z_][A-Za-z0-9_]*%|none|null|nil|undefined|true|false|yes|no|on|off|empty|secret|password|passwd|token|key|value|string|redacted|hidden|todo|tbd|fixme|dummy|test|sample|placeholder|changeme|change[-_ ]?me|replace[-_ ]?me|(?:your|my)[-_ ].*|.*example.*|.*placeholder.*|.*change[-_]?me.*|.*redacted.*|.*\.\.\..*|.*xxxx.*|.*\*\*\*.*|.*….*)$/i;
const REFERENCE =
  /^(?:env:|vault:\/\/|keyring:|op:\/\/|secret:\/\/|ssm:|arn:aws:secretsmanager:|gcp-secret:|azure-keyvault:)/i;

/** `.env`, `*.env`, `.env.<stage>` — but not templates such as `.env.example`. */
export function isEnvFileName(path: string): boolean {
  const name = basename(path);
  if (/^\.env\.(?:example|sample|template|dist|defaults|schema)$/i.test(name)) return false;
  return name === ".env" || name.endsWith(".env") || name.startsWith(".env.");
}

/** Strips quotes or a trailing ` # comment`; undefined when the text is not a plain literal value. */
function literalValue(raw: string, strict: boolean): { value: string; offset: number } | undefined {
  const q = raw[0];
  if (q === '"' || q === "'" || q === "`") {
    const end = raw.indexOf(q, 1);
    if (end < 0) return undefined;
    return { value: raw.slice(1, end), offset: 1 };
  }
  // A trailing ` # comment` is cut by search and a walk back, not by `/[ \t]+#.*$/` (quadratic on long blanks).
  const hash = raw.search(/[ \t]#/);
  const value = hash < 0 ? raw : trimEnd(raw.slice(0, hash + 1), " \t");
  if (strict) {
    // In source files only a plain token counts: no calls, lookups, interpolation or code references.
    if (!/^[^\s()[\]{}<>$`'",;]+$/.test(value)) return undefined;
    if (/^[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)+$/.test(value)) return undefined;
    if (/^[A-Z_][A-Z0-9_]*$/.test(value)) return undefined;
  }
  return { value, offset: 0 };
}

const isPlaceholder = (v: string): boolean => v.trim() === "" || PLACEHOLDER.test(v) || REFERENCE.test(v);

const redact = (visible: string, value: string): string =>
  visible === value ? value : `${visible}…(${value.length} chars)`;

interface Hit {
  index: number;
  length: number;
  finding: Omit<SecretFinding, "line" | "column">;
}

/** Text past this size without a newline is scanned in overlapping windows (a minified file, one huge line). */
const MAX_PENDING = 1 << 20;
/** Overlap between windows; longer than any pattern's match. */
const OVERLAP = 16 * 1024;

/**
 * Incremental line-aware scanner: feed it text with `push`, then `end`. Holds at most about one chunk plus one
 * line (or one window of a very long line), so a file of any size streams through in constant memory.
 */
export class SecretScanner {
  readonly #env: boolean;
  readonly #max: number;
  readonly findings: SecretFinding[] = [];
  more = 0;
  maxBuffered = 0;
  #pending = "";
  #line = 1;
  #column = 0;
  #envCandidate: SecretFinding | undefined;

  constructor(options: SecretScanOptions = {}) {
    this.#env = options.envFile ?? false;
    this.#max = options.maxFindings ?? 10;
  }

  push(text: string): void {
    let buf = this.#pending + text;
    this.maxBuffered = Math.max(this.maxBuffered, buf.length);
    const lastNewline = buf.lastIndexOf("\n");
    if (lastNewline >= 0) {
      this.#scan(buf.slice(0, lastNewline + 1), buf.length);
      buf = buf.slice(lastNewline + 1);
    }
    if (buf.length > MAX_PENDING) {
      const cut = buf.length - OVERLAP;
      this.#scan(buf, cut);
      this.#column += cut;
      buf = buf.slice(cut);
    }
    this.#pending = buf;
  }

  end(): void {
    if (this.#pending !== "") this.#scan(this.#pending, Number.POSITIVE_INFINITY);
    this.#pending = "";
    if (this.#env && this.findings.length === 0 && this.more === 0 && this.#envCandidate) {
      this.findings.push(this.#envCandidate);
    }
  }

  /**
   * Scans `text`, which starts at the current line and column; only matches starting before `limit` are
   * reported. Advances the line counter over the newlines of `text` when it is consumed whole.
   */
  #scan(text: string, limit: number): void {
    const hits: Hit[] = [];
    for (const d of SECRET_DETECTORS) {
      if (!d.prefilter.test(text)) continue;
      d.regex.lastIndex = 0;
      for (let m = d.regex.exec(text); m !== null; m = d.regex.exec(text)) {
        const group = d.group;
        const value = group === undefined ? m[0] : (m[group] ?? "");
        const index = group === undefined ? m.index : (m.indices?.[group]?.[0] ?? m.index);
        if (index >= limit) break;
        if (d.accept && !d.accept(value)) continue;
        hits.push({
          index,
          length: value.length,
          finding: { rule: d.rule, label: d.label, preview: redact(d.visible(value), value) },
        });
      }
    }
    ASSIGNMENT.lastIndex = 0;
    for (let m = text.includes("=") ? ASSIGNMENT.exec(text) : null; m !== null; m = ASSIGNMENT.exec(text)) {
      if (m.index >= limit) break;
      if (m.index === 0 && this.#column > 0) continue; // not the start of a line
      const key = m[1]!;
      const raw = trimEnd(trimEnd(m[2]!, "\r"), " \t"); // the regex takes the line whole: linear
      const rawIndex = m.indices?.[2]?.[0] ?? m.index;
      const secretKey = SECRET_KEY.test(key) && !NOT_SECRET_KEY.test(key);
      const lit = literalValue(raw, !this.#env);
      if (!lit || isPlaceholder(lit.value)) continue;
      if (secretKey && (this.#env || lit.value.length >= 4)) {
        hits.push({
          index: rawIndex + lit.offset,
          length: lit.value.length,
          finding: {
            rule: "secret-assignment",
            label: `value of ${key}`,
            preview: redact(`${key}=`, lit.value),
          },
        });
      } else if (this.#env && !this.#envCandidate) {
        const at = this.#position(text, rawIndex + lit.offset);
        this.#envCandidate = {
          rule: "env-file",
          label: ".env file values",
          preview: redact(`${key}=`, lit.value),
          ...at,
        };
      }
    }
    hits.sort((a, b) => a.index - b.index || b.length - a.length);
    let end = -1;
    for (const h of hits) {
      if (h.index < end) continue; // overlaps a finding already kept
      end = h.index + h.length;
      if (this.findings.length >= this.#max) {
        this.more++;
        continue;
      }
      this.findings.push({ ...h.finding, ...this.#position(text, h.index) });
    }
    if (limit >= text.length) {
      // Consumed whole: the text ends at a newline (or at the end of the input).
      let newlines = 0;
      for (let i = text.indexOf("\n"); i >= 0; i = text.indexOf("\n", i + 1)) newlines++;
      if (newlines > 0) {
        this.#line += newlines;
        this.#column = 0;
      }
    }
  }

  /** Line and column of an index into the text being scanned. */
  #position(text: string, index: number): { line: number; column: number } {
    let line = this.#line;
    let lineStart = 0;
    for (let i = text.indexOf("\n"); i >= 0 && i < index; i = text.indexOf("\n", i + 1)) {
      line++;
      lineStart = i + 1;
    }
    const column = index - lineStart + 1 + (line === this.#line ? this.#column : 0);
    return { line, column };
  }
}

/** Scans a string (the Agentfile, tests). */
export function scanTextForSecrets(text: string, options: SecretScanOptions = {}): SecretScanResult {
  const scanner = new SecretScanner(options);
  scanner.push(text);
  scanner.end();
  return {
    findings: scanner.findings,
    more: scanner.more,
    binary: false,
    bytes: Buffer.byteLength(text),
    maxBuffered: scanner.maxBuffered,
  };
}

/**
 * Streams a file through the scanner in chunks (never the whole file in memory). A file with a NUL byte in its
 * first 8000 bytes is treated as binary and not scanned, as git does.
 */
export async function scanFileForSecrets(
  path: string,
  options: SecretScanOptions = {},
): Promise<SecretScanResult> {
  const scanner = new SecretScanner({ envFile: options.envFile ?? isEnvFileName(path), ...options });
  const decoder = new StringDecoder("utf8");
  let bytes = 0;
  let first = true;
  const stream = createReadStream(path, { highWaterMark: options.chunkSize ?? 1 << 20 });
  try {
    let binary = false;
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      options.onChunk?.(chunk);
      bytes += chunk.length;
      if (first) {
        first = false;
        binary = chunk.subarray(0, 8000).includes(0);
      }
      if (binary) {
        // Binary files are not scanned; they are read to the end only when someone hashes them.
        if (!options.onChunk) return { findings: [], more: 0, binary: true, bytes, maxBuffered: 0 };
        continue;
      }
      scanner.push(decoder.write(chunk));
    }
    if (binary) return { findings: [], more: 0, binary: true, bytes, maxBuffered: 0 };
  } finally {
    stream.destroy();
  }
  scanner.push(decoder.end());
  scanner.end();
  return {
    findings: scanner.findings,
    more: scanner.more,
    binary: false,
    bytes,
    maxBuffered: scanner.maxBuffered,
  };
}
