/** Credentials for one registry host. */
export interface Credentials {
  username?: string;
  password?: string;
  /** An OAuth2 refresh token (Docker's `identitytoken`, a helper's `<token>` user): used with grant_type=refresh_token. */
  identityToken?: string;
  /** A bearer token sent as is (Docker's `registrytoken`, AGENTRC_REGISTRY_TOKEN). */
  registryToken?: string;
}

/** Where credentials came from, for `--debug` and `agentrc login` messages (never the secret). */
export interface ResolvedCredentials extends Credentials {
  source: string;
}

/** An OCI content descriptor (the fields the client needs). */
export interface Descriptor {
  mediaType: string;
  digest: string;
  size: number;
  artifactType?: string;
  annotations?: Record<string, string>;
}
