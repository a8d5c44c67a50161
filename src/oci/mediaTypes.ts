/**
 * Media types, artifact type and annotation keys of agentrc packages (docs/package.md) and of the OCI image spec.
 * Pure constants: no compiler or plugin knowledge.
 */

// --- OCI image spec ----------------------------------------------------------------------

export const MEDIA_TYPE_OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json";
export const MEDIA_TYPE_OCI_INDEX = "application/vnd.oci.image.index.v1+json";
export const MEDIA_TYPE_OCI_CONFIG = "application/vnd.oci.image.config.v1+json";
export const MEDIA_TYPE_OCI_LAYER_TAR = "application/vnd.oci.image.layer.v1.tar";
export const MEDIA_TYPE_OCI_LAYER_TAR_GZIP = "application/vnd.oci.image.layer.v1.tar+gzip";
export const MEDIA_TYPE_OCI_EMPTY = "application/vnd.oci.empty.v1+json";
/** Docker schema 2 types, only recognised when reading layouts written by other tools. */
export const MEDIA_TYPE_DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json";
export const MEDIA_TYPE_DOCKER_MANIFEST_LIST = "application/vnd.docker.distribution.manifest.list.v2+json";
export const MEDIA_TYPE_DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json";
export const MEDIA_TYPE_DOCKER_LAYER_GZIP = "application/vnd.docker.image.rootfs.diff.tar.gzip";

/** Media types a layout's index.json may point at as manifests. */
export const MANIFEST_MEDIA_TYPES: readonly string[] = [
  MEDIA_TYPE_OCI_MANIFEST,
  MEDIA_TYPE_OCI_INDEX,
  MEDIA_TYPE_DOCKER_MANIFEST,
  MEDIA_TYPE_DOCKER_MANIFEST_LIST,
];
/** Media types of indexes (manifests that list manifests). */
export const INDEX_MEDIA_TYPES: readonly string[] = [MEDIA_TYPE_OCI_INDEX, MEDIA_TYPE_DOCKER_MANIFEST_LIST];

/** The empty JSON blob `{}` (image-spec "empty descriptor"). */
export const EMPTY_JSON_DIGEST = "sha256:44136fa355b3678a1146ad16f7e8649e94fb4fc21fe77e8310c060f61caaff8a";
export const EMPTY_JSON_SIZE = 2;

// --- OCI image layout --------------------------------------------------------------------

export const OCI_LAYOUT_FILE = "oci-layout";
export const OCI_LAYOUT_VERSION = "1.0.0";
export const OCI_INDEX_FILE = "index.json";
export const OCI_BLOBS_DIR = "blobs";

// --- agentrc package (docs/package.md) ------------------------------------------------------------

export const ARTIFACT_TYPE_AGENT = "application/vnd.agentrc.agent.v1";
export const MEDIA_TYPE_AGENT_CONFIG = "application/vnd.agentrc.agent.config.v1+json";
export const MEDIA_TYPE_AGENTFILE = "application/vnd.agentrc.agent.agentfile.v1+text";
export const MEDIA_TYPE_LOCK = "application/vnd.agentrc.agent.lock.v1+json";
export const MEDIA_TYPE_POLICY_CEDAR = "application/vnd.agentrc.agent.policy.cedar.v1+text";
export const MEDIA_TYPE_SOURCE_LAYER = "application/vnd.agentrc.agent.source.layer.v1.tar+gzip";
export const MEDIA_TYPE_TOOL_LAYER = "application/vnd.agentrc.agent.tool.layer.v1.tar+gzip";
export const MEDIA_TYPE_SKILL_LAYER = "application/vnd.agentrc.agent.skill.layer.v1.tar+gzip";
export const MEDIA_TYPE_DATA_LAYER = "application/vnd.agentrc.agent.data.layer.v1.tar+gzip";

/** Skill packages (`agentrc build` of a skill directory): one skill layer titled with the skill's name. */
export const ARTIFACT_TYPE_SKILL = "application/vnd.agentrc.skill.v1";
export const MEDIA_TYPE_SKILL_CONFIG = "application/vnd.agentrc.skill.config.v1+json";
/** Toolset packages (`agentrc build` of a toolset directory): one layer titled with the toolset's name. */
export const ARTIFACT_TYPE_TOOLSET = "application/vnd.agentrc.toolset.v1";
export const MEDIA_TYPE_TOOLSET_CONFIG = "application/vnd.agentrc.toolset.config.v1+json";
export const MEDIA_TYPE_TOOLSET_LAYER = "application/vnd.agentrc.toolset.layer.v1.tar+gzip";

/** `org.opencontainers.image.title` of each agentrc layer. */
export const TITLE_AGENTFILE = "Agentfile";
export const TITLE_LOCK = "agentrc.lock";
export const TITLE_POLICY = "policy/agent.cedar";
export const TITLE_SOURCE = "src";
export const TITLE_TOOLS = "tools";
export const TITLE_DATA = "data";
export const skillLayerTitle = (name: string): string => `skills/${name}`;

/** Layer media types in manifest order (docs/package.md); skills repeat, one layer each, at their position. */
export const LAYER_ORDER: readonly string[] = [
  MEDIA_TYPE_AGENTFILE,
  MEDIA_TYPE_LOCK,
  MEDIA_TYPE_POLICY_CEDAR,
  MEDIA_TYPE_SOURCE_LAYER,
  MEDIA_TYPE_TOOL_LAYER,
  MEDIA_TYPE_SKILL_LAYER,
  MEDIA_TYPE_DATA_LAYER,
];

/** Layer media types whose blob is a tar+gzip directory (carry the ORAS unpack annotations). */
export const DIRECTORY_LAYER_MEDIA_TYPES: readonly string[] = [
  MEDIA_TYPE_SOURCE_LAYER,
  MEDIA_TYPE_TOOL_LAYER,
  MEDIA_TYPE_SKILL_LAYER,
  MEDIA_TYPE_DATA_LAYER,
];

// --- annotation keys -----------------------------------------------------------------------

export const ANNOTATION_TITLE = "org.opencontainers.image.title";
export const ANNOTATION_REF_NAME = "org.opencontainers.image.ref.name";
export const ANNOTATION_VERSION = "org.opencontainers.image.version";
export const ANNOTATION_DESCRIPTION = "org.opencontainers.image.description";
export const ANNOTATION_AUTHORS = "org.opencontainers.image.authors";
export const ANNOTATION_SOURCE = "org.opencontainers.image.source";
export const ANNOTATION_REVISION = "org.opencontainers.image.revision";
export const ANNOTATION_CREATED = "org.opencontainers.image.created";

/** ORAS: unpack this layer as a directory on `oras pull`. Value `"true"`. */
export const ANNOTATION_ORAS_UNPACK = "io.deis.oras.content.unpack";
/** ORAS: digest of the uncompressed tar (the diffID). */
export const ANNOTATION_ORAS_DIGEST = "io.deis.oras.content.digest";

export const ANNOTATION_AGENTFILE_VERSION = "io.agentrc.agentfile.version";
export const ANNOTATION_AGENT_NAME = "io.agentrc.agent.name";
export const ANNOTATION_POLICY_HASH = "io.agentrc.policy.hash";
export const ANNOTATION_BASE_DIGEST = "io.agentrc.base.digest";
export const ANNOTATION_RISK_TIER = "io.agentrc.risk.tier";
export const ANNOTATION_REQUIRED_RUNNER_PROFILES = "io.agentrc.required.runner.profiles";
export const ANNOTATION_REQUIRED_POLICY_PROFILE = "io.agentrc.required.policy.profile";
