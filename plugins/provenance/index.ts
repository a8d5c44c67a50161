import { execFile } from "node:child_process";
import {
  type AgentrcPlugin,
  agentrcVersion,
  type BuiltPackage,
  type Compilation,
  type Compiler,
  oci,
  PACKAGE_FORMAT_VERSION,
  trust,
} from "../../src/core.js";

const NAME = "provenance";

/** The SLSA `builder.id` of a local agentrc build, and the `buildType` of an Agentfile build (docs/trust.md). */
export const BUILDER_ID = "https://agentrc.dev/builder/agentrc-cli";
export const BUILD_TYPE = "https://agentrc.dev/buildtypes/agentfile/v1";

/**
 * Records every build's SLSA provenance v1 (an in-toto statement about the manifest digest) as a referrer of the
 * package (`compilation.hooks.attach`): emitted to the store or layout beside the package and pushed with it, never
 * inside it, so the manifest digest does not depend on it. The statement is deterministic: the builder and its
 * version, the source (git commit and remote when the context is a git checkout, credentials stripped), the
 * Agentfile and lockfile digests, the resolved dependencies (base, `SKILL oci://`, toolsets, each by digest) and the
 * options that change the output (annotations, the plugins applied); no wall clock unless SOURCE_DATE_EPOCH is set.
 * The build signer (`--sign-key`) turns it into a signed DSSE bundle.
 */
export class ProvenancePlugin implements AgentrcPlugin {
  readonly name = NAME;

  apply(compiler: Compiler): void {
    compiler.hooks.compilation.tap(NAME, (compilation) => {
      compilation.hooks.attach.tapPromise(NAME, async (attached, pkg) => {
        const statement = await provenanceStatement(compilation, pkg);
        return [...attached, trust.statementReferrer(pkg.descriptor, statement)];
      });
    });
  }
}

interface ResourceDescriptor {
  uri?: string;
  name?: string;
  digest: Record<string, string>;
  annotations?: Record<string, string>;
}

/** The SLSA v1 provenance of a built package. */
export async function provenanceStatement(
  compilation: Compilation,
  pkg: Pick<BuiltPackage, "descriptor" | "layers">,
): Promise<trust.InTotoStatement> {
  const options = compilation.options;
  const lock = compilation.resolvedLock;
  const dependencies: ResourceDescriptor[] = [];
  const git = await gitSource(options.context);
  if (git) dependencies.push(git);
  if (lock?.agentfile_hash) {
    dependencies.push({ name: options.agentfile, digest: digestMap(lock.agentfile_hash) });
  }
  const lockLayer = pkg.layers.find((l) => l.descriptor.mediaType === oci.MEDIA_TYPE_LOCK);
  if (lockLayer) dependencies.push({ name: "agentrc.lock", digest: digestMap(lockLayer.descriptor.digest) });
  if (lock?.base_image) {
    dependencies.push({
      uri: ociUri(lock.base_image.ref),
      digest: digestMap(lock.base_image.digest),
      annotations: { role: "base" },
    });
  }
  for (const skill of lock?.skills ?? []) {
    if (!skill.source.startsWith("oci://")) continue;
    dependencies.push({
      uri: skill.source,
      name: skill.name,
      digest: digestMap(skill.digest),
      annotations: { role: "skill" },
    });
  }
  for (const [name, toolset] of Object.entries(lock?.toolsets ?? {})) {
    dependencies.push({
      uri: ociUri(toolset.source),
      name,
      digest: digestMap(toolset.digest),
      annotations: { role: "toolset" },
    });
  }
  const epoch = sourceDateEpoch(options.env.SOURCE_DATE_EPOCH);
  const predicate: Record<string, unknown> = {
    buildDefinition: {
      buildType: BUILD_TYPE,
      externalParameters: {
        agentfile: options.agentfile,
        ...(git?.uri ? { source: git.uri } : {}),
        annotations: options.build.annotations,
        frozenLockfile: options.build.frozenLockfile === true,
      },
      internalParameters: {
        packageFormat: PACKAGE_FORMAT_VERSION,
        plugins: options.plugins.map((p) => p.name),
      },
      resolvedDependencies: dependencies,
    },
    runDetails: {
      builder: { id: BUILDER_ID, version: { agentrc: agentrcVersion() } },
      metadata: epoch === undefined ? {} : { startedOn: epoch, finishedOn: epoch },
    },
  };
  // The agent's name, not a tag: builds of one digest under other tags record the same statement (one referrer).
  return trust.statementAbout(
    pkg.descriptor,
    compilation.spec?.agent || compilation.packageName || "agent",
    trust.SLSA_PROVENANCE_PREDICATE_TYPE,
    predicate,
  );
}

/** `SOURCE_DATE_EPOCH` (seconds) as RFC 3339, the only clock provenance may read. */
function sourceDateEpoch(raw: string | undefined): string | undefined {
  if (raw === undefined || !/^\d+$/.test(raw)) return undefined;
  return new Date(Number(raw) * 1000).toISOString().replace(/\.000Z$/, "Z");
}

function digestMap(digest: string): Record<string, string> {
  const colon = digest.indexOf(":");
  return { [digest.slice(0, colon)]: digest.slice(colon + 1) };
}

function ociUri(ref: string): string {
  return ref.startsWith("oci://") ? ref : `oci://${ref}`;
}

/** The git commit of the context and its `origin` remote (userinfo removed), when the context is in a checkout. */
async function gitSource(context: string): Promise<ResourceDescriptor | undefined> {
  const commit = await git(context, ["rev-parse", "HEAD"]);
  if (commit === undefined || !/^[0-9a-f]{40,64}$/.test(commit)) return undefined;
  const remote = await git(context, ["config", "--get", "remote.origin.url"]);
  const dirty = await git(context, ["status", "--porcelain", "--untracked-files=no", "--", "."]);
  const descriptor: ResourceDescriptor = {
    uri: `git+${publicRemote(remote ?? "")}`.replace(/^git\+$/, "git+local"),
    digest: { gitCommit: commit },
  };
  if (dirty !== undefined && dirty !== "") descriptor.annotations = { dirty: "true" };
  return descriptor;
}

/**
 * A remote as it may be published: a URL loses its user, password, query and fragment (where tokens hide:
 * `https://bob:tok@host/r.git`, `?private_token=…`); an scp-style `user@host:path` keeps its form without a query.
 */
export function publicRemote(url: string): string {
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    try {
      const u = new URL(url);
      u.username = "";
      u.password = "";
      u.search = "";
      u.hash = "";
      return u.toString();
    } catch {
      // Not a URL WHATWG can parse: drop everything up to the last @ of the authority, and any query.
      return url.replace(/^([a-z][a-z0-9+.-]*:\/\/)[^/]*@/i, "$1").replace(/[?#].*$/, "");
    }
  }
  return url.replace(/[?#].*$/, "");
}

function git(cwd: string, args: string[]): Promise<string | undefined> {
  return new Promise((resolve) => {
    execFile("git", args, { cwd, timeout: 5000, windowsHide: true }, (err, stdout) => {
      resolve(err ? undefined : stdout.trim());
    });
  });
}
