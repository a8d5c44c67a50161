import assert from "node:assert/strict";
import { createWriteStream } from "node:fs";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { finished } from "node:stream/promises";
import { describe, it } from "node:test";
import { isEnvFileName, scanFileForSecrets, scanTextForSecrets } from "../../plugins/secret-scan/index.js";
import { skillMd } from "../helpers/skillMd.js";
import { HEAD, lintDir, tree, where } from "./helpers.js";

/** Deterministic fake secret material, built at run time so that no token-shaped literal sits in the source. */
function fake(
  length: number,
  alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789",
  seed = 7,
): string {
  let s = seed;
  let out = "";
  for (let i = 0; i < length; i++) {
    s = (s * 1103515245 + 12345) % 2147483648;
    out += alphabet[s % alphabet.length];
  }
  return out;
}
const UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789_-";

/** One case per pattern family: the line holding it, the secret value, and the expected redacted preview. */
const FAMILIES: Array<{ name: string; line: string; secret: string; preview: string; column: number }> =
  (() => {
    const ghp = `ghp_${fake(36)}`;
    const gho = `gho_${fake(36, undefined, 9)}`;
    const pat = `github_pat_${fake(22)}_${fake(59, undefined, 3)}`;
    const akia = `AKIA${fake(16, UPPER)}`;
    const awsSecret = fake(40, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789/+", 11);
    const slack = `xoxb-${fake(12, "0123456789")}-${fake(24)}`;
    const webhook = `https://hooks.slack.com/services/T${fake(8, UPPER)}/B${fake(8, UPPER)}/${fake(24)}`;
    const google = `AIza${fake(35, B64URL)}`;
    const openai = `sk-proj-${fake(48, B64URL)}`;
    const openaiLegacy = `sk-${fake(48)}`;
    const anthropic = `sk-ant-api03-${fake(90, B64URL)}`;
    const stripe = `sk_live_${fake(24)}`;
    const jwt = `eyJ${fake(20, B64URL)}.eyJ${fake(30, B64URL)}.${fake(43, B64URL)}`;
    const password = fake(16, undefined, 5);
    return [
      {
        name: "private key (RSA)",
        line: "-----BEGIN RSA PRIVATE KEY-----",
        secret: "",
        preview: "-----BEGIN RSA PRIVATE KEY-----",
        column: 1,
      },
      {
        name: "private key (OpenSSH)",
        line: "-----BEGIN OPENSSH PRIVATE KEY-----",
        secret: "",
        preview: "-----BEGIN OPENSSH PRIVATE KEY-----",
        column: 1,
      },
      {
        name: "private key (PGP)",
        line: "  -----BEGIN PGP PRIVATE KEY BLOCK-----",
        secret: "",
        preview: "-----BEGIN PGP PRIVATE KEY BLOCK-----",
        column: 3,
      },
      {
        name: "AWS access key id",
        line: `aws_access_key_id = ${akia}`,
        secret: akia,
        preview: "AKIA…(20 chars)",
        column: 21,
      },
      {
        name: "AWS secret access key",
        line: `aws_secret_access_key = ${awsSecret}`,
        secret: awsSecret,
        preview: "…(40 chars)",
        column: 25,
      },
      { name: "GitHub ghp_", line: `token: ${ghp}`, secret: ghp, preview: "ghp_…(40 chars)", column: 8 },
      { name: "GitHub gho_", line: `"${gho}"`, secret: gho, preview: "gho_…(40 chars)", column: 2 },
      { name: "GitHub github_pat_", line: pat, secret: pat, preview: "github_pat_…(93 chars)", column: 1 },
      {
        name: "Slack token",
        line: `slack ${slack}`,
        secret: slack,
        preview: `xoxb-…(${slack.length} chars)`,
        column: 7,
      },
      {
        name: "Slack webhook",
        line: `url=${webhook}`,
        secret: webhook.slice(33),
        preview: "https://hooks.slack.com/services/…",
        column: 5,
      },
      {
        name: "Google API key",
        line: `key: ${google}`,
        secret: google,
        preview: "AIza…(39 chars)",
        column: 6,
      },
      {
        name: "OpenAI project key",
        line: `client = OpenAI(api_key="${openai}")`,
        secret: openai,
        preview: "sk-proj-…(56 chars)",
        column: 26,
      },
      {
        name: "OpenAI legacy key",
        line: openaiLegacy,
        secret: openaiLegacy,
        preview: "sk-…(51 chars)",
        column: 1,
      },
      {
        name: "Anthropic key",
        line: `ANTHROPIC=${anthropic}`,
        secret: anthropic,
        preview: "sk-ant-…(103 chars)",
        column: 11,
      },
      {
        name: "Stripe live key",
        line: `stripe.api_key = '${stripe}'`,
        secret: stripe,
        preview: "sk_live_…(32 chars)",
        column: 19,
      },
      {
        name: "JWT bearer token",
        line: `Authorization: Bearer ${jwt}`,
        secret: jwt,
        preview: "eyJ…",
        column: 23,
      },
      {
        name: "KEY=VALUE with a secret-looking key",
        line: `DB_PASSWORD=${password}`,
        secret: password,
        preview: "DB_PASSWORD=…(16 chars)",
        column: 13,
      },
    ];
  })();

describe("secret scan: pattern families", () => {
  for (const f of FAMILIES) {
    it(`${f.name}: SECRET_IN_FILE at the match, without the value`, async () => {
      const dir = await tree({
        Agentfile: `${HEAD}INCLUDE conf/settings.txt\n`,
        "conf/settings.txt": `# settings\n\n${f.line}\nend\n`,
      });
      const r = await lintDir(dir);
      assert.deepEqual(where(r.diagnostics), [`conf/settings.txt:3:${f.column} SECRET_IN_FILE`]);
      const d = r.diagnostics[0]!;
      assert.equal(d.severity, "error");
      assert.equal(d.plugin, "secret-scan");
      assert.ok(d.message.includes(f.preview), `${d.message} shows ${f.preview}`);
      if (f.secret) assert.ok(!d.message.includes(f.secret), "the secret value never appears in the message");
      if (f.secret) assert.ok(!JSON.stringify(r.diagnostics).includes(f.secret.slice(4, 20)));
    });
  }

  it(".env files: any real value is reported once; secret-looking keys each on their own line", async () => {
    const dir = await tree({
      Agentfile: `${HEAD}INCLUDE app\n`,
      "app/.env": "# local\nPORT=8080\nLOG_LEVEL=debug\n",
      "app/prod.env": `HOST=example.org\nAPI_TOKEN=${fake(24)}\nSESSION_SECRET="${fake(30)}"\n`,
      "app/.env.example": "API_TOKEN=\nDB_PASSWORD=<your password>\nPORT=8080\n",
      "app/.env.local": `EMPTY=\nREF=${"$"}{OTHER}\n`,
    });
    const r = await lintDir(dir);
    assert.deepEqual(where(r.diagnostics), [
      "app/.env:2:6 SECRET_IN_FILE",
      "app/prod.env:2:11 SECRET_IN_FILE",
      "app/prod.env:3:17 SECRET_IN_FILE",
    ]);
    assert.match(
      r.diagnostics[0]!.message,
      /a \.env file with values is about to be packed \(first: PORT=…\(4 chars\)\)/,
    );
    assert.match(r.diagnostics[1]!.message, /API_TOKEN=…\(24 chars\)/);
    assert.ok(isEnvFileName("x/.env") && isEnvFileName("prod.env") && isEnvFileName(".env.production"));
    assert.ok(!isEnvFileName(".env.example") && !isEnvFileName("environment.txt"));
  });

  it("placeholders, references, documented examples and code are not secrets", () => {
    const text = [
      "API_KEY=changeme",
      `GITHUB_TOKEN=${"$"}{GITHUB_TOKEN}`,
      "DB_PASSWORD=<password>",
      "SECRET_KEY=your-secret-here",
      "SLACK_TOKEN=env:SLACK_TOKEN",
      "export VAULT_TOKEN=vault://secret/x#token",
      "API_KEY = os.environ['API_KEY']",
      "API_KEY = settings.api_key",
      "PUBLIC_KEY=abcdef123456",
      "AKIAIOSFODNN7EXAMPLE",
      "MAX_TOKENS=4096",
      "task-assessment-framework-is-long-enough",
      "-----BEGIN PUBLIC KEY-----",
    ].join("\n");
    assert.deepEqual(scanTextForSecrets(text).findings, []);
  });

  it("a secret in the Agentfile is reported; a CRED literal is left to CRED_LITERAL_SECRET", async () => {
    const dir = await tree({
      Agentfile: `${HEAD}# token for later: ghp_${fake(36)}\nCRED gh ghp_${fake(36, undefined, 2)}\n`,
    });
    const r = await lintDir(dir);
    assert.deepEqual(where(r.diagnostics), [
      "Agentfile:3:20 SECRET_IN_FILE",
      "Agentfile:4:9 CRED_LITERAL_SECRET",
    ]);
  });

  it("lint.allowSecrets globs skip files; binary files are skipped", async () => {
    const key = `-----BEGIN EC PRIVATE KEY-----\n${fake(64)}\n-----END EC PRIVATE KEY-----\n`;
    const files = {
      Agentfile: `${HEAD}INCLUDE fixtures keys/test.pem data.bin\n`,
      "fixtures/a/key.pem": key,
      "fixtures/b.txt": `ghp_${fake(36)}`,
      "keys/test.pem": key,
      "data.bin": Buffer.concat([Buffer.from([0, 1, 2, 0]), Buffer.from(`ghp_${fake(36)}`)]),
    };
    const unlisted = await lintDir(await tree(files));
    assert.deepEqual(where(unlisted.diagnostics), [
      "fixtures/a/key.pem:1:1 SECRET_IN_FILE",
      "fixtures/b.txt:1:1 SECRET_IN_FILE",
      "keys/test.pem:1:1 SECRET_IN_FILE",
    ]);
    const allowed = await lintDir(await tree(files), { lint: { allowSecrets: ["fixtures", "keys/*.pem"] } });
    assert.deepEqual(allowed.diagnostics, []);
    const partly = await lintDir(await tree(files), { lint: { allowSecrets: ["fixtures/**/*.pem"] } });
    assert.deepEqual(where(partly.diagnostics), [
      "fixtures/b.txt:1:1 SECRET_IN_FILE",
      "keys/test.pem:1:1 SECRET_IN_FILE",
    ]);
  });

  it("scans every layer: skills, tools, source and data", async () => {
    const key = "-----BEGIN PRIVATE KEY-----\n";
    const dir = await tree({
      Agentfile: `${HEAD}SKILL s\nTOOL utcp:t tools/t.sh\nALLOW invoke utcp:t\nFUNCTION f.py:g\nINCLUDE d.txt\n`,
      "skills/s/SKILL.md": skillMd("s", `# S\n${key}`),
      "tools/t.sh": key,
      "f.py": `def g(): pass\n# ${key}`,
      "d.txt": key,
    });
    const r = await lintDir(dir);
    assert.deepEqual(where(r.diagnostics), [
      "d.txt:1:1 SECRET_IN_FILE",
      "f.py:2:3 SECRET_IN_FILE",
      "skills/s/SKILL.md:6:1 SECRET_IN_FILE",
      "tools/t.sh:1:1 SECRET_IN_FILE",
    ]);
  });

  it("caps findings per file and says how many more there are", async () => {
    const lines = Array.from({ length: 15 }, (_, i) => `k${i}: ghp_${fake(36, undefined, i + 1)}`).join("\n");
    const dir = await tree({ Agentfile: `${HEAD}INCLUDE many.txt\n`, "many.txt": lines });
    const r = await lintDir(dir);
    assert.equal(r.diagnostics.length, 10);
    assert.match(r.diagnostics[9]!.message, /\(and 5 more in this file\)$/);
  });
});

describe("secret scan: streaming", () => {
  it("finds matches split across chunk boundaries at the right line and column", async () => {
    const dir = await tree({});
    const token = `ghp_${fake(36)}`;
    const file = join(dir, "f.txt");
    await writeFile(file, `ab\ncdéf ${token} x\n\nAPI_TOKEN=${fake(20)}\n`);
    for (const chunkSize of [1, 3, 7, 64]) {
      const r = await scanFileForSecrets(file, { chunkSize });
      assert.deepEqual(
        r.findings.map((f) => `${f.line}:${f.column} ${f.rule}`),
        ["2:6 github-token", "4:11 secret-assignment"],
        `chunk size ${chunkSize}`,
      );
    }
  });

  it("scans a 50 MB file in bounded memory and finds a key near its end", async () => {
    const dir = await tree({});
    const file = join(dir, "big.log");
    const out = createWriteStream(file);
    const line = `${"lorem ipsum dolor sit amet ".repeat(3)}\n`;
    const block = line.repeat(4096);
    const lines = 4096 * Math.ceil((50 * 1024 * 1024) / block.length);
    for (let written = 0; written < lines; written += 4096) {
      if (!out.write(block)) await new Promise<void>((resolve) => out.once("drain", () => resolve()));
    }
    const secret = `AKIA${fake(16, UPPER)}`;
    out.write(`tail: ${secret}\nlast line\n`);
    out.end();
    await finished(out);
    const r = await scanFileForSecrets(file);
    assert.ok(r.bytes > 50 * 1024 * 1024, `${r.bytes} bytes scanned`);
    assert.deepEqual(
      r.findings.map((f) => `${f.line}:${f.column} ${f.preview}`),
      [`${lines + 1}:7 AKIA…(20 chars)`],
    );
    assert.ok(r.maxBuffered < 4 * 1024 * 1024, `held at most ${r.maxBuffered} characters at once`);
  });

  it("a very long line without newlines is scanned in windows, with the right column", async () => {
    const dir = await tree({});
    const file = join(dir, "min.js");
    const pad = "var a=1; ".repeat(350_000);
    const token = `sk_live_${fake(24)}`;
    await writeFile(file, `${pad}${token}${pad}`);
    const r = await scanFileForSecrets(file);
    assert.deepEqual(
      r.findings.map((f) => `${f.line}:${f.column} ${f.rule}`),
      [`1:${pad.length + 1} stripe-live-key`],
    );
    assert.ok(r.maxBuffered < 4 * 1024 * 1024, `held at most ${r.maxBuffered} characters at once`);
  });
});
