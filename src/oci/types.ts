/** OCI data model (image-spec v1.1), as plain JSON-compatible types. */

export type Annotations = Record<string, string>;

export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  annotations?: Annotations;
  artifactType?: string;
  urls?: string[];
  /** Base64 of the content (embedded small blobs). */
  data?: string;
  platform?: Platform;
}

export interface Platform {
  architecture: string;
  os: string;
  "os.version"?: string;
  "os.features"?: string[];
  variant?: string;
}

export interface ImageManifest {
  schemaVersion: 2;
  mediaType: string;
  artifactType?: string;
  config: Descriptor;
  layers: Descriptor[];
  subject?: Descriptor;
  annotations?: Annotations;
}

export interface ImageIndex {
  schemaVersion: 2;
  mediaType: string;
  artifactType?: string;
  manifests: Descriptor[];
  subject?: Descriptor;
  annotations?: Annotations;
}

/** Digest plus size: what writing a blob yields. */
export interface BlobInfo {
  digest: string;
  size: number;
}
