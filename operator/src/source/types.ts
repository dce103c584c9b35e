/**
 * Git access as the rest of coxswain sees it. source/ implements these for a repository on disk (opened
 * directly) and for a remote one (a bare mirror under the state dir, fetched over smart HTTP).
 * Nothing outside source/ and status/ imports isomorphic-git.
 */
import type { CoxError } from "../api/errors.js";

/** One blob under a directory at a commit. */
export interface RepoFile {
  /** Path from the repository root, "/"-separated. */
  path: string;
  /** Blob oid; equal oids mean equal content (used to cache parsed manifests). */
  oid: string;
}

/** A commit's metadata. */
export interface CommitInfo {
  oid: string;
  /** Full message. */
  message: string;
  author: { name: string; email: string; /** epoch seconds */ timestamp: number };
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

/** Write access, for status/ only. One writer per repository: calls are serialized per ref inside. */
export interface GitWriter {
  /**
   * Commits a tree built from `files` onto `ref` (e.g. "refs/heads/coxswain/status") with the given
   * parent (undefined = the ref's current tip, or a root commit when the ref does not exist).
   * Returns the commit oid, or undefined when the tree equals the parent's tree (nothing to commit).
   */
  commitFiles(opts: {
    ref: string;
    files: readonly TreeFile[];
    message: string;
    parent?: string | null;
  }): Promise<string | undefined>;
  /** Reads the files of a commit's tree (the status branch reads itself back after a restart). */
  readFiles(commit: string, dir: string): Promise<TreeFile[]>;
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
}

/** Options of Repository.watch. */
export interface WatchOptions {
  /** Poll interval: a repository on disk calls onChange, a remote one fetches then calls onChange. */
  pollMs: number;
  /** Called with errors of the poll (a failed fetch) and of the file watcher; they are never thrown from a timer. */
  onError?: (err: CoxError) => void;
  /** Debounce of file-watcher events, ms (default 20). */
  debounceMs?: number;
}

/** A followed repository: where commits come from and where status goes. */
export interface Repository {
  /** What `--repo` said (a path or a URL with credentials removed), for messages. */
  readonly location: string;
  /** True when reached over HTTP(S) through a mirror. */
  readonly remote: boolean;
  readonly reader: GitReader;
  readonly writer: GitWriter;
  /** Fetches from the remote (no-op on disk). Throws CoxError GitFetchFailed/GitTimeout/GitAuthFailed. */
  refresh(): Promise<void>;
  /** The commit at the tip of `branch` as last seen (after refresh for remotes); undefined if absent. */
  head(branch: string): Promise<string | undefined>;
  /**
   * Calls `onChange` whenever refs may have moved: chokidar on refs for a repository on disk (any event
   * means "re-read the refs"), plus a poll every `pollMs` (for remotes the poll fetches). Returns stop().
   */
  watch(onChange: () => void, opts: WatchOptions): () => Promise<void>;
  /** Stops watchers and releases resources. */
  close(): Promise<void>;
}
