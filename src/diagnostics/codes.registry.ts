import type { CodeInfo } from "./codes.js";

/** Diagnostic codes of the registry client, references, auth, push and pull. Merged into CODES (codes.ts). */
export const REGISTRY_CODES = {
  REFERENCE_INVALID: {
    severity: "error",
    summary: "A registry reference does not parse as host[:port]/repository[:tag][@digest].",
    hint: "Write the reference as host[:port]/repo[:tag][@sha256:<64 hex>]; repository names are lower case.",
  },
  REGISTRY_UNREACHABLE: {
    severity: "error",
    summary: "The registry could not be reached (connection refused, reset or timed out) after retries.",
    hint: "Check the host and port, the network and proxy settings; use --plain-http for an HTTP registry.",
  },
  REGISTRY_TIMEOUT: {
    severity: "error",
    summary:
      "A registry request did not complete within its deadline (requestTimeoutMs; a stalled or trickling registry).",
    hint: "Try again later; for very slow links raise requestTimeoutMs or minBytesPerSecond in the registry options.",
  },
  REGISTRY_TLS: {
    severity: "error",
    summary: "The TLS connection to the registry failed (certificate not trusted, wrong name, or not TLS).",
    hint: "Pass --ca-file <pem> for a private CA, --plain-http for an HTTP registry, or --insecure to skip checks.",
  },
  REGISTRY_CA_FILE: {
    severity: "error",
    summary: "The CA file given with --ca-file cannot be read.",
    hint: "Pass the path of a readable PEM file with the CA certificate(s).",
  },
  REGISTRY_UNAUTHORIZED: {
    severity: "error",
    summary: "The registry refused the request as unauthenticated (401) even after authenticating.",
    hint: "Run `agentrc login <host>` or set AGENTRC_REGISTRY_HOST/USERNAME/PASSWORD for this host.",
  },
  REGISTRY_DENIED: {
    severity: "error",
    summary: "The registry denied access (403, or a token without the requested scope).",
    hint: "Check that the account has pull (and push) rights on this repository.",
  },
  REGISTRY_AUTH_CHALLENGE_INVALID: {
    severity: "error",
    summary: "The registry's WWW-Authenticate challenge is malformed or names a token realm agentrc refuses.",
    hint: "The registry announced an unusable realm (not http(s), or http for an https registry); report it.",
  },
  REGISTRY_TOKEN_FAILED: {
    severity: "error",
    summary: "The token service refused the credentials or returned an unusable token response.",
    hint: "Check the username and password (or token) for this registry; run `agentrc login` again.",
  },
  REGISTRY_NOT_FOUND: {
    severity: "error",
    summary: "The repository, tag, manifest or blob does not exist in the registry (404).",
    hint: "Check the reference; `agentrc list` or the registry UI shows existing tags.",
  },
  REGISTRY_DIGEST_MISMATCH: {
    severity: "error",
    summary: "Content received from (or acknowledged by) the registry does not match its expected digest.",
    hint: "The registry or something between returned wrong data; retry, and report it if it persists.",
  },
  REGISTRY_SIZE_MISMATCH: {
    severity: "error",
    summary: "A blob received from the registry does not have the size its descriptor states.",
    hint: "The registry or something between returned truncated or padded data; retry.",
  },
  REGISTRY_MANIFEST_TOO_LARGE: {
    severity: "error",
    summary: "A manifest is larger than the 4 MiB limit (or the registry answered 413).",
    hint: "Keep manifests small: move data into layers instead of annotations or embedded descriptors.",
  },
  REGISTRY_MANIFEST_INVALID: {
    severity: "error",
    summary: "A manifest from the registry is not valid JSON or its media type disagrees with Content-Type.",
    hint: "The registry returned something that is not an OCI manifest; check the reference.",
  },
  REGISTRY_BAD_RESPONSE: {
    severity: "error",
    summary: "The registry answered with an unexpected status or a reply that breaks the distribution spec.",
    hint: "Run with --debug to see the HTTP exchange; the message names the request.",
  },
  REGISTRY_REQUEST_REJECTED: {
    severity: "error",
    summary: "The registry rejected a request (4xx) with an error body.",
    hint: "The message carries the registry's error code and text.",
  },
  REGISTRY_UNSUPPORTED: {
    severity: "error",
    summary: "The registry does not support or has disabled this operation (405 or UNSUPPORTED).",
    hint: "Deletion is often disabled by registry configuration; ask the registry's operator.",
  },
  REGISTRY_RATE_LIMITED: {
    severity: "error",
    summary: "The registry kept answering 429 Too Many Requests after retries.",
    hint: "Wait and retry later, or authenticate to get a higher rate limit.",
  },
  REGISTRY_SERVER_ERROR: {
    severity: "error",
    summary: "The registry kept answering with a server error (5xx) after retries.",
    hint: "The registry is failing; retry later.",
  },
  REGISTRY_REDIRECT_INVALID: {
    severity: "error",
    summary: "The registry redirected too many times or to a URL that is not http(s).",
    hint: "Run with --debug to see the redirect chain.",
  },
  REGISTRY_REFERRERS_INVALID: {
    severity: "error",
    summary: "The referrers tag (sha256-<hex>) of a subject holds something other than an image index.",
    hint: "Another tool wrote that tag; delete or fix it before attaching referrers.",
  },
  REGISTRY_REFERRERS_CONFLICT: {
    severity: "error",
    summary:
      "A referrer could not be added to (or dropped from) a subject's sha256-<hex> fallback index: concurrent writers kept overwriting the tag.",
    hint: "Attach one at a time (the registry has no referrers API, so the fallback tag is a read-modify-write), then run the command again.",
  },
  REGISTRY_CREDENTIALS_INVALID: {
    severity: "error",
    summary: "A credentials file (agentrc, Docker or podman auth file) or credential variable is malformed.",
    hint: "Fix or remove the entry named in the message, or run `agentrc login` again.",
  },
  REGISTRY_CRED_HELPER_FAILED: {
    severity: "error",
    summary: "A Docker credential helper (docker-credential-<name>) failed or returned invalid output.",
    hint: "Check that the helper is on PATH and works: `echo <host> | docker-credential-<name> get`.",
  },
  REGISTRY_LOGIN_FAILED: {
    severity: "error",
    summary: "The registry did not accept the credentials given to `agentrc login`; nothing was stored.",
    hint: "Check the username and password (or token) and the registry host.",
  },
  REGISTRY_MANIFEST_UNSUPPORTED: {
    severity: "error",
    summary:
      "push, pull and every copy handle single image manifests (OCI or Docker v2); the reference names something else.",
    hint: "Name one image manifest (for a multi-platform index, pull the platform's manifest by digest).",
  },
  PULL_LAYER_SKIPPED: {
    severity: "warning",
    summary:
      "`agentrc pull -o` skipped a layer of a media type it does not know (a plugin's layer) that has no `org.opencontainers.image.title` to write it under.",
    hint: "The layer is in the local store; read it with `agentrc inspect` or another OCI tool.",
  },
  PUBLISH_INCOMPLETE: {
    severity: "error",
    summary: "`build --push` asked to publish, but no plugin on the publish hook pushed every reference.",
    hint: "Keep the built-in registry-publisher plugin, or make your publish plugin fill request.results.",
  },
} as const satisfies Record<string, CodeInfo>;
