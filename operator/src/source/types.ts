/**
 * Git access as the rest of coxswain sees it. source/ implements these for a repository on disk (opened
 * directly) and for a remote one (a bare mirror under the state dir, fetched over smart HTTP).
 * Nothing outside source/ and status/ imports isomorphic-git.
 */
import type { CoxError } from "../api/errors.js";
import type { TreeEdit } from "./trees.js";

/** One blob under a directory at a commit. */
export interface RepoFile {
  /** Path from the repository root, "/"-separated. */
  path: string;
  /** Blob oid; equal oids mean equal content (used to cache parsed manifests). */
  oid: string;
  /** Set for a symbolic link (mode 120000): the blob holds the path it points to, not a file's content. */
  symlink?: true;
}

/** A commit's metadata. */
export interface CommitInfo {
  oid: string;
  /** Full message. */
  message: string;
  author: { name: string; email: string /** epoch seconds */; timestamp: number };
  parents: string[];
}

/** A changed path between two commits. */
export interface FileChange {
  path: string;
  /** Absent when the file was added. */
  before?: string;
  /** Absent when the file was deleted. */
  after?: string;
}

/** Read access to a repository's objects. */
export interface GitReader {
  /** Resolves a branch name ("main"), a full ref or an oid to a commit oid; undefined when it does not exist. */
  resolve(ref: string): Promise<string | undefined>;
  readCommit(oid: string): Promise<CommitInfo>;
  /**
   * Every blob under `dir` ("" or "." = root) at `commit`, recursively, sorted by path.
   * Throws CoxError PathNotFound when dir does not exist in that commit.
   */
  listFiles(commit: string, dir: string): Promise<RepoFile[]>;
  readBlob(oid: string): Promise<Uint8Array>;
  /** A blob's bytes, or only its { size } when it is larger than maxBytes (learned without inflating it when possible). */
  readBlobBounded(oid: string, maxBytes: number): Promise<Uint8Array | { size: number }>;
  /** Paths under dir that differ between two commits (equal subtrees are skipped), sorted by path. */
  changedFiles(from: string, to: string, dir: string): Promise<FileChange[]>;
  /** Commits reachable from `ref`, newest first, at most `limit`. */
  log(ref: string, limit: number): Promise<CommitInfo[]>;
  /** True when `ancestor` is reachable from `descendant` (or equal). */
  isAncestor(ancestor: string, descendant: string): Promise<boolean>;
}

/** A file to write into a tree: path relative to the tree root, content as text. */
export interface TreeFile {
  path: string;
  content: string;
}

/** One entry of a tree as stored: name, raw mode ("100644", "100755", "120000", "40000", "160000"), oid. */
export interface TreeItem {
  /** The entry's name (one path segment) or, from entryAt, the path asked for. */
  path: string;
  mode: string;
  oid: string;
  type: "blob" | "tree" | "commit";
}

/** A path whose entry (content, mode or type) differs between two trees; before/after absent = added/deleted. */
export interface TreeEntryChange {
  path: string;
  before?: { oid: string; mode: string };
  after?: { oid: string; mode: string };
}

export type { TreeEdit } from "./trees.js";

/** Write access, for status/ only. One writer per repository: calls are serialized per ref inside. */
export interface GitWriter {
  /**
   * Commits a tree built from `files` onto `ref` (e.g. "refs/heads/coxswain/status") with the given
   * parent (undefined = the ref's current tip, or a root commit when the ref does not exist).
   * Returns the commit oid, or undefined when the tree equals the parent's tree (nothing to commit).
   */
  commitFiles(opts: { ref: string; files: readonly TreeFile[]; message: string; parent?: string | null }): Promise<string | undefined>;
  /** Reads the files of a commit's tree (the status branch reads itself back after a restart). */
  readFiles(commit: string, dir: string): Promise<TreeFile[]>;
  /** The blobs of a commit's tree under dir with their oids, without reading them (see GitReader.listFiles). */
  listFiles(commit: string, dir: string): Promise<RepoFile[]>;
  /** Sets the note on `commit` under `notesRef` (e.g. "refs/notes/coxswain"), replacing any earlier one. */
  setNote(notesRef: string, commit: string, text: string): Promise<void>;
  /** Reads a note; undefined when there is none. */
  readNote(notesRef: string, commit: string): Promise<string | undefined>;
  /**
   * Pushes refs to the remote when the repository is remote (no-op on disk). Throws CoxError
   * GitPushRejected when the remote ref moved, GitAuthFailed, GitTimeout or GitFetchFailed.
   */
  push(refs: readonly string[]): Promise<void>;
  /** The current local tip of `ref` (a full ref name), undefined when it does not exist. */
  tip(ref: string): Promise<string | undefined>;
  /**
   * For a remote repository: fetches `ref` (a full ref name) from origin and returns its tip there, or
   * undefined when the remote has no such ref; the objects arrive locally, the local ref does not move.
   * On disk: returns undefined (there is no other copy). Throws like refresh().
   */
  fetchRemoteRef(ref: string): Promise<string | undefined>;
  /**
   * Points one of our refs (the status branch, the notes ref; never a deploy branch) at `oid`, e.g. onto a
   * fetched remote tip before our tree is re-committed on top. Serialized with commitFiles and setNote.
   */
  setRef(ref: string, oid: string): Promise<void>;

  // Byte-exact tree commits (revert commits on the deploy branch): built from blob and tree oids, never
  // from decoded text, so every file not edited keeps its bytes, mode and name (binary files too).

  /** The root tree oid of a commit. */
  treeOf(commit: string): Promise<string>;
  /** A tree's entries as stored, in git's order; `oid` may name a commit. */
  readTreeEntries(oid: string): Promise<TreeItem[]>;
  /** The entry at a path of a tree or commit; undefined when absent. */
  entryAt(treeOrCommit: string, path: string): Promise<TreeItem | undefined>;
  /** Paths whose entry differs between two trees or commits (content, mode, type), sorted; undefined = the empty tree. */
  diffTreeEntries(from: string | undefined, to: string | undefined): Promise<TreeEntryChange[]>;
  /** Stores a blob (a file's new bytes, for a tree edit) and returns its oid. */
  writeBlob(content: Uint8Array): Promise<string>;
  /** Writes `base` (tree or commit; undefined = empty) with `edits` applied; only trees on edited paths are rewritten. */
  editTree(base: string | undefined, edits: readonly TreeEdit[]): Promise<string>;
  /**
   * Commits `tree` on `parents` as coxswain and fast-forwards `ref` from `expected` to it, under the ref's
   * mutex and git's lock protocol. GitPushRejected when `ref` no longer points at `expected`.
   */
  commitTree(opts: { ref: string; tree: string; parents: readonly string[]; message: string; expected: string | undefined }): Promise<string>;
  /** For a mirror: pushes local `localRef` to `remoteRef` on origin (fast-forward only); no-op on disk. */
  pushRef(localRef: string, remoteRef: string): Promise<void>;
  /** The work tree where `ref` is checked out, if any (never for a bare repository or a mirror). */
  checkedOutAt(ref: string): Promise<string | undefined>;
}

/** Options of Repository.watch. */
export interface WatchOptions {
  /** Poll interval: a repository on disk calls onChange, a remote one fetches then calls onChange. */
  pollMs: number;
  /**
   * Called with errors of the poll (a failed fetch, once per attempt) and of the file watcher; they are
   * never thrown from a timer.
   */
  onError?: (err: CoxError) => void;
  /** Called once when a fetch succeeds after `failures` failed ones (the remote is back). */
  onRecover?: (failures: number) => void;
  /** Called after every fetch of a remote with how long it took and whether it failed (metrics). */
  onFetched?: (ms: number, failed: boolean) => void;
  /** Debounce of file-watcher events, ms (default 20). */
  debounceMs?: number;
  /** Retry delays of a remote after a failed fetch: initialMs doubling up to maxMs (default 1 s → 60 s), ±20 % jitter. */
  backoff?: { initialMs?: number; maxMs?: number };
}

/** How the watch of a repository is doing (for /healthz and logs). */
export interface WatchState {
  remote: boolean;
  /** Failed fetches in a row (0 while the remote answers). */
  failures: number;
  /** ISO time of the last successful fetch. */
  lastSuccessAt?: string;
  /** The last failure, while failing. */
  lastError?: { code: string; message: string; at: string };
  /** ISO time of the next scheduled fetch. */
  nextAttemptAt?: string;
}

/**
 * What Repository.watch returns. Calling it stops watching (waits for an in-flight fetch). trigger()
 * asks for a fetch now (a webhook said "pushed"): for a remote it fetches at once, even in a backoff, and
 * then calls onChange; on disk it calls onChange. state() reports the remote's health.
 */
export interface WatchHandle {
  (): Promise<void>;
  trigger(): void;
  state(): WatchState;
}

/** A proposal head found by Repository.listRefs: a branch matching the pattern, or a pull/merge request. */
export interface ProposalRef {
  kind: "branch" | "pull";
  /**
   * Branch name ("pr/login-form"), or for a pull request "pull/<n>" (GitHub, Gitea: refs/pull/<n>/head)
   * or "merge-requests/<n>" (GitLab: refs/merge-requests/<n>/head).
   */
  name: string;
  /** The pull/merge request number. */
  number?: number;
  /** The full ref to read in this repository (refs/heads/… on disk, refs/remotes/origin/… in a mirror, refs/pull/<n>/head). */
  ref: string;
  /** The commit it points at. */
  oid: string;
}

/** A followed repository: where commits come from and where status goes. */
export interface Repository {
  /** What `--repo` said (a path or a URL with credentials removed), for messages. */
  readonly location: string;
  /** True when reached over HTTP(S) through a mirror. */
  readonly remote: boolean;
  /** The gitdir read and written (the repository's .git or bare directory, or the mirror). */
  readonly gitdir: string;
  readonly reader: GitReader;
  readonly writer: GitWriter;
  /**
   * Fetches from the remote (no-op on disk): branches and tags; with `pullRequests` (openRepository) also
   * every refs/pull/<n>/head and refs/merge-requests/<n>/head the remote advertises, into the same names
   * locally (pruned when the remote drops them). Throws CoxError GitFetchFailed/GitTimeout/GitAuthFailed.
   */
  refresh(): Promise<void>;
  /** The commit at the tip of `branch` as last seen (after refresh for remotes); undefined if absent. */
  head(branch: string): Promise<string | undefined>;
  /**
   * Branches whose name matches `pattern` (a glob: `*` matches within one path segment, `**` across
   * segments, `?` one character; e.g. "pr/*"), and with `pullRequests` every pull/merge request head
   * present locally. Sorted by kind (branches first), then name (pull requests by number). Reads local
   * refs only: call refresh() first for a remote.
   */
  listRefs(pattern: string, opts?: { pullRequests?: boolean }): Promise<ProposalRef[]>;
  /**
   * Calls `onChange` whenever refs may have moved: chokidar on refs for a repository on disk (any event
   * means "re-read the refs"), plus a poll every `pollMs` (for remotes the poll fetches, with backoff after
   * failures). Returns a handle: call it to stop; trigger() for "fetch now"; state() for health.
   */
  watch(onChange: () => void, opts: WatchOptions): WatchHandle;
  /** Stops watchers and releases resources. */
  close(): Promise<void>;
}
