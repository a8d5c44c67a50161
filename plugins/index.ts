import type { AgentrcPlugin } from "../src/core.js";
import { AgentfileRulesPlugin } from "./agentfile-rules/index.js";
import { BaseResolverPlugin } from "./base-resolver/index.js";
import { BindPlugin } from "./bind/index.js";
import { BuildSignerPlugin } from "./build-signer/index.js";
import { DeclarationsPlugin } from "./declarations/index.js";
import { FunctionsPlugin } from "./functions/index.js";
import { IncludePlugin } from "./include/index.js";
import { IngestPlugin } from "./ingest/index.js";
import { KeySignerPlugin } from "./key-signer/index.js";
import { LockfilePlugin } from "./lockfile/index.js";
import { OciLayoutEmitterPlugin } from "./oci-layout-emitter/index.js";
import { OciPackagerPlugin } from "./oci-packager/index.js";
import { OciSkillsPlugin } from "./oci-skills/index.js";
import { OutputSchemaPlugin } from "./output-schema/index.js";
import { PolicyPlugin } from "./policy/index.js";
import { ProvenancePlugin } from "./provenance/index.js";
import { RegistryPublisherPlugin } from "./registry-publisher/index.js";
import { SecretScanPlugin } from "./secret-scan/index.js";
import { SkillsPlugin } from "./skills/index.js";
import { ToolsPlugin } from "./tools/index.js";
import { ToolsetsPlugin } from "./toolsets/index.js";

/**
 * The built-in plugins, in the order they are applied (before the user's). Each is a plain plugin on the public
 * hooks; the order only matters for taps on the same series hook.
 */
export function builtinPlugins(): AgentrcPlugin[] {
  return [
    new LockfilePlugin(),
    new AgentfileRulesPlugin(),
    new BaseResolverPlugin(),
    new PolicyPlugin(),
    new SkillsPlugin(),
    new OciSkillsPlugin(),
    new ToolsPlugin(),
    new ToolsetsPlugin(),
    new FunctionsPlugin(),
    new IngestPlugin(),
    new IncludePlugin(),
    new BindPlugin(),
    new OutputSchemaPlugin(),
    new DeclarationsPlugin(),
    new SecretScanPlugin(),
    new OciPackagerPlugin(),
    new ProvenancePlugin(),
    new KeySignerPlugin(),
    new BuildSignerPlugin(),
    new OciLayoutEmitterPlugin(),
    new RegistryPublisherPlugin(),
  ];
}
