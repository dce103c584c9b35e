/**
 * The manifest stage: files of a commit → validated, defaulted objects with positions, and diagnostics.
 */
export * from "./types.js";
export {
  loadManifests,
  readManifestFiles,
  isManifestPath,
  type LoadOptions,
  type SourceFile,
} from "./load.js";
export { validateDirectory, listManifestFiles } from "./directory.js";
export { ManifestCache, blobOid } from "./cache.js";
export { DEFAULT_CACHE_BYTES, DEFAULT_MANIFEST_LIMITS, LIMIT_FLAGS, resolveLimits, type ManifestLimits } from "./limits.js";
export { decodeUtf8 } from "./decode.js";
export { resolveCrdDir, readCrdSchema } from "./crds.js";
export { UNSUPPORTED_KEYWORD } from "./schema.js";
export { formatFieldPath, parseFieldPath } from "./paths.js";
export { pauseDurationSeconds } from "./workload.js";
export { selectorMatches } from "./selector.js";
export {
  PROMOTE_ANNOTATION,
  autoRevertOf,
  monitorSecondsOf,
  priorityAnnotationOf,
  promoteOf,
  syncWaveOf,
} from "./annotations.js";
export { isBase64, secretKeys, secretValue } from "./secret.js";
export { parseTcpEndpoint, parseUnixEndpoint } from "./cluster.js";
