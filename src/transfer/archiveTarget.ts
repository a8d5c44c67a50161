import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { basename, dirname, join } from "node:path";
import { readOciArchive, writeOciArchive } from "../oci/archive.js";
import { OciLayout } from "../oci/layout.js";
import { LayoutTarget } from "./layoutTarget.js";

/**
 * An oci-archive being written: copies go into a staging layout beside the file; `commit` writes the archive (a
 * deterministic tar, temp file then rename) and `dispose` removes the staging layout, whatever happened.
 */
export class ArchiveWriter extends LayoutTarget {
  readonly file: string;

  private constructor(layout: OciLayout, file: string) {
    super(layout, { description: `oci-archive ${file}` });
    this.file = file;
  }

  static async create(file: string): Promise<ArchiveWriter> {
    const staging = await mkdtemp(join(dirname(file), `.${basename(file)}.staging-`));
    try {
      return new ArchiveWriter(await OciLayout.create(staging), file);
    } catch (err) {
      await rm(staging, { recursive: true, force: true });
      throw err;
    }
  }

  commit(options: { epoch?: number } = {}): Promise<{ size: number; manifests: number; blobs: number }> {
    return writeOciArchive(this.layout, this.file, options);
  }

  dispose(): Promise<void> {
    return rm(this.layout.root, { recursive: true, force: true });
  }
}

/**
 * An oci-archive opened for reading: extracted (links refused, limits) into a temporary layout whose blobs are all
 * re-hashed first (`readOciArchive`); `dispose` removes it.
 */
export class ArchiveReader extends LayoutTarget {
  private constructor(layout: OciLayout, file: string) {
    super(layout, { description: `oci-archive ${file}` });
  }

  static async open(file: string): Promise<ArchiveReader> {
    const dir = await mkdtemp(join(tmpdir(), "agentrc-archive-"));
    try {
      return new ArchiveReader(await readOciArchive(file, join(dir, "layout")), file);
    } catch (err) {
      await rm(dir, { recursive: true, force: true });
      throw err;
    }
  }

  dispose(): Promise<void> {
    return rm(dirname(this.layout.root), { recursive: true, force: true });
  }
}
