/**
 * The one reading of a set of manifest files — a commit's (sync/load.ts) or a directory's (directory.ts,
 * `coxswain validate`) — into validated, defaulted objects and sorted diagnostics. Both go through
 * readManifestFiles, so they decode (strict UTF-8, decode.ts), treat symbolic links, apply the limits
 * (limits.ts) and parse exactly alike; loadManifests is the same reading for files already in memory.
 *
 * Per-file work (decode, parse, validate, default) is cached by blob oid (cache.ts); what depends on the
 * whole set (duplicate objects, the total size) and on paths (diagnostic file names, ManifestObject
 * positions) is recomputed on every load, which is cheap. The result does not depend on the order of the
 * input files: files are processed in path order, objects come out sorted by key and diagnostics by
 * compareDiagnostics.
 */
import { compareKeys, type DesiredObject, type ResourceKey } from "../api/objects.js";
import { type ManifestCache, blobOid, defaultManifestCache, type CheckedFile } from "./cache.js";
import { checkFile } from "./check.js";
import { sharedParsePool, type ParsePool } from "./parse-pool.js";
import { LIMIT_FLAGS, formatBytes, resolveLimits, type ManifestLimits } from "./limits.js";
import type { FileIssue, FilePositions } from "./parse.js";
import { policyDiagnostics, type Policy } from "./policy.js";
import type { PathSegment } from "./paths.js";
import type { AgeKeyring } from "./sops.js";
import { compareDiagnostics, type Diagnostic, type ManifestFile, type ManifestObject, type ManifestSet, type ObjectPosition, type SourcePosition } from "./types.js";

/** Options of loadManifests, readManifestFiles and validateDirectory. */
export interface LoadOptions {
  /** Cache of checked files by blob oid; defaults to the process-wide defaultManifestCache; null disables caching. */
  cache?: ManifestCache | null;
  /** Limits of this reading; missing ones take DEFAULT_MANIFEST_LIMITS. */
  limits?: Partial<ManifestLimits>;
  /** Files read at once (default 8): bounds open file descriptors on disk and blobs in memory. */
  concurrency?: number;
  /**
   * `--strict`: every warning of the reading (an ignored kind or field, server-set metadata, …) is an
   * error, so that nothing written in the manifests is ignored. The objects they are about stay in the set
   * (they are valid as objects; checks across objects would otherwise report them missing), and the set has
   * errors, so nothing of it is applied.
   */
  strict?: boolean;
  /**
   * The operator's policy file (`--policy-file`, policy.ts): what pods of each namespace may ask for
   * (privileged, hostPID, hostIPC, hostPath, added capabilities). Absent: none of it is allowed.
   */
  policy?: Policy;
  /**
   * The age identities that decrypt SOPS-encrypted Secrets (manifest/sops.ts); without them such a file is
   * a SecretUndecryptable error. readManifestFiles unlocks each file's data keys itself; loadManifests is
   * synchronous and only finds the keys an earlier `await age.unlock(content)` unwrapped.
   */
  age?: AgeKeyring;
}

/**
 * One file to read, before it is read: where it is, whether it is a symbolic link, its blob oid when the
 * source knows it without reading (Git), and how to read it.
 */
export interface SourceFile {
  /** "/"-separated path, as diagnostics print it. */
  path: string;
  /** Git blob oid (the cache key); when known, a cached file is not read at all. */
  oid?: string;
  /** A symbolic link (Git mode 120000, or a link on disk): an error, never followed. */
  symlink?: boolean;
  /**
   * The file's bytes. A source that learns the size before reading (a file on disk) returns { size }
   * instead of reading a file larger than maxBytes.
   */
  read(maxBytes: number): Promise<Uint8Array | { size: number }>;
  /** Where a link points, for the message; only called for symlinks. */
  linkTarget?(): Promise<string>;
}

/** Default number of files read at once. */
const DEFAULT_READ_CONCURRENCY = 8;

/** Parsing yields to the event loop when it has held it this long (ms), so HTTP (/healthz, webhooks) is served during a long load. */
const YIELD_AFTER_MS = 10;

/**
 * True for the paths coxswain reads as manifests: names ending in .yaml or .yml, with no path segment that
 * starts with "." (so .github/workflows/*.yml and other tool folders are never taken for manifests).
 */
export function isManifestPath(path: string): boolean {
  if (!/\.ya?ml$/.test(path)) return false;
  return !isHiddenPath(path);
}

/** True when a segment of the path starts with "." (hidden files and tool folders are never read). */
function isHiddenPath(path: string): boolean {
  return path.split("/").some((seg) => seg !== "." && seg.startsWith("."));
}

/**
 * True for what a reading looks at: every manifest path, and every symbolic link outside hidden folders,
 * whatever its name (a link to a directory of manifests has no .yaml name, and is refused too).
 */
export function isReadPath(path: string, symlink: boolean): boolean {
  return symlink ? !isHiddenPath(path) : isManifestPath(path);
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

  locate(path: readonly PathSegment[]): ObjectPosition {
    return { file: this.#file, ...this.#positions.document(this.#ordinal).locate(path), object: this.key };
  }
}

/** What --strict appends to a warning it turns into an error. */
const STRICT_NOTE = " (an error with --strict)";

/**
 * The decisions of one reading, fed file by file in path order by both entry points: the symlink rule,
 * the limits, the cache, --strict, the counts, and the set-wide duplicate check.
 */
class SetBuilder {
  readonly limits: ManifestLimits;
  readonly cache: ManifestCache | null;
  readonly age: AgeKeyring | undefined;
  readonly #diagnostics: Diagnostic[] = [];
  readonly #objects: ManifestObject[] = [];
  readonly #firstSeen = new Map<ResourceKey, SourcePosition>();
  readonly #strict: boolean;
  readonly #policy: Policy | undefined;
  readonly #read = { files: 0, documents: 0, ignored: 0 };
  #total = 0;
  /** Set once the total size was exceeded: no later file is read. */
  full = false;

  constructor(opts: LoadOptions) {
    this.limits = resolveLimits(opts.limits);
    this.cache = opts.cache === undefined ? defaultManifestCache : opts.cache;
    this.#strict = opts.strict === true;
    this.#policy = opts.policy;
    this.age = opts.age;
  }

  /** A checked issue under this file's path; with --strict a warning becomes an error that says why. */
  #issue(file: string, i: FileIssue): Diagnostic {
    if (this.#strict && i.severity === "warning") return { file, ...i, severity: "error", message: `${i.message}${STRICT_NOTE}` };
    return { file, ...i };
  }

  #error(file: string, code: Diagnostic["code"], message: string): void {
    this.#diagnostics.push({ file, line: 1, col: 1, code, severity: "error", field: "", message });
  }

  symlink(path: string, target: string | undefined): void {
    const to = target === undefined ? "" : ` (to ${JSON.stringify(target.length > 200 ? `${target.slice(0, 197)}...` : target)})`;
    this.#error(path, "SymlinkNotAllowed", `this is a symbolic link${to}; coxswain follows no links under the manifest path, in Git or on disk — replace it with the file or directory it points to`);
  }

  /**
   * Accounts for a file's size before it is parsed; false when it must not be parsed: larger than one file
   * may be (FileTooLarge), or it takes the set over the total (ManifestsTooLarge; `remaining` files after
   * it are not read either).
   */
  admit(path: string, bytes: number, remaining: number): boolean {
    const { maxFileBytes, maxTotalBytes } = this.limits;
    if (bytes > maxFileBytes) {
      this.#error(path, "FileTooLarge", `the file is ${formatBytes(bytes)}, above the limit of ${formatBytes(maxFileBytes)} for one manifest file; it was not parsed — split it, or raise ${LIMIT_FLAGS.maxFileBytes}`);
      return false;
    }
    this.#total += bytes;
    if (this.#total > maxTotalBytes) {
      this.full = true;
      const rest = remaining > 0 ? ` and the ${remaining} file(s) after it were` : " was";
      this.#error(
        path,
        "ManifestsTooLarge",
        `with this file the manifests reach ${formatBytes(this.#total)}, above the limit of ${formatBytes(maxTotalBytes)} for one commit; this file${rest} not read — keep fewer manifests under the path, or raise ${LIMIT_FLAGS.maxTotalBytes}`,
      );
      return false;
    }
    return true;
  }

  /**
   * The cached file for an oid when its result holds under this reading's document limit: it was checked
   * whole and has no more documents than allowed, or it was stopped at exactly this limit. Otherwise it is
   * parsed again (a lower limit is never bypassed by the cache, a higher one gets the whole file checked).
   */
  cached(oid: string | undefined): CheckedFile | undefined {
    if (!this.cache || oid === undefined || !this.cache.has(oid)) return undefined;
    const hit = this.cache.get(oid)!;
    const max = this.limits.maxDocumentsPerFile;
    const holds = hit.stoppedAtLimit === undefined ? hit.documentCount <= max : hit.stoppedAtLimit === max;
    return holds ? hit : undefined;
  }

  /** Parses and checks admitted content, and caches the result (unless it depends on the age keys). */
  check(content: string | Uint8Array, oid: string | undefined): CheckedFile {
    const checked = checkFile(content, { maxDocuments: this.limits.maxDocumentsPerFile, ...(this.age ? { age: this.age } : {}) });
    this.store(checked, content, oid);
    return checked;
  }

  /** Caches a checked file under its oid (unless it depends on the age keys). */
  store(checked: CheckedFile, content: string | Uint8Array, oid: string | undefined): void {
    if (this.cache && !checked.keyDependent) this.cache.set(oid ?? blobOid(content), checked);
  }

  /** Adds a checked file's documents and diagnostics under its path. */
  add(path: string, checked: CheckedFile): void {
    this.#read.files++;
    this.#read.documents += checked.documentCount;
    for (const i of checked.issues) this.#diagnostics.push(this.#issue(path, i));
    for (const doc of checked.documents) {
      if (doc.ignored) this.#read.ignored++;
      for (const i of doc.issues) this.#diagnostics.push(this.#issue(path, i));
      if (!doc.identity) continue;
      const { key } = doc.identity;
      const first = this.#firstSeen.get(key);
      if (first) {
        this.#diagnostics.push({
          file: path,
          ...doc.positions.document(doc.ordinal).locate(["metadata", "name"]),
          object: key,
          code: "DuplicateObject",
          severity: "error",
          field: "metadata.name",
          message: `${key} is already declared at ${first.file}:${first.line}; keep one of the two`,
        });
        continue;
      }
      this.#firstSeen.set(key, { file: path, ...doc.start });
      if (doc.object) this.#objects.push(new LoadedManifestObject(key, doc.object, { file: path, ...doc.start }, doc.positions, doc.ordinal));
    }
  }

  finish(): ManifestSet {
    this.#objects.sort((a, b) => compareKeys(a.key, b.key));
    this.#diagnostics.push(...policyDiagnostics(this.#policy, this.#objects));
    this.#diagnostics.sort(compareDiagnostics);
    return { objects: this.#objects, diagnostics: this.#diagnostics, read: { ...this.#read }, ...(this.full ? { incomplete: true as const } : {}) };
  }
}

function byPath<T extends { path: string }>(a: T, b: T): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/**
 * Reads the manifests among `files` already in memory (other paths are skipped, see isReadPath), with the
 * same rules as readManifestFiles: a file marked `symlink` is a SymlinkNotAllowed error (its content is the
 * link's target), the limits apply, bytes are decoded strictly. Every YAML document becomes an object or
 * diagnostics; objects with errors are left out, objects with only warnings stay in (with --strict too,
 * where those warnings are errors). When two documents declare the same object, the one later in path
 * order gets a DuplicateObject error naming the first, and only the first is kept. Objects are deeply frozen (they are shared through the cache).
 */
export function loadManifests(files: readonly ManifestFile[], opts: LoadOptions = {}): ManifestSet {
  const b = new SetBuilder(opts);
  const sorted = files.filter((f) => isReadPath(f.path, f.symlink === true)).sort(byPath);
  for (const [i, f] of sorted.entries()) {
    if (b.full) break;
    if (f.symlink) {
      b.symlink(f.path, typeof f.content === "string" ? f.content : new TextDecoder().decode(f.content));
      continue;
    }
    const size = typeof f.content === "string" ? Buffer.byteLength(f.content, "utf8") : f.content.byteLength;
    if (!b.admit(f.path, size, sorted.length - i - 1)) continue;
    const oid = f.oid ?? (b.cache ? blobOid(f.content) : undefined);
    b.add(f.path, b.cached(oid) ?? b.check(f.content, oid));
  }
  return b.finish();
}

type Settled = { bytes: Uint8Array } | { size: number } | { error: unknown };

/**
 * A reading parses on worker threads (parse-pool.ts) once it has this many bytes of YAML to parse. A
 * worker's start costs ~0.17–0.2 s of CPU compiled, loading the modules (its first Deployment checked ~0.15 s
 * after `new Worker`; the schema validators are generated code, compiled by `npm run gen`, not by the worker:
 * that took ~0.45 s more before; more from the TypeScript sources), while YAML parses and checks in-thread at
 * ~1 ms per KiB (0.1–0.5 ms for a small file): below ~1 MiB a process whose workers have not started yet
 * would wait longer for them than it saves (3,000 small ConfigMaps, 0.3 MiB, took longer on workers, measured
 * when a worker still compiled its validators). Small commits, tests and reloads that hit the cache parse
 * in-thread.
 */
const POOL_MIN_BYTES = 2 ** 20;

/**
 * A file at least this large goes to a worker whatever the count, so that parsing it does not hold the
 * event loop: the slowest YAML per byte measured (blank lines) took ~1.5 ms of CPU per KiB, so a file
 * below this holds it ~0.1 s at most; a 4 MiB one took 5–25 s.
 */
const POOL_MIN_FILE_BYTES = 64 * 1024;

/** Files per batch sent to a worker (fewer messages; small enough that all workers get work early). */
const POOL_BATCH_FILES = 64;

/** A file admitted for parsing, waiting for its result. */
interface ToParse {
  bytes: Uint8Array;
  oid: string | undefined;
  result?: Promise<CheckedFile>;
}

/**
 * Parses admitted files either in-thread or, once there are enough of them (or a large one), on a
 * ParsePool; results come back through each file's own promise, so they are used in path order whatever
 * the timing.
 */
class Parser {
  readonly #b: SetBuilder;
  readonly #queue: ToParse[] = [];
  readonly #batch: ToParse[] = [];
  #queued = 0;
  #pool: ParsePool | undefined;

  constructor(b: SetBuilder) {
    this.#b = b;
  }

  /** Takes a file to parse; its result is set once it is sent to a worker or parsed (finish()). */
  add(f: ToParse): void {
    if (this.#pool) {
      this.#send(f);
      return;
    }
    this.#queue.push(f);
    this.#queued += f.bytes.byteLength;
    if (this.#queued >= POOL_MIN_BYTES || f.bytes.byteLength >= POOL_MIN_FILE_BYTES) {
      this.#pool = sharedParsePool();
      for (const q of this.#queue.splice(0)) this.#send(q);
    }
  }

  #send(f: ToParse): void {
    this.#batch.push(f);
    if (this.#batch.length >= POOL_BATCH_FILES || f.bytes.byteLength >= POOL_MIN_FILE_BYTES) this.#flush();
  }

  #flush(): void {
    if (this.#batch.length === 0) return;
    const batch = this.#batch.splice(0);
    const checked = this.#pool!.check(
      batch.map((f) => f.bytes),
      this.#b.limits.maxDocumentsPerFile,
    );
    // Every file of a failed batch is rejected with the batch's error; one of them is awaited, the rest handled.
    batch.forEach((f, i) => {
      f.result = checked.then((files) => files[i]!);
      f.result.catch(() => undefined);
    });
  }

  /** Sends the last partial batch; files never sent are parsed in-thread when their turn comes (result()). */
  finish(): void {
    if (this.#pool) this.#flush();
  }

  /** The checked file (a worker's, or checked now in-thread), with the age keys applied when it needs them. */
  async result(f: ToParse): Promise<CheckedFile> {
    const b = this.#b;
    if (!f.result) {
      if (b.age) await b.age.unlock(f.bytes);
      return b.check(f.bytes, f.oid);
    }
    const checked = await f.result;
    // A SOPS file: workers have no age keys, so it is checked again here, with them.
    if (checked.keyDependent && b.age) {
      await b.age.unlock(f.bytes);
      return b.check(f.bytes, f.oid);
    }
    b.store(checked, f.bytes, f.oid);
    return checked;
  }
}

/**
 * Reads and loads the manifests among `files` (see isReadPath), in path order, with a bounded number of
 * reads in flight (opts.concurrency). Symbolic links are SymlinkNotAllowed errors and never read. A file
 * whose oid is cached is not read. A file larger than maxFileBytes is never parsed (a source that knows
 * sizes does not even read it); once the running total passes maxTotalBytes nothing more is read. The
 * event loop gets a turn at least every few milliseconds between files. Errors of the source (a missing
 * Git object, an unreadable file) are thrown.
 *
 * Files are read and admitted in path order first; those to parse are parsed in-thread, or on worker
 * threads when there are many (or a large one: see Parser); then their results are added in path order.
 * Either way the set is the same. A failure of a parse worker is thrown as a CoxError.
 */
export async function readManifestFiles(files: readonly SourceFile[], opts: LoadOptions = {}): Promise<ManifestSet> {
  const b = new SetBuilder(opts);
  const sorted = files.filter((f) => isReadPath(f.path, f.symlink === true)).sort(byPath);
  const window = Math.max(1, Math.floor(opts.concurrency ?? DEFAULT_READ_CONCURRENCY));
  const reads = new Map<number, Promise<Settled>>();
  const needsRead = (f: SourceFile): boolean => !f.symlink && !(f.oid !== undefined && b.cache?.has(f.oid));
  const start = (i: number): Promise<Settled> => {
    let p = reads.get(i);
    if (!p) {
      p = sorted[i]!.read(b.limits.maxFileBytes).then(
        (r) => (r instanceof Uint8Array ? { bytes: r } : { size: r.size }),
        (error: unknown) => ({ error }),
      );
      reads.set(i, p);
    }
    return p;
  };
  let next = 0; // the next index whose read may start
  let lastYield = performance.now();
  const yieldNow = async (): Promise<void> => {
    if (performance.now() - lastYield >= YIELD_AFTER_MS) {
      await new Promise<void>((resolve) => setImmediate(resolve));
      lastYield = performance.now();
    }
  };
  const parser = new Parser(b);
  /** What is added, in path order: a checked file, or a file waiting to be parsed. */
  const adds: { path: string; checked?: CheckedFile; parse?: ToParse; again?: ToParse }[] = [];
  /** The first file of this reading with each oid still to be parsed: a second path with it reuses the result, as the cache would. */
  const parsing = new Map<string, ToParse>();

  for (let i = 0; i < sorted.length; i++) {
    if (b.full) break;
    // Keep up to `window` reads in flight ahead of the file being processed.
    next = Math.max(next, i);
    while (next < sorted.length && next < i + window) {
      if (needsRead(sorted[next]!)) void start(next);
      next++;
    }
    const f = sorted[i]!;
    const remaining = sorted.length - i - 1;
    if (f.symlink) {
      b.symlink(f.path, await f.linkTarget?.().catch(() => undefined));
      continue;
    }
    const hit = b.cached(f.oid);
    if (hit) {
      if (b.admit(f.path, hit.bytes, remaining)) adds.push({ path: f.path, checked: hit });
    } else {
      const r = await start(i);
      reads.delete(i);
      if ("error" in r) throw r.error;
      if ("size" in r) b.admit(f.path, r.size, remaining);
      else if (b.admit(f.path, r.bytes.byteLength, remaining)) {
        const first = f.oid === undefined ? undefined : parsing.get(f.oid);
        if (first) adds.push({ path: f.path, again: { bytes: r.bytes, oid: f.oid } });
        else {
          const toParse: ToParse = { bytes: r.bytes, oid: f.oid };
          if (f.oid !== undefined) parsing.set(f.oid, toParse);
          parser.add(toParse);
          adds.push({ path: f.path, parse: toParse });
        }
      }
    }
    await yieldNow();
  }
  parser.finish();
  for (const a of adds) {
    // A repeated oid is a cache hit once its first path is checked (or parsed again, as it was before
    // workers, when the cache is off or no longer holds it).
    const checked = a.checked ?? (a.parse ? await parser.result(a.parse) : (b.cached(a.again!.oid) ?? (await parser.result(a.again!))));
    b.add(a.path, checked);
    await yieldNow();
  }
  return b.finish();
}
