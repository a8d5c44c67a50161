/**
 * Named tapable stages of the built-in taps, like webpack's `PROCESS_ASSETS_STAGE_*`: lower runs first, a tap
 * without a stage runs at 0, taps on one stage run in registration order (built-ins first). A plugin places itself
 * relative to a built-in with one of these (`{ name, stage: STAGE.LOCK_WRITE - 1 }`), never with a number of its
 * own. docs/hooks.md lists who taps at which stage.
 */
export const STAGE = Object.freeze({
  /**
   * `check`, build mode: the packager packs the directory layers ahead, reading each file once for its digest, the
   * content observers (the secret scan, at the default stage, then scans from those bytes) and the tar.
   */
  CHECK_PACK_AHEAD: -100,
  /** `check`: the base-resolver adds the files inherited FROM the base, before they are packed ahead and scanned. */
  CHECK_INHERIT: -200,
  /** `spec`: the lockfile plugin reads agentrc.lock, so that the pins are known when the base is fetched. */
  SPEC_READ_LOCK: -100,
  /** `layers`: the packager lays out the default plan, so that every tap at the default stage sees it. */
  LAYERS_DEFAULT_PLAN: -100,
  /** The default stage: feature plugins and organisation plugins. */
  DEFAULT: 0,
  /** `packLayer`: the built-in tar+gzip packer, after any cache or custom packer at the default stage. */
  PACK_FALLBACK: 100,
  /** `lock`: sections that need a registry (FROM tag, `SKILL oci://`), after the local sections. */
  LOCK_REMOTE: 500,
  /** `lock`: the lockfile plugin compares and writes the lock, once every section is in. */
  LOCK_WRITE: 1000,
  /** `manifest`: checks of the final manifest (the risk-tier floor); taps after it are not checked. */
  MANIFEST_VERIFY: 1000,
  /** `attach`: the build signer signs what the other taps attached (provenance) and the manifest digest. */
  ATTACH_SIGN: 1000,
});
