import type { CodeInfo } from "./codes.js";

/** Codes of where packages go after a build: install/update/uninstall, kube, promote (docs/image.md). Merged into CODES. */
export const DEPLOY_CODES = {
  // --- install, update, uninstall -------------------------------------------------------------
  INSTALL_VERIFY_FAILED: {
    severity: "error",
    summary:
      "`agentrc install` or `update` refused a package that fails verification; nothing was installed.",
    hint: "Run `agentrc verify <ref>` to see each failed check; do not install a damaged or altered package.",
  },
  INSTALL_NOT_FOUND: {
    severity: "error",
    summary: "No installed package has this name or qualified id (`<registry>/<repository>`).",
    hint: "Run `agentrc list --installed` to see the installed packages and their ids.",
  },
  INSTALL_NAME_AMBIGUOUS: {
    severity: "error",
    summary: "Several installed packages share this agent name.",
    hint: "Name the package by its qualified id (`<registry>/<repository>`), as `agentrc list --installed` shows it.",
  },
  INSTALL_SKILL_EXISTS: {
    severity: "error",
    summary: "`--skills-dir` already holds a skill of this name that this installation did not place there.",
    hint: "Remove or rename the existing skill directory, or install into another --skills-dir.",
  },
  INSTALL_RECORD_INVALID: {
    severity: "error",
    summary: "An installation's record (install.json in the data directory) is not what agentrc wrote.",
    hint: "Uninstall and install the package again (`agentrc uninstall <id>`, `agentrc install <ref>`).",
  },
  // --- kube ------------------------------------------------------------------------------------------
  KUBE_IMAGE_MISSING: {
    severity: "error",
    summary:
      "`agentrc kube --mode image`: the reference has no image of this package beside it (no `<tag>-image`, or one made from another package digest).",
    hint: "Build and push with `agentrc build --image --push`, or use --mode artifact.",
  },
  // --- promote ---------------------------------------------------------------------------------
  PROMOTE_TRANSITION_INVALID: {
    severity: "error",
    summary:
      "`agentrc promote --to` names a state that is not the package's next one (draft → testing → published → deprecated → archived).",
    hint: "Promote one state at a time; `agentrc inspect <ref>` shows the package's state and its history.",
  },
  PROMOTE_VERSION_UNKNOWN: {
    severity: "error",
    summary:
      "The package to promote has no org.opencontainers.image.version annotation and its reference has no version tag (`<v>`, `<v>-draft`, `<v>-testing`).",
    hint: 'Set build.annotations["org.opencontainers.image.version"] in the configuration, or promote it by a tag such as 1.0-draft.',
  },
} as const satisfies Record<string, CodeInfo>;
