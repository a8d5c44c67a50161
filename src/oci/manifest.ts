import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { isDigest, isSha256Digest } from "./digest.js";
import { INDEX_MEDIA_TYPES, MEDIA_TYPE_DOCKER_MANIFEST, MEDIA_TYPE_OCI_MANIFEST } from "./mediaTypes.js";
import type { Annotations, Descriptor } from "./types.js";

/**
 * The one parser and validator of manifests and descriptors, whatever they come from (a registry, an image layout,
 * an archive, a build): JSON object, `schemaVersion` 2, media types with RFC 6838 syntax, digests, sizes and
 * limits. The caller names the error code, so that a bad manifest from a registry stays `REGISTRY_MANIFEST_INVALID`
 * and a bad file in a layout `OCI_MANIFEST_INVALID` / `OCI_LAYOUT_INVALID`.
 */

export type ManifestErrorCode = "OCI_MANIFEST_INVALID" | "OCI_LAYOUT_INVALID" | "REGISTRY_MANIFEST_INVALID";

/** Manifest types that copy, push and pull handle: single image manifests. */
export const IMAGE_MANIFEST_TYPES: readonly string[] = [MEDIA_TYPE_OCI_MANIFEST, MEDIA_TYPE_DOCKER_MANIFEST];
/** Largest manifest or index read into memory (the registry client's cap too). */
export const MAX_MANIFEST_BYTES = 4 * 1024 * 1024;
/** Descriptors one manifest may list: far above any real package, so a hostile manifest cannot make us loop long. */
export const MAX_MANIFEST_DESCRIPTORS = 10_000;

/** RFC 6838 `type "/" subtype` (restricted-name: 1–127 characters each), optionally followed by parameters. */
const MEDIA_TYPE = /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/;

export function isMediaType(value: string): boolean {
  return MEDIA_TYPE.test(value);
}

/** A parsed image manifest: the descriptors are checked, everything else is kept as found. */
export interface ParsedImageManifest {
  schemaVersion: 2;
  mediaType?: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Annotations;
}

export interface DescriptorRules {
  /** Accept only sha256 digests (what agentrc can verify and store); default: any registered algorithm. */
  sha256Only?: boolean;
}

/** Throws `code` unless `value` is a descriptor: media type, digest and a non-negative safe-integer size. */
export function checkDescriptor(
  value: unknown,
  where: string,
  code: ManifestErrorCode,
  rules: DescriptorRules = {},
): Descriptor {
  const d = value as Partial<Descriptor> | null;
  const bad = (detail: string) => new AgentrcError(code, `${where} is an invalid descriptor: ${detail}`);
  if (typeof d !== "object" || d === null || Array.isArray(d)) {
    throw bad(`${JSON.stringify(value)?.slice(0, 200)} is not an object`);
  }
  if (typeof d.mediaType !== "string" || !isMediaType(d.mediaType)) {
    throw bad(`media type ${JSON.stringify(d.mediaType)?.slice(0, 200)}; expected type/subtype (RFC 6838)`);
  }
  const digestOk =
    typeof d.digest === "string" && (rules.sha256Only ? isSha256Digest(d.digest) : isDigest(d.digest));
  if (!digestOk) {
    throw bad(
      `digest ${JSON.stringify(d.digest)?.slice(0, 200)}; expected ${rules.sha256Only ? "sha256:<64 hex>" : "a sha256 or sha512 digest"}`,
    );
  }
  if (typeof d.size !== "number" || !Number.isSafeInteger(d.size) || d.size < 0) {
    throw bad(`size ${JSON.stringify(d.size)}; expected a non-negative integer`);
  }
  if (d.annotations !== undefined && !isAnnotations(d.annotations)) {
    throw bad("annotations are not a map of strings");
  }
  return d as Descriptor;
}

/** Parses JSON bytes into an object with `schemaVersion` 2 (manifest, index or index.json). */
export function parseManifestObject(
  bytes: Buffer,
  what: string,
  code: ManifestErrorCode,
): Record<string, unknown> {
  if (bytes.length > MAX_MANIFEST_BYTES) {
    throw new AgentrcError(
      code,
      `${what} is ${bytes.length} bytes, over the ${MAX_MANIFEST_BYTES}-byte limit`,
    );
  }
  let json: unknown;
  try {
    json = JSON.parse(bytes.toString("utf8"));
  } catch (err) {
    throw new AgentrcError(code, `${what} is not valid JSON`, { cause: err });
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new AgentrcError(code, `${what} is not a JSON object`);
  }
  const obj = json as Record<string, unknown>;
  if (obj.schemaVersion !== 2) {
    throw new AgentrcError(
      code,
      `${what} has schemaVersion ${JSON.stringify(obj.schemaVersion)}; expected 2`,
    );
  }
  return obj;
}

/**
 * Parses and checks an image manifest of media type `mediaType` (the registry's Content-Type, or the layout's index
 * entry): only image manifests (`REGISTRY_MANIFEST_UNSUPPORTED` for indexes and anything else), the body's own
 * `mediaType` agreeing, a config descriptor and at most `MAX_MANIFEST_DESCRIPTORS` layers, all with sha256 digests.
 */
export function parseImageManifest(
  bytes: Buffer,
  mediaType: string,
  what: string,
  code: ManifestErrorCode = "REGISTRY_MANIFEST_INVALID",
): ParsedImageManifest {
  if (!IMAGE_MANIFEST_TYPES.includes(mediaType)) {
    throw new AgentrcError(
      "REGISTRY_MANIFEST_UNSUPPORTED",
      `${what} is a ${mediaType || "manifest without a media type"}; agentrc copies single image manifests`,
    );
  }
  const json = parseManifestObject(bytes, what, code);
  if (json.mediaType !== undefined && json.mediaType !== mediaType) {
    throw new AgentrcError(
      code,
      `${what} declares mediaType ${JSON.stringify(json.mediaType)} but is served as ${mediaType}`,
    );
  }
  const rules = { sha256Only: true };
  const config = checkDescriptor(json.config, `${what}: config`, code, rules);
  if (!Array.isArray(json.layers)) throw new AgentrcError(code, `${what}: layers is not an array`);
  if (json.layers.length > MAX_MANIFEST_DESCRIPTORS) {
    throw new AgentrcError(code, `${what}: more than ${MAX_MANIFEST_DESCRIPTORS} layers`);
  }
  const layers = json.layers.map((l, i) => checkDescriptor(l, `${what}: layer ${i}`, code, rules));
  const out: ParsedImageManifest = { schemaVersion: 2, config, layers };
  if (typeof json.mediaType === "string") out.mediaType = json.mediaType;
  if (json.artifactType !== undefined) {
    if (typeof json.artifactType !== "string" || !isMediaType(json.artifactType)) {
      throw new AgentrcError(
        code,
        `${what}: artifactType ${JSON.stringify(json.artifactType)} is not a media type`,
      );
    }
    out.artifactType = json.artifactType;
  }
  if (json.subject !== undefined) out.subject = checkDescriptor(json.subject, `${what}: subject`, code);
  if (json.annotations !== undefined) {
    if (!isAnnotations(json.annotations))
      throw new AgentrcError(code, `${what}: annotations are not strings`);
    out.annotations = json.annotations;
  }
  return out;
}

/** Descriptors a manifest or index points at (config and layers, or child manifests; not `subject`), checked. */
export function referencedDescriptors(
  json: Record<string, unknown>,
  mediaType: string,
  code: ManifestErrorCode = "OCI_MANIFEST_INVALID",
): Descriptor[] {
  const where = typeof json.mediaType === "string" ? json.mediaType : mediaType;
  const list = (key: "manifests" | "layers"): unknown[] => {
    const value = json[key];
    if (!Array.isArray(value)) throw new AgentrcError(code, `${where} has no ${key} array.`);
    if (value.length > MAX_MANIFEST_DESCRIPTORS) {
      throw new AgentrcError(code, `${where} lists more than ${MAX_MANIFEST_DESCRIPTORS} ${key}.`);
    }
    return value;
  };
  if (INDEX_MEDIA_TYPES.includes(mediaType)) {
    return list("manifests").map((d) => checkDescriptor(d, `${where} manifest`, code));
  }
  const config = checkDescriptor(json.config, `${where} config`, code);
  return [config, ...list("layers").map((d) => checkDescriptor(d, `${where} layer`, code))];
}

function isAnnotations(value: unknown): value is Annotations {
  return (
    typeof value === "object" &&
    value !== null &&
    !Array.isArray(value) &&
    Object.values(value).every((v) => typeof v === "string")
  );
}
