import { AcmePolicyPlugin } from "./examples/org-plugin/index.js";
import { defineConfig } from "./src/index.js";

// The repository's own configuration: builds the reference agent with the example organisation plugin.
// test/config/repo-config.test.ts lints and builds with it.
export default defineConfig({
  context: "fixtures/agents/reference",
  plugins: [new AcmePolicyPlugin({ requiredAudit: ["compliance"] })],
  lint: { rules: {} },
  build: { tags: ["localhost/reference:dev"], annotations: { "org.opencontainers.image.vendor": "ACME" } },
});
