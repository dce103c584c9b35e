/**
 * One Git repository, reached through isomorphic-git: a gitdir on disk (the user's repository, opened in
 * place) or a bare mirror of a remote one under the state dir. Implements GitReader, GitWriter and
 * Repository (source/types.ts) with isomorphic-git's pitfalls (measured on these machines) kept in mind:
 * - one `cache` object per repository passed to every call, replaced when a repack removed packs;
 * - every network call goes through an HTTP client with a per-request deadline (GitTimeout);
 * - fetch moves refs/remotes/origin/*, never local branches;
 * - one writer per repository (process-wide, keyed by the real gitdir) with a per-ref mutex, and ref
 *   updates under git's own `.lock` protocol so the git CLI can write other refs concurrently;
 * - diffs walk both trees together and never read a subtree whose oid is equal on both sides.
 */
import { execFile } from "node:child_process";
import { createHash, randomBytes } from "node:crypto";
import { promises as fsp } from "node:fs";
import { dirname, join, sep } from "node:path";
import * as git from "isomorphic-git";
import type { ReadCommitResult, TreeEntry } from "isomorphic-git";
import { CoxError, isCoxError, toCoxError } from "../api/errors.js";
import { silentLogger, type Logger } from "../api/log.js";
import { isNotFound, mapNetworkError, type GitNetworkOp } from "./errors.js";
import { gitFs as fs } from "./fs.js";
import { timedHttpClient } from "./http.js";
import { KeyedMutex, SharedExclusiveLock } from "./mutex.js";
import { PackReader } from "./packs.js";
import { checkObjects, isDamage } from "./repair.js";
import { assertRefName, deleteRefLocked, listRefValues, readRefValue, refGlob, updateRefLocked } from "./refs.js";
import { editSegments, entryType, parseTreeObject, serializeTreeObject, type RawTreeEntry, type TreeEdit } from "./trees.js";
import type { CommitInfo, FileChange, GitReader, GitWriter, ProposalRef, RepoFile, Repository, TreeEntryChange, TreeFile, TreeItem, WatchHandle, WatchOptions } from "./types.js";
import { basicAuthHeader, type GitCredentials } from "./url.js";
import { watchRepository } from "./watch.js";

/** The tree every repository knows (git special-cases it; so does isomorphic-git). */
const EMPTY_TREE = "4b825dc642cb6eb9a060e54bf8d69288fbee4904";
/** Who coxswain's commits are by. */
const COXSWAIN_IDENTITY = { name: "coxswain", email: "coxswain@localhost" } as const;
/** Default deadline of one HTTP request of a clone, fetch or push. */
const DEFAULT_TIMEOUT_MS = 30_000;
/** A mirror is repacked (git CLI, when available) once it holds this many packs: each fetch adds one. */
const REPACK_AFTER_PACKS = 32;
/** Mutex key that serializes fetches (never a ref name: those start with "refs/"). */
const FETCH_KEY = "fetch:";
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

/** The pull/merge request heads mirrored when asked: GitHub and Gitea (pull), GitLab (merge-requests). */
const PULL_REF = /^refs\/(pull|merge-requests)\/([0-9]+)\/head$/;

/** A Git repository on disk or a mirror of a remote one. Create it through openRepository (source/index.ts). */
export class GitRepository implements Repository, GitReader, GitWriter {
  readonly location: string;
  readonly remote: boolean;
  readonly reader: GitReader;
  readonly writer: GitWriter;
  /** The gitdir (bare repository or `.git`). */
  readonly gitdir: string;
  private readonly headers: Record<string, string>;
  private readonly timeoutMs: number;
  private readonly url: string | undefined;
  private readonly pullRequests: boolean;
  private readonly locks: RepoLocks;
  private cache: object = {};
  /** Bulk blob reads (packs.ts); reset with the cache. */
  private readonly packs: PackReader;
  /** Objects this process wrote or found present, with when: see writeDirectory. */
  private readonly knownObjects = new Map<string, number>();
  private knownPacks = new Set<string>();
  private lastCacheCheck = 0;
  private readonly stops = new Set<() => Promise<void>>();
  /** A repack needs the git CLI; once it is found missing we stop trying. */
  private gitCliMissing = false;
  /** For a mirror: why its objects are thought damaged (and what was removed on open); the next refresh() repairs it first. */
  private damage: { what: string; removed: string[] } | undefined;
  private readonly options: GitRepositoryOptions;
  private readonly logger: Logger;

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
    this.reader = this;
    this.writer = this;
  }

  // ---------------------------------------------------------------- reading

  /**
   * Resolves to a commit oid. A full oid is checked to exist; "refs/…" is taken as is; a short name is
   * looked up as refs/heads/, refs/tags/, refs/remotes/ on disk. In a mirror, the remote's branches come
   * first: "main" and "refs/heads/main" resolve to refs/remotes/origin/main (the mirror has no local
   * copies of the remote's branches; its own refs/heads/* are coxswain's, e.g. the status branch), then
   * our local refs. Annotated tags are peeled. Undefined when nothing matches.
   */
  async resolve(ref: string): Promise<string | undefined> {
    const candidates: string[] = [];
    if (/^[0-9a-f]{40}$/.test(ref)) candidates.push(ref);
    else if (this.remote) {
      if (ref === "HEAD") candidates.push("refs/remotes/origin/HEAD");
      else if (ref.startsWith("refs/heads/")) candidates.push(`refs/remotes/origin/${ref.slice("refs/heads/".length)}`, ref);
      else if (ref.startsWith("refs/")) candidates.push(ref);
      else candidates.push(`refs/remotes/origin/${ref}`, `refs/heads/${ref}`, `refs/tags/${ref}`);
    } else if (ref.startsWith("refs/") || ref === "HEAD") candidates.push(ref);
    else candidates.push(`refs/heads/${ref}`, `refs/tags/${ref}`, `refs/remotes/${ref}`);
    for (const candidate of candidates) {
      const oid = /^[0-9a-f]{40}$/.test(candidate) ? candidate : await this.readRef(candidate);
      if (oid === undefined) continue;
      const commit = await this.tryReadCommit(oid);
      if (commit) return commit.oid;
    }
    return undefined;
  }

  /** The commit's metadata; CoxError GitFetchFailed when the object is not in the repository (yet). */
  async readCommit(oid: string): Promise<CommitInfo> {
    const c = await this.mustReadCommit(oid);
    return toCommitInfo(c);
  }

  /** Every blob under dir at commit, recursively, sorted by path (code-unit order); links are marked, submodules skipped. */
  async listFiles(commit: string, dir: string): Promise<RepoFile[]> {
    const prefix = normalizeDir(dir);
    const tree = await this.dirTree(commit, prefix);
    if (tree === undefined) throw pathNotFound(commit, prefix, this.location);
    const out: RepoFile[] = [];
    await this.collectBlobs(tree, prefix, out);
    return out.sort(byPath);
  }

  /**
   * A blob's bytes; CoxError GitFetchFailed when it is missing. Read by the pack reader (packs.ts, about ten
   * times faster in bulk) when it can answer; otherwise, and on anything it finds wrong, by isomorphic-git,
   * which says what is missing or corrupt.
   */
  async readBlob(oid: string): Promise<Uint8Array> {
    await this.checkCache();
    const fast = await this.packs.read(oid).catch(() => undefined);
    if (fast?.type === "blob") return fast.data;
    try {
      const { blob } = await this.withFreshCacheRetry(() => git.readBlob({ fs, gitdir: this.gitdir, cache: this.cache, oid }));
      return blob;
    } catch (err) {
      // A blob a tree names is part of what the mirror fetched: missing, the mirror lost it.
      if (isNotFound(err)) throw this.damaged(err, `blob ${oid} is missing`) ?? missingObject("blob", oid, this.location, err);
      throw this.damaged(err, `blob ${oid} cannot be read`) ?? err;
    }
  }

  /**
   * A blob's bytes, or only its { size } when that is above maxBytes and the object's header tells it
   * (PackReader.size): a blob too large to read is never inflated.
   */
  async readBlobBounded(oid: string, maxBytes: number): Promise<Uint8Array | { size: number }> {
    await this.checkCache();
    const size = await this.packs.size(oid).catch(() => undefined);
    if (size !== undefined && size > maxBytes) return { size };
    return this.readBlob(oid);
  }

  /**
   * Paths under dir whose blob differs between `from` and `to`, sorted by path. Walks both trees at dir
   * together and skips every subtree whose oid is equal on both sides, so a one-file change reads only the
   * trees on its path. A directory that exists on one side only yields all-added or all-deleted; missing on both
   * sides is PathNotFound. Mode-only changes are not content changes and are not reported.
   */
  async changedFiles(from: string, to: string, dir: string): Promise<FileChange[]> {
    const prefix = normalizeDir(dir);
    const [a, b] = await Promise.all([this.dirTree(from, prefix), this.dirTree(to, prefix)]);
    if (a === undefined && b === undefined) throw pathNotFound(`${from} or ${to}`, prefix, this.location);
    if (a === b) return [];
    const out: FileChange[] = [];
    await this.diffTrees(a, b, prefix === "" ? "" : `${prefix}/`, out);
    return out.sort(byPath);
  }

  /**
   * Compares two trees entry by entry and descends only into subtrees whose oids differ, so only the trees
   * on changed paths are read. (isomorphic-git's walk() skips equal subtrees too when map returns null,
   * but it reads every child tree of a changed directory before map can decide: 44 ms against 2–3 ms
   * here for a one-file change in a 5,000-file repository; see test/bench/git.bench.ts.)
   */
  private async diffTrees(a: string | undefined, b: string | undefined, base: string, out: FileChange[]): Promise<void> {
    if (a === b) return;
    const [ta, tb] = await Promise.all([a ? this.readTreeOf(a) : [], b ? this.readTreeOf(b) : []]);
    const before = new Map(ta.map((e) => [e.path, e]));
    const after = new Map(tb.map((e) => [e.path, e]));
    const subtrees: Promise<void>[] = [];
    for (const name of new Set([...before.keys(), ...after.keys()])) {
      const x = before.get(name);
      const y = after.get(name);
      if (x && y && x.oid === y.oid && x.type === y.type) continue; // equal blob, or equal subtree: skipped
      const xb = x?.type === "blob" ? x.oid : undefined;
      const yb = y?.type === "blob" ? y.oid : undefined;
      if (xb !== yb) {
        const change: FileChange = { path: base + name };
        if (xb !== undefined) change.before = xb;
        if (yb !== undefined) change.after = yb;
        out.push(change);
      }
      const xt = x?.type === "tree" ? x.oid : undefined;
      const yt = y?.type === "tree" ? y.oid : undefined;
      if (xt !== undefined || yt !== undefined) subtrees.push(this.diffTrees(xt, yt, `${base}${name}/`, out));
    }
    await Promise.all(subtrees);
  }

  /** Up to `limit` commits reachable from ref, newest first (by committer date, as isomorphic-git walks). */
  async log(ref: string, limit: number): Promise<CommitInfo[]> {
    const oid = await this.resolve(ref);
    if (oid === undefined) throw new CoxError("BranchNotFound", `${ref} does not exist in ${this.location}`, { requeueAfterMs: 5_000, details: { ref } });
    if (limit <= 0) return [];
    const commits = await this.withFreshCacheRetry(() => git.log({ fs, gitdir: this.gitdir, cache: this.cache, ref: oid, depth: limit }));
    return commits.slice(0, limit).map(toCommitInfo);
  }

  /** True when ancestor is descendant or reachable from it. */
  async isAncestor(ancestor: string, descendant: string): Promise<boolean> {
    if (ancestor === descendant) return true;
    await Promise.all([this.mustReadCommit(ancestor), this.mustReadCommit(descendant)]);
    return this.withFreshCacheRetry(() => git.isDescendent({ fs, gitdir: this.gitdir, cache: this.cache, oid: descendant, ancestor, depth: -1 }));
  }

  // ---------------------------------------------------------------- writing

  /**
   * Builds a tree from flat "a/b/c.yaml" paths (blob and tree objects only, no work tree), commits it as
   * coxswain on top of `parent` (undefined = the ref's tip or a root commit, null = a root commit) and
   * moves `ref` there under the ref's mutex and git's lock protocol. Undefined, and no commit, when the
   * tree equals the parent's tree.
   */
  async commitFiles(opts: { ref: string; files: readonly TreeFile[]; message: string; parent?: string | null }): Promise<string | undefined> {
    assertRefName(opts.ref);
    const root = buildDirectory(opts.files);
    return this.locks.refs.run(opts.ref, () =>
      this.locks.gate.shared(async () => {
        const current = await this.readRef(opts.ref);
        const parent = opts.parent === undefined ? current : (opts.parent ?? undefined);
        const tree = await this.writeDirectory(root);
        if (parent !== undefined) {
          const p = await this.mustReadCommit(parent);
          if (p.commit.tree === tree) {
            // Same content as the parent. If the caller rebased us onto another parent, the ref still moves there.
            if (current !== parent) await this.moveRef(opts.ref, parent, current);
            return undefined;
          }
        }
        const oid = await this.writeCommitObject(tree, parent === undefined ? [] : [parent], opts.message);
        await this.moveRef(opts.ref, oid, current);
        return oid;
      }),
    );
  }

  /** The text files under dir in a commit (or a ref), sorted by path; PathNotFound when dir is missing. */
  async readFiles(commit: string, dir: string): Promise<TreeFile[]> {
    const oid = /^[0-9a-f]{40}$/.test(commit) ? commit : await this.resolve(commit);
    if (oid === undefined) throw new CoxError("BranchNotFound", `${commit} does not exist in ${this.location}`, { requeueAfterMs: 5_000 });
    const files = await this.listFiles(oid, dir);
    const decoder = new TextDecoder();
    return Promise.all(files.map(async (f) => ({ path: f.path, content: decoder.decode(await this.readBlob(f.oid)) })));
  }

  /**
   * Sets the note on `commit` under notesRef, replacing an earlier one; no new notes commit when the text
   * is unchanged. Notes are stored flat (one entry per annotated commit at the tree root), as
   * isomorphic-git's addNote does. Caveat: the git CLI switches a notes tree to fan-out (ab/cdef…) once it
   * holds ~256 notes; we read fan-out entries (readNote) but always write flat, so keep notes to small
   * per-commit markers and the real record on the status branch.
   */
  async setNote(notesRef: string, commit: string, text: string): Promise<void> {
    assertRefName(notesRef);
    const body = text.endsWith("\n") ? text : `${text}\n`;
    await this.locks.refs.run(notesRef, () =>
      this.locks.gate.shared(async () => {
        const current = await this.readRef(notesRef);
        if (current !== undefined && (await this.readNoteAt(current, commit)) === body) return;
        const entries: TreeEntry[] = current === undefined ? [] : (await this.readTreeOf(current)).filter((e) => e.path !== commit);
        const blob = await git.writeBlob({ fs, gitdir: this.gitdir, blob: new TextEncoder().encode(body) });
        entries.push({ mode: "100644", path: commit, oid: blob, type: "blob" });
        const tree = await git.writeTree({ fs, gitdir: this.gitdir, tree: entries });
        const oid = await this.writeCommitObject(tree, current === undefined ? [] : [current], "Notes added by 'git notes add'\n");
        await this.moveRef(notesRef, oid, current);
      }),
    );
  }

  /** The note on commit under notesRef (flat or fan-out layout), without the trailing newline git adds. */
  async readNote(notesRef: string, commit: string): Promise<string | undefined> {
    const tip = await this.readRef(notesRef);
    if (tip === undefined) return undefined;
    const text = await this.readNoteAt(tip, commit);
    return text === undefined ? undefined : text.replace(/\n$/, "");
  }

  /**
   * For a mirror: pushes each ref to the same name on origin. Non-fast-forward (someone moved the remote
   * ref) or a refused update → GitPushRejected; also GitAuthFailed, GitTimeout, GitFetchFailed.
   * No-op for a repository on disk (our refs are already where everyone reads them).
   */
  async push(refs: readonly string[]): Promise<void> {
    if (!this.remote) return;
    for (const ref of [...refs].sort()) {
      assertRefName(ref);
      // Shared gate: a push reads packs, which a repack of the mirror must not delete under it.
      await this.locks.refs.run(`push:${ref}`, () =>
        this.locks.gate.shared(() => this.network("push", ref, (http) => git.push({ fs, http, gitdir: this.gitdir, cache: this.cache, remote: "origin", ref, remoteRef: ref, headers: { ...this.headers } }))),
      );
    }
  }

  /** The local tip of a full ref name. */
  async tip(ref: string): Promise<string | undefined> {
    return this.readRef(ref);
  }

  /** For a mirror: fetches one ref from origin and returns the remote's tip (undefined when absent); see types.ts. */
  async fetchRemoteRef(ref: string): Promise<string | undefined> {
    if (!this.remote) return undefined;
    assertRefName(ref);
    // One fetch at a time per repository (refresh() takes the same key): both write packs and remote refs.
    return this.locks.refs.run(FETCH_KEY, () =>
      this.locks.gate.shared(() =>
        this.network("fetch", ref, async (http) => {
          try {
            const res = await git.fetch({
              fs,
              http,
              gitdir: this.gitdir,
              cache: this.cache,
              remote: "origin",
              ref,
              remoteRef: ref,
              singleBranch: true,
              tags: false,
              headers: { ...this.headers },
            });
            return res.fetchHead ?? undefined;
          } catch (err) {
            if (isNotFound(err)) return undefined; // the remote has no such ref
            throw err;
          }
        }),
      ),
    );
  }

  /** Moves one of our refs to oid (which must be a commit we have). */
  async setRef(ref: string, oid: string): Promise<void> {
    assertRefName(ref);
    await this.mustReadCommit(oid);
    await this.locks.refs.run(ref, () =>
      this.locks.gate.shared(async () => {
        const current = await this.readRef(ref);
        if (current !== oid) await this.moveRef(ref, oid, current);
      }),
    );
  }

  // ---------------------------------------------------------------- trees (byte-exact commits)

  /** The root tree oid of a commit. */
  async treeOf(commit: string): Promise<string> {
    return (await this.mustReadCommit(commit)).commit.tree;
  }

  /** A tree's entries as stored (modes and names not normalized), in git's order; `oid` may name a commit. */
  async readTreeEntries(oid: string): Promise<TreeItem[]> {
    return (await this.readRawTree(oid)).map((e) => ({ path: e.name.toString("utf8"), mode: e.mode, oid: e.oid, type: entryType(e.mode) }));
  }

  /** The entry at `path` ("a/b.yaml") in a tree (or a commit's tree); undefined when there is none. */
  async entryAt(treeOrCommit: string, path: string): Promise<TreeItem | undefined> {
    const segments = editSegments(path);
    let tree = treeOrCommit;
    for (const [i, segment] of segments.entries()) {
      const name = Buffer.from(segment, "utf8");
      const e = (await this.readRawTree(tree)).find((x) => x.name.equals(name));
      if (!e) return undefined;
      if (i === segments.length - 1) return { path, mode: e.mode, oid: e.oid, type: entryType(e.mode) };
      if (entryType(e.mode) !== "tree") return undefined;
      tree = e.oid;
    }
    return undefined;
  }

  /**
   * Every path whose entry differs between two trees (or commits): content, mode or type; subtrees with
   * equal oids are skipped. Sorted by path. A path that is a file on one side and a directory on the other
   * yields the file's change and every file of the directory.
   */
  async diffTreeEntries(from: string | undefined, to: string | undefined): Promise<TreeEntryChange[]> {
    const out: TreeEntryChange[] = [];
    const [a, b] = await Promise.all([from === undefined ? undefined : this.rootTree(from), to === undefined ? undefined : this.rootTree(to)]);
    await this.diffRaw(a, b, "", out);
    return out.sort(byPath);
  }

  private async diffRaw(a: string | undefined, b: string | undefined, base: string, out: TreeEntryChange[]): Promise<void> {
    if (a === b) return;
    const [ta, tb] = await Promise.all([a ? this.readRawTree(a) : [], b ? this.readRawTree(b) : []]);
    const key = (e: RawTreeEntry): string => e.name.toString("latin1");
    const before = new Map(ta.map((e) => [key(e), e]));
    const after = new Map(tb.map((e) => [key(e), e]));
    const subtrees: Promise<void>[] = [];
    for (const k of new Set([...before.keys(), ...after.keys()])) {
      const x = before.get(k);
      const y = after.get(k);
      const name = (x ?? y)!.name.toString("utf8");
      if (x && y && x.oid === y.oid && x.mode === y.mode) continue;
      const xt = x && entryType(x.mode) === "tree" ? x : undefined;
      const yt = y && entryType(y.mode) === "tree" ? y : undefined;
      const xf = x && !xt ? x : undefined;
      const yf = y && !yt ? y : undefined;
      if (xf || yf) {
        const change: TreeEntryChange = { path: base + name };
        if (xf) change.before = { oid: xf.oid, mode: xf.mode };
        if (yf) change.after = { oid: yf.oid, mode: yf.mode };
        if (!(xf && yf && xf.oid === yf.oid && xf.mode === yf.mode)) out.push(change);
      }
      if (xt || yt) subtrees.push(this.diffRaw(xt?.oid, yt?.oid, `${base}${name}/`, out));
    }
    await Promise.all(subtrees);
  }

  /** Stores a blob (under the object gate, as trees are) and returns its oid. */
  async writeBlob(content: Uint8Array): Promise<string> {
    return this.locks.gate.shared(() => this.ensureObject("blob", Buffer.from(content.buffer, content.byteOffset, content.byteLength)));
  }

  /**
   * Writes the tree that results from applying `edits` to `base` (a tree or commit oid; undefined = the
   * empty tree) and returns its oid. Only the trees on edited paths are rewritten; every other entry keeps
   * its bytes (mode, name, oid). A directory left empty disappears, as git cannot store one.
   */
  async editTree(base: string | undefined, edits: readonly TreeEdit[]): Promise<string> {
    interface Node {
      entry?: { oid: string; mode: string } | null;
      children: Map<string, Node>;
    }
    const root: Node = { children: new Map() };
    for (const edit of edits) {
      let node = root;
      const segments = editSegments(edit.path);
      for (const [i, segment] of segments.entries()) {
        let child = node.children.get(segment);
        if (!child) node.children.set(segment, (child = { children: new Map() }));
        if (i === segments.length - 1) {
          if (child.entry !== undefined || child.children.size > 0) throw new CoxError("InvalidArgument", `tree edit ${JSON.stringify(edit.path)} is given twice or is also a directory`);
          child.entry = edit.entry ?? null;
        } else if (child.entry !== undefined) {
          throw new CoxError("InvalidArgument", `tree edit ${JSON.stringify(edit.path)} needs ${JSON.stringify(segments.slice(0, i + 1).join("/"))} as a directory, but it is edited as a file`);
        }
        node = child;
      }
    }
    const apply = async (tree: string | undefined, node: Node): Promise<string | undefined> => {
      const entries = new Map<string, RawTreeEntry>();
      for (const e of tree ? await this.readRawTree(tree) : []) entries.set(e.name.toString("latin1"), e);
      for (const [segment, child] of node.children) {
        const name = Buffer.from(segment, "utf8");
        const k = name.toString("latin1");
        const existing = entries.get(k);
        if (child.entry !== undefined) {
          if (child.entry === null) entries.delete(k);
          else entries.set(k, { mode: child.entry.mode, name, oid: child.entry.oid });
          continue;
        }
        const sub = existing && entryType(existing.mode) === "tree" ? existing.oid : undefined;
        const next = await apply(sub, child);
        if (next === undefined) entries.delete(k);
        else entries.set(k, { mode: sub !== undefined ? existing!.mode : "40000", name, oid: next });
      }
      if (entries.size === 0) return undefined;
      return this.ensureObject("tree", serializeTreeObject([...entries.values()]));
    };
    return this.locks.gate.shared(async () => (await apply(base === undefined ? undefined : await this.rootTree(base), root)) ?? (await this.ensureObject("tree", Buffer.alloc(0))));
  }

  /**
   * Commits `tree` with `parents` as coxswain and moves `ref` there — only if `ref` still points at
   * `expected` (undefined: must not exist), and only as a fast-forward (`expected` must be one of the
   * parents). Runs under the ref's mutex and git's lock-file protocol, so neither another coxswain writer
   * nor the git CLI can interleave. When the ref moved meanwhile: CoxError GitPushRejected (details:
   * expected, found) — rebuild on the new tip and try again.
   */
  async commitTree(opts: { ref: string; tree: string; parents: readonly string[]; message: string; expected: string | undefined }): Promise<string> {
    assertRefName(opts.ref);
    if (opts.expected !== undefined && !opts.parents.includes(opts.expected)) {
      throw new CoxError("InvalidArgument", `commit on ${opts.ref} would not fast-forward it: ${opts.expected} is not among its parents`);
    }
    return this.locks.refs.run(opts.ref, () =>
      this.locks.gate.shared(async () => {
        const current = await this.readRef(opts.ref);
        if (current !== opts.expected) throw refMoved(opts.ref, opts.expected, current);
        for (const p of opts.parents) await this.mustReadCommit(p);
        const oid = await this.writeCommitObject(opts.tree, [...opts.parents], opts.message);
        try {
          await this.moveRef(opts.ref, oid, opts.expected);
        } catch (err) {
          if (isCoxError(err, "StatusWriteFailed") && err.details && "found" in err.details) {
            throw refMoved(opts.ref, opts.expected, err.details.found as string | undefined);
          }
          throw err;
        }
        return oid;
      }),
    );
  }

  /**
   * For a mirror: pushes our local ref `localRef` to `remoteRef` on origin (fast-forward only) and, on
   * success, moves the mirror's copy of it (refs/remotes/origin/<branch>). Non-fast-forward →
   * GitPushRejected; also GitAuthFailed, GitTimeout, GitFetchFailed. No-op on disk.
   */
  async pushRef(localRef: string, remoteRef: string): Promise<void> {
    if (!this.remote) return;
    assertRefName(localRef);
    assertRefName(remoteRef);
    // Serialized with fetches: both write refs/remotes/origin/*.
    await this.locks.refs.run(FETCH_KEY, () =>
      this.locks.gate.shared(() => this.network("push", remoteRef, (http) => git.push({ fs, http, gitdir: this.gitdir, cache: this.cache, remote: "origin", ref: localRef, remoteRef, headers: { ...this.headers } }))),
    );
  }

  /**
   * Where `ref` (refs/heads/<b>) is checked out: the work tree of a non-bare repository whose HEAD names
   * it, or a linked worktree's (gitdir/worktrees/<w>/HEAD). Undefined when no work tree has it checked
   * out (a bare repository, a mirror, or another branch checked out).
   */
  async checkedOutAt(ref: string): Promise<string | undefined> {
    if (this.remote) return undefined;
    const headOf = async (dir: string): Promise<string | undefined> => {
      const text = await fsp.readFile(join(dir, "HEAD"), "utf8").catch(() => undefined);
      const m = /^ref:\s*(\S+)\s*$/.exec(text ?? "");
      return m?.[1];
    };
    const bare = await git.getConfig({ fs, gitdir: this.gitdir, path: "core.bare" }).catch(() => undefined);
    const isBare = bare === true || bare === "true" || (bare === undefined && !this.gitdir.endsWith(`${sep}.git`));
    if (!isBare && (await headOf(this.gitdir)) === ref) return dirname(this.gitdir);
    let worktrees: string[] = [];
    try {
      worktrees = await fsp.readdir(join(this.gitdir, "worktrees"));
    } catch {
      // no linked worktrees
    }
    for (const w of worktrees.sort()) {
      const dir = join(this.gitdir, "worktrees", w);
      if ((await headOf(dir)) !== ref) continue;
      const where = await fsp.readFile(join(dir, "gitdir"), "utf8").catch(() => "");
      return where.trim() ? dirname(where.trim()) : dir;
    }
    return undefined;
  }

  private async rootTree(oid: string): Promise<string> {
    const { type } = await this.readObjectContent(oid);
    return type === "tree" ? oid : this.treeOf(oid);
  }

  private async readRawTree(oid: string): Promise<RawTreeEntry[]> {
    const { type, object } = await this.readObjectContent(oid);
    if (type === "commit") return this.readRawTree(await this.treeOf(oid));
    if (type !== "tree") throw new CoxError("InvalidArgument", `${oid} is a ${type}, expected a tree or a commit`);
    return parseTreeObject(object);
  }

  private async readObjectContent(oid: string): Promise<{ type: string; object: Uint8Array }> {
    if (oid === EMPTY_TREE) return { type: "tree", object: new Uint8Array(0) };
    try {
      const r = await this.withFreshCacheRetry(() => git.readObject({ fs, gitdir: this.gitdir, cache: this.cache, oid, format: "content" }));
      return { type: r.type, object: r.object as Uint8Array };
    } catch (err) {
      if (isNotFound(err)) throw missingObject("object", oid, this.location, err);
      throw this.damaged(err, `object ${oid} cannot be read`) ?? err;
    }
  }

  // ---------------------------------------------------------------- remote and watching

  /**
   * For a mirror: fetches every branch and tag of origin into refs/remotes/origin/* and refs/tags/*
   * (pruning branches deleted there); the local refs (coxswain's) never move. Then repacks when fetches
   * have piled up packs. No-op on disk.
   */
  async refresh(): Promise<void> {
    if (!this.remote) return;
    await this.locks.refs.run(FETCH_KEY, async () => {
      if (this.damage !== undefined) await this.repair();
      const fetch = () =>
        this.locks.gate.shared(async () => {
          await this.fetchAll();
          if (this.pullRequests) await this.fetchPullRequests();
        });
      try {
        await fetch();
      } catch (err) {
        // The fetch itself found the damage (isomorphic-git reads the packs to tell the server what we have).
        if (!isCoxError(err, "MirrorCorrupt")) throw err;
        await this.repair();
        await fetch();
      }
      await this.maybeRepack();
    });
  }

  /**
   * Repairs a damaged mirror (called under the fetch key): fetches the whole remote afresh into a sibling
   * directory — no object of ours is trusted to negotiate with —, then checks every object on disk, removes
   * the damaged ones (source/repair.ts) and moves the fresh packs in, so that every object of every remote ref
   * is back, then points a ref of ours (the status branch, notes) that names a commit now unreadable at the
   * remote's copy, or removes it (the status writer rebuilds it). A failed fetch leaves the damage noted for
   * the next refresh. What runs is not touched: only the mirror's files change.
   */
  private async repair(): Promise<void> {
    const why = this.damage?.what ?? "a fetch found damaged objects";
    const removedBefore = this.damage?.removed ?? [];
    const started = performance.now();
    const tmp = `${this.gitdir}.repair-${process.pid}-${randomBytes(4).toString("hex")}`;
    try {
      // The remote in full, beside the mirror: status writes go on meanwhile (the gate is taken only to move it in).
      await git.init({ fs, dir: tmp, bare: true, defaultBranch: "main" });
      await git.setConfig({ fs, gitdir: tmp, path: "remote.origin.url", value: this.url! });
      await git.setConfig({ fs, gitdir: tmp, path: "remote.origin.fetch", value: "+refs/heads/*:refs/remotes/origin/*" });
      await new GitRepository({ ...this.options, gitdir: tmp, pullRequests: false }).initialFetch();
      const check = await this.locks.gate.exclusive(async () => {
        const check = await checkObjects(this.gitdir, { loose: "full" });
        const packDir = join(this.gitdir, "objects", "pack");
        await fsp.mkdir(packDir, { recursive: true });
        const fresh = await fsp.readdir(join(tmp, "objects", "pack")).catch(() => [] as string[]);
        // Index after pack: a reader never sees an index whose pack is not there yet.
        for (const name of [...fresh.filter((n) => n.endsWith(".pack")), ...fresh.filter((n) => !n.endsWith(".pack"))]) {
          await fsp.rename(join(tmp, "objects", "pack", name), join(packDir, name));
        }
        this.renewCache(await this.packNames());
        return check;
      });
      // Outside the exclusive gate: a ref's mutex is taken before the gate elsewhere (commitFiles).
      const moved = await this.resetUnreadableRefs();
      this.damage = undefined;
      const removed = [...removedBefore, ...check.removed];
      this.logger.warn(
        `source: the mirror of ${this.location} was damaged (${why}): ${removed.length} damaged file(s) removed` +
          `${removed.length ? ` (${removed.slice(0, 5).join(", ")}${removed.length > 5 ? ", …" : ""})` : ""}, ` +
          `the remote fetched again in full${moved.length ? `, ${moved.join(", ")}` : ""} in ${Math.round(performance.now() - started)} ms; what runs was not touched`,
      );
    } finally {
      await fsp.rm(tmp, { recursive: true, force: true });
    }
  }

  /** After a repair: our own refs whose commit cannot be read go to the remote's copy, or away. Says what it did. */
  private async resetUnreadableRefs(): Promise<string[]> {
    const done: string[] = [];
    for (const prefix of ["refs/heads/", "refs/notes/"]) {
      for (const { ref, oid } of await listRefValues(this.gitdir, prefix)) {
        if (await this.tryReadCommit(oid).catch(() => undefined)) continue;
        const copy = prefix === "refs/heads/" ? await this.readRef(`refs/remotes/origin/${ref.slice(prefix.length)}`) : undefined;
        await this.locks.refs.run(ref, async () => {
          if (copy !== undefined && (await this.tryReadCommit(copy).catch(() => undefined))) {
            await this.moveRef(ref, copy, oid);
            done.push(`${ref} reset to the remote's ${copy.slice(0, 9)}`);
          } else {
            await deleteRefLocked({ gitdir: this.gitdir, ref, expected: oid, current: () => this.readRef(ref) });
            done.push(`${ref} removed`);
          }
        });
      }
    }
    return done;
  }

  /**
   * For a mirror, when `err` says its objects are damaged (or `missing`: an object it must hold is not
   * there): notes the damage for the next refresh() and returns CoxError MirrorCorrupt. Undefined otherwise
   * (on disk the user's repository is never repaired by coxswain).
   */
  private damaged(err: unknown, what: string, missing = false): CoxError | undefined {
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

  /** See Repository.listRefs. */
  async listRefs(pattern: string, opts: { pullRequests?: boolean } = {}): Promise<ProposalRef[]> {
    const glob = refGlob(pattern);
    const out: ProposalRef[] = [];
    const branchPrefix = this.remote ? "refs/remotes/origin/" : "refs/heads/";
    for (const { ref, oid } of await listRefValues(this.gitdir, branchPrefix)) {
      const name = ref.slice(branchPrefix.length);
      if (name === "HEAD" || (this.remote && PULL_REF.test(`refs/${name}`))) continue;
      if (glob.test(name)) out.push({ kind: "branch", name, ref, oid });
    }
    if (opts.pullRequests) {
      const pulls: ProposalRef[] = [];
      for (const prefix of ["refs/pull/", "refs/merge-requests/"]) {
        for (const { ref, oid } of await listRefValues(this.gitdir, prefix)) {
          const m = PULL_REF.exec(ref);
          if (m) pulls.push({ kind: "pull", name: `${m[1]}/${m[2]}`, number: Number(m[2]), ref, oid });
        }
      }
      // "merge-requests/…" before "pull/…", then by number (12 before 100).
      const family = (p: ProposalRef): string => p.name.slice(0, p.name.indexOf("/"));
      pulls.sort((a, b) => (family(a) < family(b) ? -1 : family(a) > family(b) ? 1 : a.number! - b.number!));
      out.push(...pulls);
    }
    return out;
  }

  /** The tip of branch as last seen: refs/heads/<branch> on disk, refs/remotes/origin/<branch> in a mirror. */
  async head(branch: string): Promise<string | undefined> {
    const name = branch.startsWith("refs/heads/") ? branch.slice("refs/heads/".length) : branch;
    const ref = this.remote ? `refs/remotes/origin/${name}` : `refs/heads/${name}`;
    const oid = await this.readRef(ref);
    if (oid === undefined) return undefined;
    const commit = await this.tryReadCommit(oid);
    // A fetch moves a remote ref only after writing its objects: a mirror's ref naming a commit it cannot
    // read is a damaged mirror, not a deleted branch.
    if (!commit && this.remote) throw this.damaged(undefined, `${ref} names commit ${oid}, which is missing`, true)!;
    return commit?.oid;
  }

  /** See Repository.watch: chokidar on refs (disk) plus a poll; for a mirror the poll fetches first. */
  watch(onChange: () => void, opts: WatchOptions): WatchHandle {
    const handle = watchRepository({
      gitdir: this.gitdir,
      remote: this.remote,
      refresh: () => this.refresh(),
      onChange,
      opts,
    });
    const wrapped = async (): Promise<void> => {
      this.stops.delete(wrapped);
      await handle();
    };
    this.stops.add(wrapped);
    return Object.assign(wrapped, { trigger: () => handle.trigger(), state: () => handle.state() });
  }

  /** Stops every watcher started by watch(). */
  async close(): Promise<void> {
    this.packs.reset();
    await Promise.all([...this.stops].map((s) => s()));
  }

  // ---------------------------------------------------------------- internals

  /**
   * For a mirror opened again (a restart): checks its packs and looks for emptied loose objects
   * (source/repair.ts), removing the damaged ones, so that the first refresh() repairs it before anything is
   * read (a 33 MB mirror with 4,400 loose objects: 0.26 s on a busy 2-core machine, 1.7 s inflating them
   * all; damage a read finds is repaired by the next fetch).
   */
  async checkOnOpen(): Promise<void> {
    if (!this.remote) return;
    const check = await checkObjects(this.gitdir, { loose: "empty" });
    if (check.removed.length > 0) this.damage = { what: "damaged files found when it was opened", removed: check.removed };
  }

  /** Creates the mirror's content: called once on a fresh bare gitdir by openRepository. */
  async initialFetch(): Promise<void> {
    await this.fetchAll();
  }

  private async fetchAll(): Promise<void> {
    await this.network("fetch", undefined, async (http) => {
      // isomorphic-git adds to the headers object it is given (Git-Protocol, Authorization): always a fresh copy.
      // A remote whose HEAD names a missing branch is handled in the HTTP client (patchUnbornHead).
      await git.fetch({
        fs,
        http,
        gitdir: this.gitdir,
        cache: this.cache,
        remote: "origin",
        singleBranch: false,
        tags: true,
        prune: true,
        headers: { ...this.headers },
      });
    });
  }

  /**
   * isomorphic-git's fetch keeps only branches, tags and HEAD of the advertisement, so pull-request heads
   * are mirrored here: list the server's refs (one request), fetch each head whose commit we lack (one
   * fetch per changed head, negotiating from origin's HEAD so only new objects come), point the local
   * refs/pull/<n>/head at it, and delete the local ones the server no longer advertises.
   */
  private async fetchPullRequests(): Promise<void> {
    const url = this.url!;
    const advertised = await this.network("fetch", "refs/pull/*/head", (http) => git.listServerRefs({ http, url, headers: { ...this.headers }, protocolVersion: 1 }));
    const wanted = new Map<string, string>();
    for (const r of advertised) if (PULL_REF.test(r.ref) && /^[0-9a-f]{40}$/.test(r.oid)) wanted.set(r.ref, r.oid);
    const local = new Map<string, string>();
    for (const prefix of ["refs/pull/", "refs/merge-requests/"]) for (const r of await listRefValues(this.gitdir, prefix)) local.set(r.ref, r.oid);
    const have = (await this.readRef("refs/remotes/origin/HEAD")) !== undefined ? "refs/remotes/origin/HEAD" : undefined;
    for (const [ref, oid] of [...wanted].sort((a, b) => (a[0] < b[0] ? -1 : 1))) {
      const current = local.get(ref);
      if (current === oid) continue;
      if (!(await this.tryReadCommit(oid))) {
        await this.network("fetch", ref, (http) =>
          git.fetch({
            fs,
            http,
            gitdir: this.gitdir,
            cache: this.cache,
            remote: "origin",
            // `ref` is what isomorphic-git tells the server we have: the default branch, so a new pull
            // request costs its own commits only, not the whole history.
            ...(have ? { ref: have } : {}),
            remoteRef: ref,
            singleBranch: true,
            tags: false,
            headers: { ...this.headers },
          }),
        );
      }
      await this.locks.refs.run(ref, () => this.moveRef(ref, oid, current));
    }
    for (const [ref, oid] of local) {
      if (!wanted.has(ref)) await this.locks.refs.run(ref, () => deleteRefLocked({ gitdir: this.gitdir, ref, expected: oid, current: () => this.readRef(ref) }));
    }
  }

  /** Runs one network operation with a fresh deadline-carrying HTTP client and maps its errors. */
  private async network<T>(op: GitNetworkOp, ref: string | undefined, fn: (http: ReturnType<typeof timedHttpClient>["client"]) => Promise<T>): Promise<T> {
    const timed = timedHttpClient(this.timeoutMs);
    try {
      return await fn(timed.client);
    } catch (err) {
      if (!timed.timedOut()) {
        const damaged = this.damaged(err, `${op} read a damaged object`);
        if (damaged) throw damaged;
      }
      throw mapNetworkError(err, { op, location: this.location, timedOut: timed.timedOut(), timeoutMs: this.timeoutMs, ...(ref ? { ref } : {}) });
    }
  }

  /** isomorphic-git has no gc and each fetch adds a pack; reads slow down as packs pile up. */
  private async maybeRepack(): Promise<void> {
    if (this.gitCliMissing) return;
    const packs = await this.packNames();
    if (packs.size < REPACK_AFTER_PACKS) return;
    await this.locks.gate.exclusive(async () => {
      try {
        await new Promise<void>((resolve, reject) =>
          // --keep-unreachable: objects of commits we orphaned (a status branch rebuilt on the remote tip) may
          // be written again from knownObjects without a look; they must not disappear.
          execFile("git", ["--git-dir", this.gitdir, "repack", "-a", "-d", "-q", "--keep-unreachable"], { timeout: 10 * 60_000 }, (err) => (err ? reject(err) : resolve())),
        );
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code === "ENOENT") this.gitCliMissing = true;
        return; // best effort: reads still work with many packs, only slower
      }
      this.renewCache(await this.packNames());
    });
  }

  private async packNames(): Promise<Set<string>> {
    try {
      return new Set((await fsp.readdir(join(this.gitdir, "objects", "pack"))).filter((n) => n.endsWith(".pack")));
    } catch {
      return new Set();
    }
  }

  private renewCache(packs: Set<string>): void {
    this.cache = {};
    this.packs.reset();
    this.knownPacks = packs;
    this.knownObjects.clear(); // after a repack, look again before trusting an object to exist
  }

  /**
   * The cache holds parsed pack indexes and never shrinks. When a repack (ours, or the git CLI's in a
   * repository on disk) removed packs, start a new cache. Checked at most once a second.
   */
  private async checkCache(): Promise<void> {
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
  private async withFreshCacheRetry<T>(fn: () => Promise<T>): Promise<T> {
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

  private async readRef(ref: string): Promise<string | undefined> {
    try {
      return await readRefValue(this.gitdir, ref);
    } catch (err) {
      throw toCoxError(err, "GitFetchFailed");
    }
  }

  private async tryReadCommit(oid: string): Promise<ReadCommitResult | undefined> {
    try {
      return await this.withFreshCacheRetry(() => git.readCommit({ fs, gitdir: this.gitdir, cache: this.cache, oid }));
    } catch (err) {
      if (isNotFound(err) || (err as { code?: string }).code === "ObjectTypeError") return undefined;
      throw this.damaged(err, `commit ${oid} cannot be read`) ?? err;
    }
  }

  private async mustReadCommit(oid: string): Promise<ReadCommitResult> {
    const c = await this.tryReadCommit(oid);
    if (!c) throw missingObject("commit", oid, this.location);
    return c;
  }

  /** The tree oid of dir ("" = root) in commit; undefined when dir does not exist or is not a directory. */
  private async dirTree(commit: string, dir: string): Promise<string | undefined> {
    const c = await this.mustReadCommit(commit);
    if (dir === "") return c.commit.tree;
    try {
      const { oid } = await this.withFreshCacheRetry(() => git.readTree({ fs, gitdir: this.gitdir, cache: this.cache, oid: c.commit.tree, filepath: dir }));
      return oid;
    } catch (err) {
      const code = (err as { code?: string }).code;
      if (code === "NotFoundError" || code === "ObjectTypeError") return undefined;
      throw err;
    }
  }

  private async readTreeOf(commitOrTree: string): Promise<TreeEntry[]> {
    try {
      const { tree } = await this.withFreshCacheRetry(() => git.readTree({ fs, gitdir: this.gitdir, cache: this.cache, oid: commitOrTree }));
      return tree;
    } catch (err) {
      // Trees are read below a commit already read: one missing is one the mirror lost.
      throw this.damaged(err, `tree ${commitOrTree} cannot be read`, isNotFound(err)) ?? err;
    }
  }

  private async collectBlobs(tree: string, prefix: string, out: RepoFile[]): Promise<void> {
    const entries = await this.readTreeOf(tree);
    const base = prefix === "" ? "" : `${prefix}/`;
    const subtrees: Promise<void>[] = [];
    for (const e of entries) {
      if (e.type === "blob") out.push(e.mode === "120000" ? { path: base + e.path, oid: e.oid, symlink: true } : { path: base + e.path, oid: e.oid });
      else if (e.type === "tree") subtrees.push(this.collectBlobs(e.oid, base + e.path, out));
      // "commit" entries are submodules: not files of this repository.
    }
    await Promise.all(subtrees);
  }

  /** Note text at a notes commit: flat "<oid>", then fan-out "ab/<rest>" and "ab/cd/<rest>" (the git CLI's layouts). */
  private async readNoteAt(notesCommit: string, commit: string): Promise<string | undefined> {
    const paths = [commit, `${commit.slice(0, 2)}/${commit.slice(2)}`, `${commit.slice(0, 2)}/${commit.slice(2, 4)}/${commit.slice(4)}`];
    for (const filepath of paths) {
      try {
        const { blob } = await this.withFreshCacheRetry(() => git.readBlob({ fs, gitdir: this.gitdir, cache: this.cache, oid: notesCommit, filepath }));
        return new TextDecoder().decode(blob);
      } catch (err) {
        const code = (err as { code?: string }).code;
        if (code !== "NotFoundError" && code !== "ObjectTypeError") throw err;
      }
    }
    return undefined;
  }

  /**
   * Writes a directory's blobs and trees bottom-up and returns the tree oid. Objects are hashed here first
   * and written only when this repository object has not seen them recently, so re-committing a large
   * status tree with one changed file writes one blob and the trees above it (330 ms → a few ms for
   * 1,000 files). "Recently" stays far below git gc's two-week grace for unreachable objects.
   */
  private async writeDirectory(dir: Directory): Promise<string> {
    const names = [...dir.keys()];
    const entries = await mapLimit(names, 32, async (name) => {
      const node = dir.get(name)!;
      if (typeof node === "string") return { name, tree: false, oid: await this.ensureObject("blob", Buffer.from(node, "utf8")) };
      return { name, tree: true, oid: await this.writeDirectory(node) };
    });
    // git's tree order: byte order of names, a directory compared as "name/".
    const key = (e: { name: string; tree: boolean }): Buffer => Buffer.from(e.tree ? `${e.name}/` : e.name, "utf8");
    entries.sort((x, y) => Buffer.compare(key(x), key(y)));
    const body = Buffer.concat(entries.flatMap((e) => [Buffer.from(`${e.tree ? "40000" : "100644"} ${e.name}\0`, "utf8"), Buffer.from(e.oid, "hex")]));
    return this.ensureObject("tree", body);
  }

  /** The oid of an object with this content; writes it (atomically) unless it was written or seen recently. */
  private async ensureObject(type: "blob" | "tree", body: Buffer): Promise<string> {
    const oid = createHash("sha1").update(`${type} ${body.length}\0`).update(body).digest("hex");
    const seen = this.knownObjects.get(oid);
    if (seen !== undefined && Date.now() - seen < KNOWN_OBJECT_TTL_MS) return oid;
    const written = await git.writeObject({ fs, gitdir: this.gitdir, type, object: body, format: "content" });
    if (written !== oid) throw new CoxError("StatusWriteFailed", `writing a ${type} gave ${written}, expected ${oid}`);
    if (this.knownObjects.size >= MAX_KNOWN_OBJECTS) this.knownObjects.clear();
    this.knownObjects.set(oid, Date.now());
    return oid;
  }

  private async writeCommitObject(tree: string, parents: string[], message: string): Promise<string> {
    const who = { ...COXSWAIN_IDENTITY, timestamp: Math.floor(Date.now() / 1000), timezoneOffset: 0 };
    return git.writeCommit({
      fs,
      gitdir: this.gitdir,
      commit: { tree, parent: parents, author: who, committer: who, message: message.endsWith("\n") ? message : `${message}\n` },
    });
  }

  private async moveRef(ref: string, newOid: string, expected: string | undefined): Promise<void> {
    await updateRefLocked({ gitdir: this.gitdir, ref, newOid, expected, current: () => this.readRef(ref) });
  }
}

/** A directory being built: name → file content or subdirectory. */
type Directory = Map<string, Directory | string>;

/** Nests flat "a/b/c.yaml" paths; rejects empty, absolute, "."/".." segments and a path used as both file and directory. */
export function buildDirectory(files: readonly TreeFile[]): Directory {
  const root: Directory = new Map();
  for (const f of files) {
    const parts = f.path.split("/");
    if (parts.some((p) => p === "" || p === "." || p === ".." || p === ".git")) {
      throw new CoxError("InvalidArgument", `invalid tree path ${JSON.stringify(f.path)}: expected a relative path like "a/b/c.yaml" without empty, ".", ".." or ".git" segments`);
    }
    let dir = root;
    for (const [i, part] of parts.entries()) {
      const last = i === parts.length - 1;
      const existing = dir.get(part);
      if (last) {
        if (existing !== undefined) throw new CoxError("InvalidArgument", `tree path ${JSON.stringify(f.path)} is given twice or is also a directory`);
        dir.set(part, f.content);
      } else if (existing === undefined) {
        const sub: Directory = new Map();
        dir.set(part, sub);
        dir = sub;
      } else if (typeof existing === "string") {
        throw new CoxError("InvalidArgument", `tree path ${JSON.stringify(f.path)} needs ${JSON.stringify(parts.slice(0, i + 1).join("/"))} as a directory, but it is a file`);
      } else dir = existing;
    }
  }
  return root;
}

/** "" for the root; strips "./", leading and trailing slashes. */
export function normalizeDir(dir: string): string {
  let d = dir.trim().replace(/\\/g, "/");
  while (d.startsWith("./")) d = d.slice(2);
  d = d.replace(/^\/+|\/+$/g, "");
  return d === "." ? "" : d;
}

function byPath(a: { path: string }, b: { path: string }): number {
  return a.path < b.path ? -1 : a.path > b.path ? 1 : 0;
}

function toCommitInfo(c: ReadCommitResult): CommitInfo {
  return {
    oid: c.oid,
    message: c.commit.message,
    author: { name: c.commit.author.name, email: c.commit.author.email, timestamp: c.commit.author.timestamp },
    parents: [...c.commit.parent],
  };
}

function pathNotFound(commit: string, dir: string, location: string): CoxError {
  return new CoxError("PathNotFound", `directory ${JSON.stringify(dir)} does not exist at ${commit} in ${location}; expected a directory of the repository`, {
    details: { commit, path: dir },
  });
}

function refMoved(ref: string, expected: string | undefined, found: string | undefined): CoxError {
  return new CoxError("GitPushRejected", `${ref} moved while coxswain was committing on it (expected ${expected ?? "no ref"}, found ${found ?? "no ref"}); rebuild on the new tip`, { details: { ref, expected, found } });
}

function missingObject(kind: string, oid: string, location: string, cause?: unknown): CoxError {
  // Transient: in a mirror, the next fetch may bring it.
  return new CoxError("GitFetchFailed", `${kind} ${oid} is not in ${location}`, { cause, details: { oid } });
}

async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out: R[] = new Array(items.length);
  let next = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return out;
}
