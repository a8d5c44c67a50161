import { goProgram } from "./goProgram.js";

/**
 * Runs test/oras-client, a real oras-go v1 client built against Debian's golang-oras-oras-go-dev (`pull <ref> <out>`
 * or `push-dir <ref> <dir> <title>`); returns its stdout (the digest).
 */
export const oras = goProgram("oras-client");
