import { AgentrcError } from "../diagnostics/AgentrcError.js";
import { trimEnd } from "../util/trimEnd.js";
import { isValidDigest } from "./digest.js";

/** Docker Hub: the canonical name of the registry, the host to connect to, and the credential-store key. */
export const DOCKER_HUB = "docker.io";
export const DOCKER_HUB_ENDPOINT = "registry-1.docker.io";
export const DOCKER_HUB_AUTH_KEY = "https://index.docker.io/v1/";
const DOCKER_HUB_ALIASES = new Set([DOCKER_HUB, "index.docker.io", DOCKER_HUB_ENDPOINT]);

const DOMAIN_COMPONENT = "(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])";
const HOST_RE = new RegExp(
  `^(?:${DOMAIN_COMPONENT}(?:\\.${DOMAIN_COMPONENT})*|\\[[0-9a-fA-F:.]+\\])(?::(\\d{1,5}))?$`,
);
const PATH_COMPONENT = "[a-z0-9]+(?:(?:\\.|_|__|-+)[a-z0-9]+)*";
const NAME_RE = new RegExp(`^${PATH_COMPONENT}(?:/${PATH_COMPONENT})*$`);
const TAG_RE = /^[a-zA-Z0-9_][a-zA-Z0-9._-]{0,127}$/;
const MAX_NAME_LENGTH = 255;

/** A parsed, normalised registry reference: `registry/repository[:tag][@digest]`. */
export class Reference {
  /** `host[:port]`, lower case; Docker Hub is always `docker.io`. */
  readonly registry: string;
  /** Repository path, e.g. `library/alpine`. */
  readonly repository: string;
  readonly tag: string | undefined;
  readonly digest: string | undefined;

  constructor(registry: string, repository: string, tag?: string, digest?: string) {
    this.registry = registry;
    this.repository = repository;
    this.tag = tag;
    this.digest = digest;
  }

  /** The host[:port] to connect to (`registry-1.docker.io` for Docker Hub). */
  get endpoint(): string {
    return this.registry === DOCKER_HUB ? DOCKER_HUB_ENDPOINT : this.registry;
  }

  /** What to fetch: the digest when there is one (it wins over the tag), else the tag. */
  get target(): string {
    return this.digest ?? this.tag ?? "latest";
  }

  /** localhost, 127.0.0.1 and ::1 are reached over plain HTTP unless told otherwise. */
  get isLoopback(): boolean {
    return isLoopbackHost(this.registry);
  }

  withTag(tag: string): Reference {
    if (!TAG_RE.test(tag)) throw invalid(`invalid tag "${tag}"`);
    return new Reference(this.registry, this.repository, tag);
  }

  withDigest(digest: string): Reference {
    if (!isValidDigest(digest)) throw invalid(`invalid digest "${digest}"`);
    return new Reference(this.registry, this.repository, this.tag, digest);
  }

  /** `registry/repository[:tag][@digest]`, fully qualified (never `oci://`). */
  toString(): string {
    return `${this.registry}/${this.repository}${this.tag ? `:${this.tag}` : ""}${this.digest ? `@${this.digest}` : ""}`;
  }
}

/** Strips the port (and IPv6 brackets) from `host[:port]`. */
export function hostname(host: string): string {
  const m = /^\[([^\]]+)\](?::\d+)?$/.exec(host);
  if (m) return m[1]!;
  const i = host.lastIndexOf(":");
  return i === -1 ? host : host.slice(0, i);
}

export function isLoopbackHost(host: string): boolean {
  const name = hostname(host).toLowerCase();
  return name === "localhost" || name === "127.0.0.1" || name === "::1";
}

/** Normalises a registry host: lower case, Docker Hub aliases folded into `docker.io`. */
export function normaliseRegistry(host: string): string {
  const lower = host.toLowerCase();
  return DOCKER_HUB_ALIASES.has(lower) ? DOCKER_HUB : lower;
}

/** Validates `host[:port]` and returns it normalised. */
export function parseRegistryHost(input: string): string {
  refuseCredentials(input);
  const host = trimEnd(input.replace(/^(?:oci|https?):\/\//, ""), "/");
  const m = HOST_RE.exec(host);
  const port = m?.[1];
  if (!m || (port !== undefined && (Number(port) < 1 || Number(port) > 65535))) {
    throw invalid(`invalid registry host "${input}": expected host[:port]`);
  }
  return normaliseRegistry(host);
}

/**
 * Parses `[oci://]host[:port]/repo[:tag][@digest]` the way docker does: a first component without `.` or `:`
 * that is not `localhost` (and is lower case) is a Docker Hub path; single-component Hub names get `library/`;
 * the tag defaults to `latest` when there is neither tag nor digest. A tag together with a digest is kept
 * (the digest decides what is fetched).
 */
export function parseReference(input: string): Reference {
  if (input.length === 0) throw invalid("empty reference");
  refuseCredentials(input);
  if (/\s/.test(input)) throw invalid(`reference "${input}" contains whitespace`);
  let rest = input.startsWith("oci://") ? input.slice("oci://".length) : input;
  if (/^[a-z]+:\/\//i.test(rest)) throw invalid(`reference "${input}" has an unsupported URL scheme`);

  let digest: string | undefined;
  const at = rest.indexOf("@");
  if (at !== -1) {
    digest = rest.slice(at + 1);
    rest = rest.slice(0, at);
    if (!isValidDigest(digest)) {
      throw invalid(
        `invalid digest "${digest}" in "${input}": expected <algorithm>:<hex>, e.g. sha256:<64 hex>`,
      );
    }
  }

  let tag: string | undefined;
  const colon = rest.lastIndexOf(":");
  if (colon > rest.lastIndexOf("/") && !rest.slice(colon).includes("]")) {
    tag = rest.slice(colon + 1);
    rest = rest.slice(0, colon);
    if (!TAG_RE.test(tag)) {
      throw invalid(
        `invalid tag "${tag}" in "${input}": at most 128 of [A-Za-z0-9_.-], not starting with . or -`,
      );
    }
  }

  let registry = DOCKER_HUB;
  let name = rest;
  const slash = rest.indexOf("/");
  if (slash !== -1) {
    const first = rest.slice(0, slash);
    if (
      /[.:]/.test(first) ||
      first === "localhost" ||
      first.startsWith("[") ||
      first !== first.toLowerCase()
    ) {
      registry = parseRegistryHost(first);
      name = rest.slice(slash + 1);
    }
  }
  if (name.length === 0) throw invalid(`reference "${input}" has no repository name`);
  if (registry === DOCKER_HUB && !name.includes("/")) name = `library/${name}`;
  if (!NAME_RE.test(name)) {
    throw invalid(
      `invalid repository name "${name}" in "${input}": lower-case letters and digits, separated by '.', '_', '__', '-' or '/'`,
    );
  }
  if (registry.length + 1 + name.length > MAX_NAME_LENGTH) {
    throw invalid(`repository name in "${input}" is longer than ${MAX_NAME_LENGTH} characters`);
  }
  if (tag === undefined && digest === undefined) tag = "latest";
  return new Reference(registry, name, tag, digest);
}

/**
 * The `user:password@` part of `[scheme://]user:password@host/…`, or undefined. An `@` before the first `/` with a
 * `/` after it cannot start a digest (digests come last and hold no `/`), so it ends a userinfo.
 */
function userinfoOf(input: string): string | undefined {
  const rest = input.replace(/^[a-z][a-z0-9+.-]*:\/\//i, "");
  const at = rest.indexOf("@");
  const slash = rest.indexOf("/");
  return at >= 0 && slash > at ? rest.slice(0, at + 1) : undefined;
}

/** `input` with any `user:password@` replaced by `***@`, safe to print. */
export function redactReferenceCredentials(input: string): string {
  const userinfo = userinfoOf(input);
  return userinfo === undefined ? input : input.replace(userinfo, "***@");
}

/** Credentials never travel inside a reference: they would end up in shell history, logs and error messages. */
function refuseCredentials(input: string): void {
  if (userinfoOf(input) === undefined) return;
  throw new AgentrcError(
    "REFERENCE_INVALID",
    `reference "${redactReferenceCredentials(input)}" holds credentials (user:password@); they are not shown`,
    { hint: "Remove the user:password@ part and run `agentrc login <host>` (or use a credential helper)." },
  );
}

function invalid(message: string): AgentrcError {
  return new AgentrcError("REFERENCE_INVALID", message);
}
