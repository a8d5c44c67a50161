import { defineConfig } from "agentrc";
import { AcmePolicyPlugin } from "./examples/org-plugin/index.js";

// The repository's own configuration: builds the reference agent with the example organisation plugin.
// test/config/config.test.ts lints and builds with it. It imports `agentrc` as a user's configuration would (the
// name resolves to this package's built dist/ through its `exports`): jiti then loads the library natively instead
// of transpiling all of src/, which took tens of seconds each time a command found this file in the working
// directory (every test that runs `verify`, `pull` or `install` from the repository root).
export default defineConfig({
  context: "fixtures/agents/reference",
  plugins: [new AcmePolicyPlugin({ requiredAudit: ["compliance"] })],
  lint: { rules: {} },
  build: { tags: ["localhost/reference:dev"], annotations: { "org.opencontainers.image.vendor": "ACME" } },
});
