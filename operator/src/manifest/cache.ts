/**
 * A bounded LRU of parsed and validated files, keyed by Git blob oid. Parsing is the real cost of loading a
 * large repository (the `yaml` package needs ~0.14 ms per small document), and between two commits almost
 * every blob is unchanged, so reloading a commit where one file changed parses one file — and reads one
 * blob: a file found here is not read from Git at all.
 *
 * Bounded twice: by entries and by bytes. An entry's size is its file's size in bytes (the YAML it was
 * parsed from); what the parsed form takes in memory is a multiple of that (about 7–10 times, measured in
 * test/bench/manifest.bench.ts), so a budget in YAML bytes bounds memory too and can be compared with the
 * limits of manifest/limits.ts. A file larger than the whole budget is not kept.
 *
 * What is cached does not depend on the file's path (positions are line:col only), so the same blob at two
 * paths is parsed once. Cached objects are deeply frozen because every load hands out the same instances.
 */
import { createHash } from "node:crypto";
import type { Kind, DesiredObject, ResourceKey } from "../api/objects.js";
import { DEFAULT_CACHE_BYTES } from "./limits.js";
import type { FileIssue, FilePositions, LineCol } from "./parse.js";

/** One document of a cached file, after all per-document checks. */
export interface CheckedDocument {
  /** First line of the document. */
  start: LineCol;
  /** Positions of the file this document belongs to, and the document's ordinal in it (for locate()). */
  positions: FilePositions;
  ordinal: number;
  /** Set for a document of a kind coxswain ignores (manifest/ignored.ts): counted, warned about, never an object. */
  ignored?: true;
  /** Set when the document names a known kind and a name, even if it has other errors (duplicate checks). */
  identity?: { kind: Kind; key: ResourceKey };
  /** The validated, defaulted, frozen object; absent when the document has errors. */
  object?: DesiredObject;
  /** Problems of this document, errors and warnings. */
  issues: FileIssue[];
}

/** A parsed and checked file: its documents and the problems that belong to no document (YAML syntax). */
export interface CheckedFile {
  /** The file's size in bytes (UTF-8). */
  bytes: number;
  /**
   * Non-empty YAML documents in the file, so a later load with a lower document limit can refuse it
   * without parsing again; maxDocuments + 1 when checkFile stopped at the limit.
   */
  documentCount: number;
  /** Set when checkFile stopped at this document limit (the result is then only valid under that limit). */
  stoppedAtLimit?: number;
  documents: CheckedDocument[];
  issues: FileIssue[];
  /**
   * Set for a SOPS file (manifest/sops.ts): what it yields depends on the age keys of the reading, so it
   * is never cached (and its decrypted values do not outlive the reading in the cache).
   */
  keyDependent?: true;
}

/** Counters of a cache, for tests and metrics. */
export interface ManifestCacheStats {
  /** Files actually parsed and validated (cache misses). */
  parses: number;
  /** Files served from the cache. */
  hits: number;
  /** Entries dropped because the cache was full (by entries or by bytes). */
  evictions: number;
}

/** Default bound on entries: entries are files; a small Deployment file costs a few KiB. */
const DEFAULT_CACHE_ENTRIES = 20_000;

/** A bounded, least-recently-used cache of checked files keyed by blob oid. */
export class ManifestCache {
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly #entries = new Map<string, CheckedFile>();
  #bytes = 0;
  /** Live counters; reset with resetStats(). */
  readonly stats: ManifestCacheStats = { parses: 0, hits: 0, evictions: 0 };

  /** maxEntries defaults to DEFAULT_CACHE_ENTRIES, maxBytes (bytes of YAML) to DEFAULT_CACHE_BYTES. */
  constructor(options: { maxEntries?: number; maxBytes?: number } = {}) {
    const max = options.maxEntries ?? DEFAULT_CACHE_ENTRIES;
    if (!Number.isInteger(max) || max < 1) throw new RangeError(`maxEntries must be a positive integer (got ${max})`);
    const maxBytes = options.maxBytes ?? DEFAULT_CACHE_BYTES;
    if (!Number.isSafeInteger(maxBytes) || maxBytes < 1) throw new RangeError(`maxBytes must be a positive integer (got ${maxBytes})`);
    this.#maxEntries = max;
    this.#maxBytes = maxBytes;
  }

  /** Number of cached files. */
  get size(): number {
    return this.#entries.size;
  }

  /** Sum of the cached files' sizes in bytes; never above maxBytes. */
  get bytes(): number {
    return this.#bytes;
  }

  /** The budget in bytes of YAML. */
  get maxBytes(): number {
    return this.#maxBytes;
  }

  /** True when the oid is cached (neither counted nor made recent). */
  has(oid: string): boolean {
    return this.#entries.has(oid);
  }

  /** The cached file for an oid (now the most recently used), counted as a hit; undefined when absent. */
  get(oid: string): CheckedFile | undefined {
    const hit = this.#entries.get(oid);
    if (!hit) return undefined;
    this.#entries.delete(oid); // re-insert: Map order is the recency order
    this.#entries.set(oid, hit);
    this.stats.hits++;
    return hit;
  }

  /**
   * Stores a freshly parsed file (counted as a parse) and evicts least recently used entries until both
   * bounds hold. A file larger than maxBytes is counted but not kept.
   */
  set(oid: string, value: CheckedFile): void {
    this.stats.parses++;
    const old = this.#entries.get(oid);
    if (old) {
      this.#entries.delete(oid);
      this.#bytes -= old.bytes;
    }
    if (value.bytes > this.#maxBytes) return;
    this.#entries.set(oid, value);
    this.#bytes += value.bytes;
    while (this.#entries.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      const [oldest, entry] = this.#entries.entries().next().value as [string, CheckedFile];
      this.#entries.delete(oldest);
      this.#bytes -= entry.bytes;
      this.stats.evictions++;
    }
  }

  /** Returns the cached file for an oid, or computes, stores and returns it (see get and set). */
  getOrCreate(oid: string, create: () => CheckedFile): CheckedFile {
    const hit = this.get(oid);
    if (hit) return hit;
    const value = create();
    this.set(oid, value);
    return value;
  }

  /** Drops every entry (counters stay). */
  clear(): void {
    this.#entries.clear();
    this.#bytes = 0;
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
