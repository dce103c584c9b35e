/**
 * The manifest stage: files of a commit → validated, defaulted objects with positions, and diagnostics.
 */
export * from "./types.js";
export {
  loadManifests,
  readManifestFiles,
  isManifestPath,
  isHiddenPath,
  isReadPath,
  DEFAULT_READ_CONCURRENCY,
  type LoadOptions,
  type SourceFile,
} from "./load.js";
export { validateDirectory, listManifestFiles, type ListedFile } from "./directory.js";
export { ManifestCache, defaultManifestCache, blobOid, DEFAULT_CACHE_ENTRIES, type ManifestCacheStats } from "./cache.js";
export { DEFAULT_CACHE_BYTES, DEFAULT_MANIFEST_LIMITS, LIMIT_FLAGS, formatBytes, resolveLimits, type ManifestLimits } from "./limits.js";
export { decodeUtf8, firstInvalidUtf8, type Decoded } from "./decode.js";
export { resolveCrdDir, readCrdSchema } from "./crds.js";
export { compileAllSchemas, compileSchemasInBackground, isSensitivePath, METADATA_SCHEMA, SENSITIVE_FIELDS, SERVER_SET_METADATA_FIELDS, UNSUPPORTED_KEYWORD } from "./schema.js";
export { formatFieldPath, parseFieldPath, type PathSegment } from "./paths.js";
export { DEFAULT_ROLLING_PERCENT, pauseDurationSeconds } from "./workload.js";
export { isEmptySelector, requirementMatches, selectorMatches, unmetRequirements, type Labels } from "./selector.js";
export {
  AUTO_REVERT_ANNOTATION,
  MAX_USER_PRIORITY,
  MIN_PRIORITY,
  MONITOR_SECONDS_ANNOTATION,
  PRIORITY_ANNOTATION,
  PROMOTE_ANNOTATION,
  SYNC_WAVE_ANNOTATION,
  autoRevertOf,
  monitorSecondsOf,
  priorityAnnotationOf,
  promoteOf,
  syncWaveOf,
} from "./annotations.js";
export { isBase64, secretKeys, secretValue, MAX_SECRET_BYTES, TLS_SECRET_KEYS } from "./secret.js";
export { BUILTIN_PRIORITY_CLASSES, SYSTEM_PRIORITY_PREFIX, parseTcpEndpoint, parseUnixEndpoint, type TcpEndpoint } from "./cluster.js";
