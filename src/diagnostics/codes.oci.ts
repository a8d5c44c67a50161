import type { CodeInfo } from "./codes.js";

/** Diagnostic codes of OCI model, packing, image layouts and the local store. Merged into CODES (codes.ts). */
export const OCI_CODES = {
  // --- digests and blobs ------------------------------------------------------------------
  OCI_DIGEST_INVALID: {
    severity: "error",
    summary: "A string is not a valid OCI digest (`sha256:` followed by 64 lowercase hex digits).",
    hint: "Use the full digest, e.g. sha256:<64 hex digits>.",
  },
  OCI_DIGEST_MISMATCH: {
    severity: "error",
    summary: "Content does not hash to the digest it was expected to have.",
    hint: "The content is corrupt or was changed; fetch or rebuild it.",
  },
  OCI_SIZE_MISMATCH: {
    severity: "error",
    summary: "Content does not have the size its descriptor declares.",
    hint: "The content is truncated or corrupt; fetch or rebuild it.",
  },
  OCI_BLOB_NOT_FOUND: {
    severity: "error",
    summary: "A blob is not present in the image layout.",
    hint: "Rebuild or pull the package again so that every blob is present.",
  },
  OCI_MANIFEST_INVALID: {
    severity: "error",
    summary: "A manifest or index is not valid JSON or does not have the expected shape.",
    hint: "Check the manifest JSON (schemaVersion 2, mediaType, config, layers).",
  },
  // --- tar layers -------------------------------------------------------------------------
  OCI_TAR_PATH_INVALID: {
    severity: "error",
    summary: "A layer entry path is empty or contains a backslash, NUL, `.` or an empty component.",
    hint: "Use relative paths with `/` separators and no `.` or empty components.",
  },
  OCI_TAR_PATH_ABSOLUTE: {
    severity: "error",
    summary: "A layer entry path is absolute.",
    hint: "Use paths relative to the layer root.",
  },
  OCI_TAR_PATH_TRAVERSAL: {
    severity: "error",
    summary: "A layer entry path contains a `..` component.",
    hint: "Remove `..` from the path; layer paths stay inside the layer root.",
  },
  OCI_TAR_PATH_OUTSIDE_ROOT: {
    severity: "error",
    summary:
      "A layer entry path is not below the layer's root (its title), where `oras pull` unpacks the layer.",
    hint: "Put every file of a directory layer below the layer's title.",
  },
  OCI_TAR_DUPLICATE_PATH: {
    severity: "error",
    summary: "Two layer entries have the same path, or a path is both a file and a directory.",
    hint: "Give every entry a unique path.",
  },
  OCI_TAR_SIZE_MISMATCH: {
    severity: "error",
    summary: "A file produced a different number of bytes than its declared size while packing.",
    hint: "The file changed while it was packed; run the build again.",
  },
  OCI_EPOCH_INVALID: {
    severity: "error",
    summary: "SOURCE_DATE_EPOCH (or the given epoch) is not an integer between 0 and 2147483647.",
    hint: "Set SOURCE_DATE_EPOCH to whole seconds since 1970, e.g. $(git log -1 --format=%ct).",
  },
  OCI_ZLIB_NONSTANDARD: {
    severity: "warning",
    summary: "This Node.js zlib produces gzip bytes that differ from the reference build.",
    hint: "Compressed layer digests will not match other machines; use an official Node.js build >= 20.10.",
  },
  // --- image layout and store -------------------------------------------------------------
  OCI_LAYOUT_INVALID: {
    severity: "error",
    summary: "A directory is not a valid OCI image layout (oci-layout or index.json missing or malformed).",
    hint: "Point at a directory created by agentrc, skopeo or oras, or at an empty directory.",
  },
  OCI_LAYOUT_LOCKED: {
    severity: "error",
    summary: "The image layout's index lock could not be taken in time.",
    hint: "Another agentrc process is updating the layout; retry, or delete index.json.lock if none runs.",
  },
  OCI_REF_INVALID: {
    severity: "error",
    summary: "A tag or reference name is not valid for an image layout.",
    hint: "Use letters, digits and `-._:@/+` separators, e.g. localhost/example:1.0.",
  },
  OCI_REF_NOT_FOUND: {
    severity: "error",
    summary: "No manifest with this tag or digest exists in the image layout or local store.",
    hint: "Build or pull it first, or check the tag spelling.",
  },
  OCI_ARCHIVE_INVALID: {
    severity: "error",
    summary: "An oci-archive tarball does not contain a valid OCI image layout.",
    hint: "Create the archive with agentrc or `skopeo copy <src> oci-archive:<file>:<tag>`.",
  },
  // --- extraction -------------------------------------------------------------------------
  OCI_EXTRACT_PATH_UNSAFE: {
    severity: "error",
    summary: "A tarball entry has an absolute path, a `..` component, a backslash or a NUL.",
    hint: "The tarball is hostile or broken; do not extract it.",
  },
  OCI_EXTRACT_LINK_ESCAPE: {
    severity: "error",
    summary: "A tarball symlink or hardlink is absolute or points outside the extraction directory.",
    hint: "The tarball is hostile or broken; links must be relative and stay inside.",
  },
  OCI_EXTRACT_THROUGH_SYMLINK: {
    severity: "error",
    summary: "A tarball entry would be written through a symlink extracted earlier.",
    hint: "The tarball is hostile or broken; do not extract it.",
  },
  OCI_EXTRACT_SPECIAL_FILE: {
    severity: "error",
    summary: "A tarball holds a device file, FIFO or other entry type that is never extracted.",
    hint: "Packages hold only regular files, directories and contained links.",
  },
  OCI_EXTRACT_DUPLICATE_PATH: {
    severity: "error",
    summary: "A tarball holds two entries for the same path.",
    hint: "The tarball is hostile or broken; do not extract it.",
  },
  OCI_EXTRACT_TOO_MANY_ENTRIES: {
    severity: "error",
    summary: "A tarball holds more entries than the extraction limit.",
    hint: "Raise the entry limit only if you trust the tarball.",
  },
  OCI_EXTRACT_TOO_LARGE: {
    severity: "error",
    summary: "A tarball's content exceeds the extraction size limit.",
    hint: "Raise the size limit only if you trust the tarball.",
  },
  OCI_EXTRACT_CORRUPT: {
    severity: "error",
    summary: "A tarball or its gzip stream is corrupt or truncated.",
    hint: "Fetch the tarball again.",
  },
  OCI_EXTRACT_TARGET_EXISTS: {
    severity: "error",
    summary: "The extraction directory already exists and is not empty.",
    hint: "Extract into a new or empty directory.",
  },
} as const satisfies Record<string, CodeInfo>;
