import { randomUUID } from "node:crypto";
import { Readable } from "node:stream";
import { type BlobSource, getBlob, headBlob } from "./blobs.js";
import { type CredentialOptions, resolveCredentials } from "./credentials.js";
import { drain, statusError } from "./errors.js";
import { RegistryHttp } from "./http.js";
import {
  deleteManifest,
  deleteTagReference,
  type FetchedManifest,
  getManifest,
  headManifest,
  type PutManifestResult,
  putManifest,
} from "./manifests.js";
import { DOCKER_HUB, DOCKER_HUB_ENDPOINT, isLoopbackHost, parseRegistryHost } from "./reference.js";
import { listReferrers, referrerDescriptor, updateReferrersFallback } from "./referrers.js";
import { DEFAULT_RETRY, type RetryPolicy } from "./retry.js";
import { type ListTagsOptions, listTags, tagPages } from "./tags.js";
import { Transport, type TransportOptions } from "./transport.js";
import type { Credentials, Descriptor } from "./types.js";
import { type PushBlobOptions, type PushBlobResult, pushBlob } from "./upload.js";

export interface RegistryClientOptions extends TransportOptions, CredentialOptions {
  /** Plain HTTP (`--plain-http`). Default: true for localhost, 127.0.0.1 and ::1, false otherwise. */
  plainHttp?: boolean;
  /** Fixed credentials, or a resolver; default: `resolveCredentials(host)` (env, agentrc, podman, docker). */
  credentials?: Credentials | ((host: string) => Promise<Credentials | undefined>);
  retry?: Partial<RetryPolicy>;
  /** Defaults for blob uploads (mode, chunk size). */
  upload?: Omit<PushBlobOptions, "mountFrom" | "skipExisting">;
  /** Referrers of pushed manifests: keep the `sha256-<hex>` fallback tag when the registry does not (default true). */
  referrersFallback?: boolean;
}

/**
 * A typed OCI distribution client for one registry host. Repositories are passed per call so that one client
 * (one connection pool, one token cache) serves a whole push or pull. Close it when done.
 */
export class RegistryClient {
  /** `host[:port]` as in references (`docker.io` for Docker Hub). */
  readonly registry: string;
  readonly origin: string;
  readonly http: RegistryHttp;
  readonly #transport: Transport;
  readonly #options: RegistryClientOptions;

  constructor(registry: string, options: RegistryClientOptions = {}) {
    this.registry = parseRegistryHost(registry);
    this.#options = options;
    const endpoint = this.registry === DOCKER_HUB ? DOCKER_HUB_ENDPOINT : this.registry;
    const plain = options.plainHttp ?? isLoopbackHost(this.registry);
    this.origin = new URL(`${plain ? "http" : "https"}://${endpoint}`).origin;
    this.#transport = new Transport(options);
    this.http = new RegistryHttp({
      origin: this.origin,
      transport: this.#transport,
      retry: { ...DEFAULT_RETRY, ...options.retry },
      credentials: () => this.#credentials(),
    });
  }

  async #credentials(): Promise<Credentials | undefined> {
    const given = this.#options.credentials;
    if (typeof given === "function") return given(this.registry);
    if (given) return given;
    const env = this.#options.env;
    return resolveCredentials(this.registry, env ? { env } : {});
  }

  /** GET /v2/: checks that the registry speaks the API and that the credentials (if any) are accepted. */
  async ping(): Promise<void> {
    const res = await this.http.request({ method: "GET", url: "/v2/", scopes: [] });
    if (res.status !== 200) throw await statusError(res, `ping ${this.registry}`);
    await drain(res);
  }

  /** Size of a blob the registry has, or undefined. */
  headBlob(repository: string, digest: string): Promise<number | undefined> {
    return headBlob(this.http, repository, digest);
  }

  /** A stream of the blob that fails unless digest (and size, when given) match. */
  getBlob(repository: string, digest: string, size?: number): Promise<Readable> {
    return getBlob(this.http, repository, digest, size);
  }

  /** Uploads a blob unless the registry has it (HEAD), trying a mount first when `mountFrom` is given. */
  pushBlob(repository: string, source: BlobSource, options: PushBlobOptions = {}): Promise<PushBlobResult> {
    return pushBlob(this.http, repository, source, { ...this.#options.upload, ...options });
  }

  getManifest(
    repository: string,
    reference: string,
    options: { accept?: readonly string[] } = {},
  ): Promise<FetchedManifest> {
    return getManifest(this.http, repository, reference, options);
  }

  headManifest(repository: string, reference: string): Promise<Descriptor | undefined> {
    return headManifest(this.http, repository, reference);
  }

  /**
   * Pushes manifest bytes under a tag or digest. A manifest with a `subject` is added to the subject's
   * `sha256-<hex>` fallback index when the registry does not answer with `OCI-Subject`.
   */
  async putManifest(
    repository: string,
    reference: string,
    bytes: Uint8Array,
    mediaType: string,
  ): Promise<PutManifestResult> {
    const result = await putManifest(this.http, repository, reference, bytes, mediaType);
    const subject = subjectOf(bytes);
    if (subject && result.subject === undefined && this.#options.referrersFallback !== false) {
      await updateReferrersFallback(this.http, repository, subject, {
        add: referrerDescriptor(bytes, result.digest, mediaType),
      });
    }
    return result;
  }

  /** Deletes a manifest by digest; with `subject`, also drops it from the subject's fallback index. */
  async deleteManifest(
    repository: string,
    digest: string,
    options: { subject?: string } = {},
  ): Promise<void> {
    await deleteManifest(this.http, repository, digest);
    if (options.subject && this.#options.referrersFallback !== false) {
      await updateReferrersFallback(this.http, repository, options.subject, { remove: digest });
    }
  }

  /**
   * Removes `tag` and nothing else: the manifest it named stays, with its other tags and referrers. A registry that
   * deletes only by digest (distribution 2.x) gets a unique placeholder manifest under the tag, which is then
   * deleted by its own digest, taking the tag with it (regclient's `tag delete`). Needs delete permission.
   */
  async deleteTag(repository: string, tag: string): Promise<void> {
    if (await deleteTagReference(this.http, repository, tag)) return;
    const empty = Buffer.from("{}");
    const emptyDescriptor = {
      mediaType: "application/vnd.oci.empty.v1+json",
      digest: "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a",
      size: 2,
    };
    await this.pushBlob(repository, {
      digest: emptyDescriptor.digest,
      size: 2,
      open: () => Readable.from([empty]),
    });
    const placeholder = Buffer.from(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: "application/vnd.oci.image.manifest.v1+json",
        config: emptyDescriptor,
        layers: [emptyDescriptor],
        annotations: { "io.agentrc.tag.deleted": randomUUID() },
      }),
    );
    const put = await putManifest(
      this.http,
      repository,
      tag,
      placeholder,
      "application/vnd.oci.image.manifest.v1+json",
    );
    await deleteManifest(this.http, repository, put.digest);
  }

  /** Every tag, following pagination; refused (REGISTRY_BAD_RESPONSE) past `maxTags` (default 1,000,000). */
  listTags(repository: string, options: ListTagsOptions = {}): Promise<string[]> {
    return listTags(this.http, repository, options);
  }

  /** The tags one page at a time (only the current page in memory); stop iterating to stop the listing. */
  tagPages(repository: string, options: { pageSize?: number } = {}): AsyncGenerator<string[]> {
    return tagPages(this.http, repository, options);
  }

  listReferrers(
    repository: string,
    subject: string,
    options: { artifactType?: string } = {},
  ): Promise<{ manifests: Descriptor[]; source: "api" | "tag" }> {
    return listReferrers(this.http, repository, subject, options);
  }

  close(): Promise<void> {
    return this.#transport.close();
  }
}

function subjectOf(bytes: Uint8Array): string | undefined {
  try {
    const m = JSON.parse(Buffer.from(bytes).toString("utf8")) as { subject?: { digest?: unknown } };
    return typeof m.subject?.digest === "string" ? m.subject.digest : undefined;
  } catch {
    return undefined;
  }
}
