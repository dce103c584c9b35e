/**
 * Writes the StatusStore into Git: the status branch (a tree of its own, see store.ts) and one-line notes
 * on deploy commits. Writes are coalesced (many updates within debounceMs → one commit), only one flush
 * runs at a time, and an unchanged tree makes no commit. Never touches the deploy branch.
 *
 * For a remote repository the branch and the notes ref are pushed after each change. When a push is
 * rejected because someone else moved the remote ref (another coxswain, a person, a CI job), the writer
 * fetches the remote tip and rebuilds on top of it, losing no entry:
 * - the status branch is merged file by file against the last remote tip we shared (mergeStatusTrees):
 *   their changes and additions — other commit records, plans — are adopted into our store, ours win
 *   where both sides changed a file; the merged tree is committed with the remote tip as parent;
 * - the notes ref is adopted and our notes are re-applied on top (ours win per commit).
 * Then it pushes again, up to MAX_PUSH_ATTEMPTS times with a short growing pause; if the remote keeps
 * moving, the failure is reported (StatusWriteFailed caused by GitPushRejected) and the next flush retries.
 *
 * One writer per repository: inside a process the repository serializes writes per ref; across processes
 * the operator holds source/lock.ts's lock on the gitdir.
 */
import { createHash } from "node:crypto";
import { backoffDelay } from "../api/backoff.js";
import { CoxError, isCoxError, toCoxError } from "../api/errors.js";
import type { GitWriter, TreeFile } from "../source/types.js";
import { mergeStatusTrees, parseStatusTree, StatusStore, type StatusState } from "./store.js";

/** Options of a StatusWriter. */
export interface StatusWriterOptions {
  /** The repository's writer (Repository.writer). */
  writer: GitWriter;
  /** The records to write; a new empty store when omitted (see `store`). */
  store?: StatusStore;
  /** Status branch name (default "coxswain/status"). */
  branch?: string;
  /** Notes ref (default "refs/notes/coxswain"). */
  notesRef?: string;
  /** True for a remote repository: push after writing. */
  remote: boolean;
  /** Coalescing window of schedule(), ms (default 500). */
  debounceMs?: number;
  /** Failures, always as CoxError StatusWriteFailed (the cause carries the underlying code). Default: one line on stderr. */
  onError?: (err: CoxError) => void;
  /** Called after a flush that wrote (or had nothing to write) without an error: a failure before it is over. */
  onWritten?: () => void;
  /** First retry delay after a failed flush, doubling up to 60 s (default 1000 ms). */
  retryMs?: number;
}

/** What one flush did. */
export interface FlushResult {
  /** The new status commit, when the tree changed. */
  commit?: string;
  /** Deploy commits whose note was (re)written. */
  notes: string[];
  /** Refs pushed to the remote. */
  pushed: string[];
}

/** Longest wait between retries of a failed write (retryMs doubling up to it: api/backoff.ts). */
const MAX_RETRY_MS = 60_000;
/** Pushes of one ref per flush before a rejection is reported (each after rebuilding on the new remote tip). */
const MAX_PUSH_ATTEMPTS = 5;

/** Coalescing, single-flight writer of the status branch and notes. */
export class StatusWriter {
  /** The records this writer renders. */
  readonly store: StatusStore;
  /** Full name of the status branch ref. */
  readonly branchRef: string;
  /** The notes ref. */
  readonly notesRef: string;
  private readonly writer: GitWriter;
  private readonly remote: boolean;
  private readonly debounceMs: number;
  private readonly retryMs: number;
  private readonly onError: (err: CoxError) => void;
  private readonly onWritten: () => void;
  private timer: NodeJS.Timeout | undefined;
  private inflight: Promise<FlushResult> | undefined;
  private followUp: Promise<FlushResult> | undefined;
  /** Store version whose tree is committed on the status branch. */
  private committedVersion = -1;
  /** Annotated commit → blob oid of its note as the notes ref holds it (compared without reading blobs). */
  private notes = new Map<string, string>();
  /** Ref → the tip last known to be on the remote. */
  private readonly pushed = new Map<string, string>();
  private failures = 0;
  private closed = false;

  constructor(opts: StatusWriterOptions) {
    this.writer = opts.writer;
    this.store = opts.store ?? new StatusStore();
    const branch = opts.branch ?? "coxswain/status";
    this.branchRef = branch.startsWith("refs/") ? branch : `refs/heads/${branch}`;
    this.notesRef = opts.notesRef ?? "refs/notes/coxswain";
    this.remote = opts.remote;
    this.debounceMs = opts.debounceMs ?? 500;
    this.retryMs = opts.retryMs ?? 1_000;
    this.onError = opts.onError ?? ((err) => process.stderr.write(`coxswain status: ${err.code}: ${err.message}\n`));
    this.onWritten = opts.onWritten ?? (() => undefined);
  }

  /**
   * Reads the status branch back into the store (records already set in the store win), so commit and
   * workload records survive a restart; learns which notes exist. For a remote repository it first fetches
   * the remote's status branch and notes: the remote's records are read, our local (possibly unpushed)
   * ones overlaid, and our refs moved onto the remote tips so the next commit fast-forwards them. A failed
   * fetch is reported and the local refs are used. Writes nothing to the remote.
   */
  async load(): Promise<void> {
    let remoteTip: string | undefined;
    let remoteNotes: string | undefined;
    if (this.remote) {
      try {
        remoteTip = await this.writer.fetchRemoteRef(this.branchRef);
        remoteNotes = await this.writer.fetchRemoteRef(this.notesRef);
      } catch (err) {
        this.report(err, "fetching the remote status branch and notes (continuing with the local copies)");
      }
    }
    try {
      const localTip = await this.writer.tip(this.branchRef);
      // Local first so that it wins in merge(): its records are ours and at least as new.
      if (localTip !== undefined) this.store.merge(await this.readState(localTip));
      if (remoteTip !== undefined && remoteTip !== localTip) this.store.merge(await this.readState(remoteTip));
      if (remoteTip !== undefined) {
        if (remoteTip !== localTip) await this.writer.setRef(this.branchRef, remoteTip);
        this.pushed.set(this.branchRef, remoteTip);
      }
      const localNotes = await this.writer.tip(this.notesRef);
      if (remoteNotes !== undefined) {
        if (remoteNotes !== localNotes) await this.writer.setRef(this.notesRef, remoteNotes);
        this.pushed.set(this.notesRef, remoteNotes);
      }
      this.notes = await this.readNotes();
    } catch (err) {
      throw this.wrap(err, "reading the status branch back");
    }
  }

  /** Asks for a flush within debounceMs; calls in the same window share one flush (one commit). */
  schedule(): void {
    if (this.closed || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, this.debounceMs);
  }

  /**
   * Writes now: commits the rendered tree if it changed (no change → no commit), writes notes whose text
   * changed, then pushes changed refs when remote. Never throws: failures go to onError as
   * StatusWriteFailed and a retry is scheduled. While a flush runs, further calls share one follow-up flush.
   */
  async flush(): Promise<void> {
    await this.flushWithResult();
  }

  /** flush(), resolving with what it did (the follow-up's result when it joined a running flush). */
  flushWithResult(): Promise<FlushResult> {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
    if (!this.inflight) {
      this.inflight = this.runFlush().finally(() => {
        this.inflight = undefined;
      });
      return this.inflight;
    }
    this.followUp ??= this.inflight.then(() => {
      this.followUp = undefined;
      return this.flushWithResult();
    });
    return this.followUp;
  }

  /** Final flush; afterwards schedule() does nothing and no retry is pending. */
  async close(): Promise<void> {
    this.closed = true;
    await this.flush();
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = undefined;
    }
  }

  /** The status commit message: "status: <head short oid> <phase>", or "status: update" without a head. */
  message(): string {
    const head = this.store.summary()?.head;
    return head ? `status: ${head.commit.slice(0, 9)} ${head.phase}` : "status: update";
  }

  // ---------------------------------------------------------------- internals

  private async runFlush(): Promise<FlushResult> {
    const result: FlushResult = { notes: [], pushed: [] };
    try {
      const version = this.store.version;
      if (version !== this.committedVersion) {
        const commit = await this.writer.commitFiles({
          ref: this.branchRef,
          files: this.store.renderedTree(),
          message: this.message(),
        });
        if (commit !== undefined) result.commit = commit;
        this.committedVersion = version;
      }
      result.notes = await this.writeNotes();
      if (this.remote) result.pushed = await this.pushChanged();
      this.failures = 0;
      this.onWritten();
    } catch (err) {
      this.report(err, "writing the status branch");
      this.scheduleRetry();
    }
    return result;
  }

  /** Sets every note the store wants (commit records' lines, plan notes) whose text differs from the notes ref's. */
  private async writeNotes(): Promise<string[]> {
    const written: string[] = [];
    for (const [commit, text] of this.store.wantedNotes()) {
      const oid = noteBlobOid(text);
      if (this.notes.get(commit) === oid) continue;
      await this.writer.setNote(this.notesRef, commit, text);
      this.notes.set(commit, oid);
      written.push(commit);
    }
    return written;
  }

  /** Pushes the branch, then the notes, when their local tips differ from what the remote has. */
  private async pushChanged(): Promise<string[]> {
    const pushed: string[] = [];
    for (const ref of [this.branchRef, this.notesRef]) {
      let tip = await this.writer.tip(ref);
      if (tip === undefined || tip === this.pushed.get(ref)) continue;
      for (let attempt = 1; ; attempt++) {
        try {
          await this.writer.push([ref]);
          break;
        } catch (err) {
          if (!isCoxError(err, "GitPushRejected") || attempt >= MAX_PUSH_ATTEMPTS) throw err;
        }
        // Someone else moved the remote ref: rebuild on their tip and try again. The pause grows and is
        // jittered so that two writers racing each other fall out of step.
        await sleep(Math.round((20 + Math.random() * 80) * attempt));
        await this.rebuildOnRemote(ref);
        tip = await this.writer.tip(ref);
        if (tip === undefined) break;
      }
      if (tip === undefined) continue;
      this.pushed.set(ref, tip);
      pushed.push(ref);
    }
    return pushed;
  }

  /** Rebuilds `ref` on the remote's tip (see the module comment); the remote tip becomes the new base. */
  private async rebuildOnRemote(ref: string): Promise<void> {
    const remoteTip = await this.writer.fetchRemoteRef(ref);
    if (ref === this.branchRef) {
      const baseTip = this.pushed.get(ref);
      const [base, theirs] = await Promise.all([
        baseTip === undefined ? Promise.resolve<TreeFile[]>([]) : this.writer.readFiles(baseTip, ""),
        remoteTip === undefined ? Promise.resolve<TreeFile[]>([]) : this.writer.readFiles(remoteTip, ""),
      ]);
      // From the snapshot to the adoption nothing awaits, so records set meanwhile by the sync loop are
      // either in `ours` or set after the merge: none is overwritten by a stale copy.
      const { adopted } = mergeStatusTrees(base, this.store.renderedTree(), theirs);
      for (const p of this.store.applyFiles(adopted)) this.invalidRecord(p, `written by another writer at ${remoteTip ?? "the remote"}`);
      const version = this.store.version;
      await this.writer.commitFiles({ ref, files: this.store.renderedTree(), message: this.message(), parent: remoteTip ?? null });
      this.committedVersion = version;
      if (remoteTip !== undefined) this.pushed.set(ref, remoteTip);
      return;
    }
    // Notes: adopt the remote notes, then re-apply ours on top.
    if (remoteTip !== undefined) {
      await this.writer.setRef(ref, remoteTip);
      this.pushed.set(ref, remoteTip);
    }
    this.notes = await this.readNotes();
    await this.writeNotes();
  }

  private async readState(commit: string): Promise<StatusState> {
    const { state, problems } = parseStatusTree(await this.writer.readFiles(commit, ""));
    for (const p of problems) this.invalidRecord(p, `at ${commit}`);
    return state;
  }

  /** A record read back that is not one: StatusRecordInvalid naming the file; it is kept verbatim and counts as absent. */
  private invalidRecord(p: { path: string; message: string }, where: string): void {
    try {
      this.onError(
        new CoxError("StatusRecordInvalid", `status file ${p.path} ${where}: ${p.message}; it counts as absent and is kept as it is until coxswain writes that record again`, {
          details: { path: p.path, reason: p.message },
        }),
      );
    } catch {
      // An error handler that throws must not break the writer.
    }
  }

  /** The notes our notes ref holds (flat or fan-out layout), as commit → note blob oid; no blob is read. */
  private async readNotes(): Promise<Map<string, string>> {
    const out = new Map<string, string>();
    const tip = await this.writer.tip(this.notesRef);
    if (tip === undefined) return out;
    for (const f of await this.writer.listFiles(tip, "")) {
      const commit = f.path.replace(/\//g, "");
      if (/^[0-9a-f]{40}$/.test(commit)) out.set(commit, f.oid);
    }
    return out;
  }

  private scheduleRetry(): void {
    this.failures++;
    if (this.closed || this.timer) return;
    const delay = backoffDelay({ initialMs: this.retryMs, maxMs: Math.max(this.retryMs, MAX_RETRY_MS) }, this.failures);
    this.timer = setTimeout(() => {
      this.timer = undefined;
      void this.flush();
    }, delay);
  }

  private wrap(err: unknown, doing: string): CoxError {
    if (isCoxError(err, "StatusWriteFailed")) return err;
    const cause = toCoxError(err, "StatusWriteFailed");
    return new CoxError("StatusWriteFailed", `${doing} (${this.branchRef}, ${this.notesRef}) failed: ${cause.code}: ${cause.message}`, {
      cause,
      details: { cause: cause.code },
    });
  }

  private report(err: unknown, doing: string): void {
    try {
      this.onError(this.wrap(err, doing));
    } catch {
      // An error handler that throws must not break the writer.
    }
  }
}

/** The blob oid of a note as GitWriter.setNote stores it (the text plus one newline). */
function noteBlobOid(text: string): string {
  const body = Buffer.from(text.endsWith("\n") ? text : `${text}\n`, "utf8");
  return createHash("sha1").update(`blob ${body.length}\0`).update(body).digest("hex");
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
