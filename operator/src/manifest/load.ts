/**
 * loadManifests: the files of one commit → validated, defaulted objects and sorted diagnostics.
 *
 * Per-file work (parse, validate, default) is cached by blob oid (cache.ts); what depends on the whole set
 * (duplicate objects) and on paths (diagnostic file names, ManifestObject positions) is recomputed on every
 * load, which is cheap. The result does not depend on the order of the input files: files are processed in
 * path order, objects come out sorted by key and diagnostics by compareDiagnostics.
 */
import { compareKeys, type DesiredObject, type ResourceKey } from "../api/objects.js";
import { ManifestCache, blobOid, defaultManifestCache } from "./cache.js";
import { checkFile } from "./check.js";
import type { FilePositions } from "./parse.js";
import type { PathSegment } from "./paths.js";
import { compareDiagnostics, type Diagnostic, type ManifestFile, type ManifestObject, type ManifestSet, type SourcePosition } from "./types.js";

/** Options of loadManifests. */
export interface LoadOptions {
  /** Cache of checked files by blob oid; defaults to the process-wide defaultManifestCache; null disables caching. */
  cache?: ManifestCache | null;
}

/**
 * True for the paths coxswain reads as manifests: names ending in .yaml or .yml, with no path segment that
 * starts with "." (so .github/workflows/*.yml and other tool folders are never taken for manifests).
 */
export function isManifestPath(path: string): boolean {
  if (!/\.ya?ml$/.test(path)) return false;
  return path.split("/").every((seg) => seg === "." || !seg.startsWith("."));
}

/** A ManifestObject whose positions come from its file's (lazily rebuilt) position index. */
class LoadedManifestObject implements ManifestObject {
  readonly key: ResourceKey;
  readonly object: DesiredObject;
  readonly source: SourcePosition;
  readonly #file: string;
  readonly #positions: FilePositions;
  readonly #ordinal: number;

  constructor(key: ResourceKey, object: DesiredObject, source: SourcePosition, positions: FilePositions, ordinal: number) {
    this.key = key;
    this.object = object;
    this.source = source;
    this.#file = source.file;
    this.#positions = positions;
    this.#ordinal = ordinal;
  }

  locate(path: readonly PathSegment[]): SourcePosition {
    return { file: this.#file, ...this.#positions.document(this.#ordinal).locate(path) };
  }
}

/**
 * Reads the manifests among `files` (other files are skipped, see isManifestPath). Every YAML document
 * becomes an object or diagnostics; objects with errors are left out, objects with only warnings stay in.
 * When two documents declare the same object, the one later in path order gets a DuplicateObject error
 * naming the first, and only the first is kept. Objects are deeply frozen (they are shared through the cache).
 */
export function loadManifests(files: readonly ManifestFile[], opts: LoadOptions = {}): ManifestSet {
  const cache = opts.cache === undefined ? defaultManifestCache : opts.cache;
  const sorted = files.filter((f) => isManifestPath(f.path)).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));

  const diagnostics: Diagnostic[] = [];
  const objects: ManifestObject[] = [];
  const firstSeen = new Map<ResourceKey, SourcePosition>();

  for (const f of sorted) {
    const checked = cache ? cache.getOrCreate(f.oid ?? blobOid(f.content), () => checkFile(f.content)) : checkFile(f.content);
    for (const i of checked.issues) diagnostics.push({ file: f.path, ...i });
    for (const doc of checked.documents) {
      for (const i of doc.issues) diagnostics.push({ file: f.path, ...i });
      if (!doc.identity) continue;
      const { key } = doc.identity;
      const first = firstSeen.get(key);
      if (first) {
        diagnostics.push({
          file: f.path,
          ...doc.positions.document(doc.ordinal).locate(["metadata", "name"]),
          code: "DuplicateObject",
          severity: "error",
          field: "metadata.name",
          message: `${key} is already declared at ${first.file}:${first.line}; keep one of the two`,
        });
        continue;
      }
      firstSeen.set(key, { file: f.path, ...doc.start });
      if (doc.object) objects.push(new LoadedManifestObject(key, doc.object, { file: f.path, ...doc.start }, doc.positions, doc.ordinal));
    }
  }

  objects.sort((a, b) => compareKeys(a.key, b.key));
  diagnostics.sort(compareDiagnostics);
  return { objects, diagnostics };
}
