/**
 * Child process for layout-concurrency.slow.test.ts: waits for a start signal, then writes blobs and
 * manifests into the shared layout and tags/untags them as fast as it can.
 * argv: <layoutDir> <prefix> <count> <startAtEpochMs>
 */

import { OciLayout } from "../../src/oci/layout.js";
import { MEDIA_TYPE_AGENT_CONFIG, MEDIA_TYPE_OCI_MANIFEST } from "../../src/oci/mediaTypes.js";
import { canonicalJson } from "../../src/util/canonicalJson.js";

const [dir, prefix, countArg, startArg] = process.argv.slice(2) as [string, string, string, string];
const count = Number(countArg);
const layout = await OciLayout.create(dir);
const wait = Number(startArg) - Date.now();
if (wait > 0) await new Promise((r) => setTimeout(r, wait));
for (let i = 0; i < count; i++) {
  // Half the blobs are shared between the processes (same content, same digest, written concurrently).
  const cfg = await layout.putBlob(canonicalJson({ n: i % 2 === 0 ? i : `${prefix}-${i}` }));
  const manifest = canonicalJson({
    schemaVersion: 2,
    mediaType: MEDIA_TYPE_OCI_MANIFEST,
    config: { mediaType: MEDIA_TYPE_AGENT_CONFIG, digest: cfg.digest, size: cfg.size },
    layers: [],
  });
  const d = await layout.putManifest(manifest, { tag: `${prefix}-${i}` });
  await layout.tag("shared", d); // both processes fight over one tag too
  if (i % 5 === 4) await layout.untag(`${prefix}-${i - 1}`);
}
