import { GlobDataPlugin } from "../ingest/index.js";

/** `INCLUDE <glob>…`: explicit extra files (prompts, examples, assets), selected like INGEST into the data layer. */
export class IncludePlugin extends GlobDataPlugin {
  constructor() {
    super("include", "INCLUDE");
  }
}
