import { mkdir, writeFile } from "node:fs/promises";
import { join } from "node:path";

/** A small, fast, seeded PRNG (mulberry32): the synthetic agent is the same bytes on every run. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const WORDS =
  "agent policy tool skill layer digest registry manifest cedar permit forbid context ingest corpus schema retrieval answer review triage label issue pull request commit branch deploy build reproducible archive stream gzip tar index blob token scope audit".split(
    " ",
  );

export interface SyntheticAgent {
  dir: string;
  files: number;
  bytes: number;
}

/**
 * Writes a large synthetic agent: `files` files totalling about `megabytes` MiB, mostly documents for retrieval
 * (INGEST), plus skills, tools and functions. Text is word soup (compressible, like real corpora); every tenth data
 * file is random bytes (incompressible, like PDFs or images).
 */
export async function generateAgent(dir: string, megabytes: number, files: number): Promise<SyntheticAgent> {
  const rand = prng(20261123);
  const skills = 40;
  const tools = 20;
  const dataFiles = Math.max(1, files - skills * 3 - tools - 10);
  const perFile = Math.floor((megabytes * 1024 * 1024) / dataFiles);
  let total = 0;
  let count = 0;
  const write = async (rel: string, content: Buffer | string, mode = 0o644) => {
    await mkdir(join(dir, rel, ".."), { recursive: true });
    await writeFile(join(dir, rel), content, { mode });
    total += Buffer.byteLength(content);
    count++;
  };
  const text = (size: number) => {
    const parts: string[] = [];
    let n = 0;
    while (n < size) {
      const w = WORDS[Math.floor(rand() * WORDS.length)]!;
      parts.push(w);
      n += w.length + 1;
      if (rand() < 0.08) {
        parts.push("\n");
        n++;
      }
    }
    return parts.join(" ").slice(0, size);
  };
  const random = (size: number) => {
    const b = Buffer.allocUnsafe(size);
    for (let i = 0; i < size; i += 4) b.writeUInt32LE(Math.floor(rand() * 4294967296), Math.min(i, size - 4));
    return b;
  };
  const agentfile = ["AGENT synthetic", "AUDIT basic", "SHELL strands", 'CMD ["strands", "run"]'];
  for (let s = 0; s < skills; s++) {
    const name = `skill-${String(s).padStart(3, "0")}`;
    await write(`skills/${name}/SKILL.md`, `---\nname: ${name}\n---\n\n${text(2000)}\n`);
    await write(`skills/${name}/reference.md`, text(4000));
    await write(`skills/${name}/examples.md`, text(3000));
    agentfile.push(`SKILL ${name}`);
  }
  for (let t = 0; t < tools; t++) {
    const name = `tool-${String(t).padStart(2, "0")}`;
    await write(`tools/${name}.sh`, `#!/bin/sh\n# ${text(200)}\necho ${name}\n`, 0o755);
    agentfile.push(`TOOL local:${name} tools/${name}.sh`, `ALLOW invoke local:${name}`);
  }
  for (let f = 0; f < 10; f++)
    await write(`functions/mod${f}.py`, `def handler_${f}(x):\n    return x\n# ${text(1000)}\n`);
  agentfile.push("FUNCTION functions/mod0.py:handler_0");
  for (let d = 0; d < dataFiles; d++) {
    const shard = String(d % 64).padStart(2, "0");
    const rel = `data/corpus/${shard}/doc-${String(d).padStart(6, "0")}.${d % 10 === 0 ? "bin" : "md"}`;
    await write(rel, d % 10 === 0 ? random(perFile) : text(perFile));
  }
  agentfile.push("INGEST data/corpus/**/*");
  await write("Agentfile", `${agentfile.join("\n")}\n`);
  return { dir, files: count, bytes: total };
}
