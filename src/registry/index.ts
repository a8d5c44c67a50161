export { mapLimit } from "../util/mapLimit.js";
export type { ChallengeOutcome } from "./auth.js";
export { agentrcAuthPath } from "./authFile.js";
export { type BlobSource, bytesBlob, fileBlob } from "./blobs.js";
export { mergeScopes, parseChallenges, repositoryScope } from "./challenge.js";
export { RegistryClient, type RegistryClientOptions } from "./client.js";
export { type CredentialOptions, credentialFiles, resolveCredentials } from "./credentials.js";
export { type LoginOptions, login, logout } from "./login.js";
export {
  type FetchedManifest,
  MANIFEST_ACCEPT,
  MAX_MANIFEST_BYTES,
  MEDIA_TYPES,
  type PutManifestResult,
} from "./manifests.js";
export { isLoopbackHost, parseReference, parseRegistryHost, Reference } from "./reference.js";
export { referrersTag } from "./referrers.js";
export { resolveManifestDigest } from "./resolveTag.js";
export { DEFAULT_RETRY, parseRetryAfter, type RetryPolicy } from "./retry.js";
export { formatTrace, redactHeaders, redactUrl, type TraceEvent, type TraceHook } from "./trace.js";
export type { ProxySettings, TransportOptions } from "./transport.js";
export type { Credentials, Descriptor, ResolvedCredentials } from "./types.js";
export type { PushBlobOptions, PushBlobResult } from "./upload.js";
