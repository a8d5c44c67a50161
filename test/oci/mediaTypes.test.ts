import assert from "node:assert/strict";
import { test } from "node:test";
import * as mt from "../../src/oci/mediaTypes.js";

test("agentrc media types and annotation keys match docs/package.md", () => {
  assert.equal(mt.MEDIA_TYPE_OCI_MANIFEST, "application/vnd.oci.image.manifest.v1+json");
  assert.equal(mt.MEDIA_TYPE_OCI_INDEX, "application/vnd.oci.image.index.v1+json");
  assert.equal(mt.ARTIFACT_TYPE_AGENT, "application/vnd.agentrc.agent.v1");
  assert.equal(mt.MEDIA_TYPE_AGENT_CONFIG, "application/vnd.agentrc.agent.config.v1+json");
  assert.deepEqual(mt.LAYER_ORDER, [
    "application/vnd.agentrc.agent.agentfile.v1+text",
    "application/vnd.agentrc.agent.lock.v1+json",
    "application/vnd.agentrc.agent.policy.cedar.v1+text",
    "application/vnd.agentrc.agent.source.layer.v1.tar+gzip",
    "application/vnd.agentrc.agent.tool.layer.v1.tar+gzip",
    "application/vnd.agentrc.agent.skill.layer.v1.tar+gzip",
    "application/vnd.agentrc.agent.data.layer.v1.tar+gzip",
  ]);
  assert.deepEqual(
    [mt.TITLE_AGENTFILE, mt.TITLE_LOCK, mt.TITLE_POLICY, mt.TITLE_SOURCE, mt.TITLE_TOOLS, mt.TITLE_DATA],
    ["Agentfile", "agentrc.lock", "policy/agent.cedar", "src", "tools", "data"],
  );
  assert.equal(mt.skillLayerTitle("review"), "skills/review");
  assert.ok(mt.DIRECTORY_LAYER_MEDIA_TYPES.every((t) => t.endsWith(".tar+gzip")));
  assert.equal(mt.DIRECTORY_LAYER_MEDIA_TYPES.length, 4);
  assert.equal(mt.ANNOTATION_TITLE, "org.opencontainers.image.title");
  assert.equal(mt.ANNOTATION_REF_NAME, "org.opencontainers.image.ref.name");
  assert.equal(mt.ANNOTATION_ORAS_UNPACK, "io.deis.oras.content.unpack");
  assert.equal(mt.ANNOTATION_ORAS_DIGEST, "io.deis.oras.content.digest");
  assert.deepEqual(
    [
      mt.ANNOTATION_AGENTFILE_VERSION,
      mt.ANNOTATION_AGENT_NAME,
      mt.ANNOTATION_POLICY_HASH,
      mt.ANNOTATION_BASE_DIGEST,
      mt.ANNOTATION_RISK_TIER,
      mt.ANNOTATION_REQUIRED_RUNNER_PROFILES,
      mt.ANNOTATION_REQUIRED_POLICY_PROFILE,
    ],
    [
      "io.agentrc.agentfile.version",
      "io.agentrc.agent.name",
      "io.agentrc.policy.hash",
      "io.agentrc.base.digest",
      "io.agentrc.risk.tier",
      "io.agentrc.required.runner.profiles",
      "io.agentrc.required.policy.profile",
    ],
  );
  assert.deepEqual(
    [
      mt.ANNOTATION_TITLE,
      mt.ANNOTATION_VERSION,
      mt.ANNOTATION_DESCRIPTION,
      mt.ANNOTATION_AUTHORS,
      mt.ANNOTATION_SOURCE,
      mt.ANNOTATION_REVISION,
      mt.ANNOTATION_CREATED,
    ],
    ["title", "version", "description", "authors", "source", "revision", "created"].map(
      (k) => `org.opencontainers.image.${k}`,
    ),
  );
});

test("the empty-JSON descriptor constants are the image-spec values", async () => {
  const { sha256Digest } = await import("../../src/oci/digest.js");
  assert.equal(sha256Digest("{}"), mt.EMPTY_JSON_DIGEST);
  assert.equal(mt.EMPTY_JSON_SIZE, 2);
  assert.equal(mt.MEDIA_TYPE_OCI_EMPTY, "application/vnd.oci.empty.v1+json");
});
