/**
 * A bounded LRU of parsed and validated files, keyed by Git blob oid. Parsing is the real cost of loading a
 * large repository (the `yaml` package needs ~0.14 ms per small document), and between two commits almost
 * every blob is unchanged, so reloading a commit where one file changed parses one file.
 *
 * What is cached does not depend on the file's path (positions are line:col only), so the same blob at two
 * paths is parsed once. Cached objects are deeply frozen because every load hands out the same instances.
 */
import { createHash } from "node:crypto";
import type { Kind, DesiredObject, ResourceKey } from "../api/objects.js";
import type { FileIssue, FilePositions, LineCol } from "./parse.js";

/** One document of a cached file, after all per-document checks. */
export interface CheckedDocument {
  /** First line of the document. */
  start: LineCol;
  /** Positions of the file this document belongs to, and the document's ordinal in it (for locate()). */
  positions: FilePositions;
  ordinal: number;
  /** Set when the document names a known kind and a name, even if it has other errors (duplicate checks). */
  identity?: { kind: Kind; key: ResourceKey };
  /** The validated, defaulted, frozen object; absent when the document has errors. */
  object?: DesiredObject;
  /** Problems of this document, errors and warnings. */
  issues: FileIssue[];
}

/** A parsed and checked file: its documents and the problems that belong to no document (YAML syntax). */
export interface CheckedFile {
  documents: CheckedDocument[];
  issues: FileIssue[];
}

/** Counters of a cache, for tests and metrics. */
export interface ManifestCacheStats {
  /** Files actually parsed and validated (cache misses). */
  parses: number;
  /** Files served from the cache. */
  hits: number;
  /** Entries dropped because the cache was full. */
  evictions: number;
}

/** Default bound: entries are files; a small Deployment file costs a few KiB. */
export const DEFAULT_CACHE_ENTRIES = 20_000;

/** A bounded, least-recently-used cache of checked files keyed by blob oid. */
export class ManifestCache {
  readonly #max: number;
  readonly #entries = new Map<string, CheckedFile>();
  /** Live counters; reset with resetStats(). */
  readonly stats: ManifestCacheStats = { parses: 0, hits: 0, evictions: 0 };

  constructor(options: { maxEntries?: number } = {}) {
    const max = options.maxEntries ?? DEFAULT_CACHE_ENTRIES;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxEntries must be a positive integer (got ${max})`);
    this.#max = max;
  }

  /** Number of cached files. */
  get size(): number {
    return this.#entries.size;
  }

  /** Returns the cached file for an oid, or computes, stores and returns it (evicting the least recent). */
  getOrCreate(oid: string, create: () => CheckedFile): CheckedFile {
    const hit = this.#entries.get(oid);
    if (hit) {
      this.#entries.delete(oid); // re-insert: Map order is the recency order
      this.#entries.set(oid, hit);
      this.stats.hits++;
      return hit;
    }
    const value = create();
    this.stats.parses++;
    this.#entries.set(oid, value);
    while (this.#entries.size > this.#max) {
      const oldest = this.#entries.keys().next().value as string;
      this.#entries.delete(oldest);
      this.stats.evictions++;
    }
    return value;
  }

  /** Drops every entry (counters stay). */
  clear(): void {
    this.#entries.clear();
  }

  /** Sets every counter back to 0. */
  resetStats(): void {
    this.stats.parses = 0;
    this.stats.hits = 0;
    this.stats.evictions = 0;
  }
}

/** The process-wide cache loadManifests uses unless given another (or null for none). */
export const defaultManifestCache = new ManifestCache();

/** Git's blob oid of some content (sha1 over "blob <size>\0" + bytes), so files read from disk share cache keys with Git. */
export function blobOid(content: string | Uint8Array): string {
  const bytes = typeof content === "string" ? Buffer.from(content, "utf8") : content;
  return createHash("sha1").update(`blob ${bytes.byteLength}\0`).update(bytes).digest("hex");
}

/** Freezes a value and everything it contains. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === "object" && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value as Record<string, unknown>)) deepFreeze(v);
  }
  return value;
}
