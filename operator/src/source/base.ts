/**
 * What every part of a GitRepository (source/repository.ts) shares: its options, the locks of its gitdir,
 * isomorphic-git's cache and the pack reader (replaced when a repack removed packs), refs and commits read,
 * objects written, and the damage of a mirror noted for the next refresh.
 */
import { createHash } from "node:crypto";
import { promises as fsp } from "node:fs";
import { join } from "node:path";
import * as git from "isomorphic-git";
import type { ReadCommitResult } from "isomorphic-git";
import { CoxError, isCoxError, toCoxError } from "../api/errors.js";
import { silentLogger, type Logger } from "../api/log.js";
import { isNotFound } from "./errors.js";
import { gitFs as fs } from "./fs.js";
import { KeyedMutex, SharedExclusiveLock } from "./mutex.js";
import { PackReader } from "./packs.js";
import { isDamage } from "./repair.js";
import { readRefValue, updateRefLocked } from "./refs.js";
import { basicAuthHeader, type GitCredentials } from "./url.js";

/** Who coxswain's commits are by. */
const COXSWAIN_IDENTITY = { name: "coxswain", email: "coxswain@localhost" } as const;
/** Default deadline of one HTTP request of a clone, fetch or push. */
const DEFAULT_TIMEOUT_MS = 30_000;
/** How long an object written by us is trusted to still exist without looking (git gc spares unreachable objects for two weeks). */
const KNOWN_OBJECT_TTL_MS = 60 * 60_000;
const MAX_KNOWN_OBJECTS = 200_000;
/** How often reads look for a repack that removed packs (so the cache gets replaced). */
const CACHE_CHECK_MS = 1_000;

/** Locks shared by every Repository object opened on the same gitdir in this process: one writer per repository. */
interface RepoLocks {
  refs: KeyedMutex;
  gate: SharedExclusiveLock;
}
const LOCKS = new Map<string, RepoLocks>();
function locksFor(gitdir: string): RepoLocks {
  let l = LOCKS.get(gitdir);
  if (!l) {
    l = { refs: new KeyedMutex(), gate: new SharedExclusiveLock() };
    LOCKS.set(gitdir, l);
  }
  return l;
}

/** How a GitRepository reaches its objects. */
export interface GitRepositoryOptions {
  /** The real (symlink-free) path of the gitdir. */
  gitdir: string;
  /** For messages: a path or a credential-free URL. */
  location: string;
  /** For a mirror: the credential-free URL of origin. */
  url?: string;
  credentials?: GitCredentials;
  timeoutMs?: number;
  /** For a mirror: also mirror refs/pull/<n>/head and refs/merge-requests/<n>/head on refresh(). */
  pullRequests?: boolean;
  /** Where the repair of a damaged mirror is told (source/repair.ts). */
  log?: Logger;
}

/** The state and internals of a GitRepository; each part (read.ts, raw-trees.ts, commits.ts, notes.ts, fetch.ts) extends it in turn. */
export class RepositoryBase {
  readonly location: string;
  readonly remote: boolean;
  /** The gitdir (bare repository or `.git`). */
  readonly gitdir: string;
  protected readonly headers: Record<string, string>;
  protected readonly timeoutMs: number;
  protected readonly url: string | undefined;
  protected readonly pullRequests: boolean;
  protected readonly locks: RepoLocks;
  protected cache: object = {};
  /** Bulk blob reads (packs.ts); reset with the cache. */
  protected readonly packs: PackReader;
  /** Objects this process wrote or found present, with when: see writeDirectory. */
  protected readonly knownObjects = new Map<string, number>();
  protected knownPacks = new Set<string>();
  protected lastCacheCheck = 0;
  protected readonly stops = new Set<() => Promise<void>>();
  /** A repack needs the git CLI; once it is found missing we stop trying. */
  protected gitCliMissing = false;
  /** For a mirror: why its objects are thought damaged (and what was removed on open); the next refresh() repairs it first. */
  protected damage: { what: string; removed: string[] } | undefined;
  protected readonly options: GitRepositoryOptions;
  protected readonly logger: Logger;

  constructor(opts: GitRepositoryOptions) {
    this.options = opts;
    this.logger = opts.log ?? silentLogger;
    this.gitdir = opts.gitdir;
    this.location = opts.location;
    this.remote = opts.url !== undefined;
    this.url = opts.url;
    this.pullRequests = opts.pullRequests ?? false;
    this.timeoutMs = opts.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    // Credentials go up front in a header: isomorphic-git's onAuth costs a second round trip after a 401.
    this.headers = opts.credentials ? { authorization: basicAuthHeader(opts.credentials) } : {};
    this.locks = locksFor(opts.gitdir);
    this.packs = new PackReader(opts.gitdir);
  }

  /**
   * For a mirror, when `err` says its objects are damaged (or `missing`: an object it must hold is not
   * there): notes the damage for the next refresh() and returns CoxError MirrorCorrupt. Undefined otherwise
   * (on disk the user's repository is never repaired by coxswain).
   */
  protected damaged(err: unknown, what: string, missing = false): CoxError | undefined {
    if (!this.remote || isCoxError(err) || !(missing || isDamage(err))) return undefined;
    this.damage ??= { what, removed: [] };
    return new CoxError(
      "MirrorCorrupt",
      `the mirror of ${this.location} is damaged: ${what}${
        err instanceof Error
          ? ` (${err.message
              .replace(/^[\s\S]*this error message: /, "")
              .split("\n", 1)[0]!
              .slice(0, 200)})`
          : ""
      }; it is repaired from the remote on the next fetch`,
      { cause: err, details: { what } },
    );
  }

  protected async packNames(): Promise<Set<string>> {
    try {
      return new Set((await fsp.readdir(join(this.gitdir, "objects", "pack"))).filter((n) => n.endsWith(".pack")));
    } catch {
      return new Set();
    }
  }

  protected renewCache(packs: Set<string>): void {
    this.cache = {};
    this.packs.reset();
    this.knownPacks = packs;
    this.knownObjects.clear(); // after a repack, look again before trusting an object to exist
  }

  /**
   * The cache holds parsed pack indexes and never shrinks. When a repack (ours, or the git CLI's in a
   * repository on disk) removed packs, start a new cache. Checked at most once a second.
   */
  protected async checkCache(): Promise<void> {
    const now = Date.now();
    if (now - this.lastCacheCheck < CACHE_CHECK_MS) return;
    this.lastCacheCheck = now;
    const packs = await this.packNames();
    for (const p of this.knownPacks) {
      if (!packs.has(p)) {
        this.renewCache(packs);
        return;
      }
    }
    // New packs (a fetch): isomorphic-git finds them itself; the pack reader opens its list again.
    if (packs.size !== this.knownPacks.size) this.packs.reset();
    this.knownPacks = packs;
  }

  /** Runs a read; when it fails because a pack vanished under it (a concurrent repack), retries once with a new cache. */
  protected async withFreshCacheRetry<T>(fn: () => Promise<T>): Promise<T> {
    await this.checkCache();
    try {
      return await fn();
    } catch (err) {
      if (err instanceof CoxError) throw err;
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== "ENOENT" && code !== "NotFoundError") throw err;
      // Retry only when the packs changed under us (most "not found" answers are just that: a missing path).
      const packs = await this.packNames();
      if (packs.size === this.knownPacks.size && [...packs].every((p) => this.knownPacks.has(p))) throw err;
      this.renewCache(packs);
      return fn();
    }
  }

  protected async readRef(ref: string): Promise<string | undefined> {
    try {
      return await readRefValue(this.gitdir, ref);
    } catch (err) {
      throw toCoxError(err, "GitFetchFailed");
    }
  }

  protected async tryReadCommit(oid: string): Promise<ReadCommitResult | undefined> {
    try {
      return await this.withFreshCacheRetry(() => git.readCommit({ fs, gitdir: this.gitdir, cache: this.cache, oid }));
    } catch (err) {
      if (isNotFound(err) || (err as { code?: string }).code === "ObjectTypeError") return undefined;
      throw this.damaged(err, `commit ${oid} cannot be read`) ?? err;
    }
  }

  protected async mustReadCommit(oid: string): Promise<ReadCommitResult> {
    const c = await this.tryReadCommit(oid);
    if (!c) throw missingObject("commit", oid, this.location);
    return c;
  }

  /** The oid of an object with this content; writes it (atomically) unless it was written or seen recently. */
  protected async ensureObject(type: "blob" | "tree", body: Buffer): Promise<string> {
    const oid = createHash("sha1").update(`${type} ${body.length}\0`).update(body).digest("hex");
    const seen = this.knownObjects.get(oid);
    if (seen !== undefined && Date.now() - seen < KNOWN_OBJECT_TTL_MS) return oid;
    const written = await git.writeObject({ fs, gitdir: this.gitdir, type, object: body, format: "content" });
    if (written !== oid) throw new CoxError("StatusWriteFailed", `writing a ${type} gave ${written}, expected ${oid}`);
    if (this.knownObjects.size >= MAX_KNOWN_OBJECTS) this.knownObjects.clear();
    this.knownObjects.set(oid, Date.now());
    return oid;
  }

  protected async writeCommitObject(tree: string, parents: string[], message: string): Promise<string> {
    const who = { ...COXSWAIN_IDENTITY, timestamp: Math.floor(Date.now() / 1000), timezoneOffset: 0 };
    return git.writeCommit({
      fs,
      gitdir: this.gitdir,
      commit: { tree, parent: parents, author: who, committer: who, message: message.endsWith("\n") ? message : `${message}\n` },
    });
  }

  protected async moveRef(ref: string, newOid: string, expected: string | undefined): Promise<void> {
    await updateRefLocked({ gitdir: this.gitdir, ref, newOid, expected, current: () => this.readRef(ref) });
  }
}

/** Orders by path in code-unit order. */
export function byPath(a: { path: string }, b: { path: string }): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

/** CoxError GitFetchFailed: an object is not in the repository (yet). */
export function missingObject(kind: string, oid: string, location: string, cause?: unknown): CoxError {
  // Transient: in a mirror, the next fetch may bring it.
  return new CoxError("GitFetchFailed", `${kind} ${oid} is not in ${location}`, { cause, details: { oid } });
}
