/**
 * The manifest stage: files of a commit → validated, defaulted objects with positions, and diagnostics.
 */
export * from "./types.js";
export { loadManifests, isManifestPath, type LoadOptions } from "./load.js";
export { validateDirectory, listManifestFiles } from "./directory.js";
export { ManifestCache, defaultManifestCache, blobOid, DEFAULT_CACHE_ENTRIES, type ManifestCacheStats } from "./cache.js";
export { resolveCrdDir, readCrdSchema } from "./crds.js";
export { compileAllSchemas, METADATA_SCHEMA, SERVER_SET_METADATA_FIELDS } from "./schema.js";
export { formatFieldPath, parseFieldPath, type PathSegment } from "./paths.js";
export { DEFAULT_ROLLING_PERCENT } from "./semantic.js";
