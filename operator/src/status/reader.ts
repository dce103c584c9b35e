/**
 * Reading what coxswain recorded, from Git alone: the status branch and the notes of any clone, or of a
 * mirror of a remote. Used by `coxswain status` and `coxswain history`; nothing here talks to a running
 * operator. The pure parts (parseNote, buildHistory) turn records and notes into the deploy log.
 */
import { CoxError } from "../api/errors.js";
import type { Repository } from "../source/types.js";
import { parseStatusTree, type StatusState } from "./store.js";
import type { CommitPhase, CommitRecord } from "./types.js";

/** Every phase a commit record can have (for reading notes back). */
export const COMMIT_PHASES: readonly CommitPhase[] = ["Pending", "Invalid", "Progressing", "Succeeded", "Failed", "RolledBack", "Quarantined", "Superseded"];

/** What readRecords found. */
export interface RecordedStatus {
  /** The ref the status branch was read from (refs/heads/…, or refs/remotes/origin/… in a clone or mirror). */
  statusRef?: string;
  statusCommit?: string;
  /** Commit time (ISO) of the status branch tip: when coxswain last wrote. */
  statusWrittenAt?: string;
  state: StatusState;
  /** Files that could not be read back, with why. */
  problems: { path: string; message: string }[];
  /** Annotated commit → note text (without the trailing newline). */
  notes: Map<string, string>;
  /** The notes commit read, when there is one. */
  notesCommit?: string;
}

/**
 * Reads the status branch `statusBranch` ("coxswain/status") and the notes ref `notesRef` of a repository.
 * The branch is looked up as refs/heads/<b>, then refs/remotes/origin/<b> (a clone made with git clone has
 * it there; so does a mirror). Notes are read from the local notes ref, or for a mirror fetched from the
 * remote first. Either may be missing; both missing is BranchNotFound with how to fetch them.
 */
export async function readRecords(repo: Repository, opts: { statusBranch: string; notesRef: string }): Promise<RecordedStatus> {
  const short = opts.statusBranch.replace(/^refs\/heads\//, "");
  const candidates = repo.remote ? [`refs/remotes/origin/${short}`, `refs/heads/${short}`] : [`refs/heads/${short}`, `refs/remotes/origin/${short}`];
  let statusRef: string | undefined;
  let statusCommit: string | undefined;
  for (const ref of candidates) {
    const oid = await repo.writer.tip(ref);
    if (oid !== undefined) {
      statusRef = ref;
      statusCommit = oid;
      break;
    }
  }
  let notesCommit = repo.remote ? await repo.writer.fetchRemoteRef(opts.notesRef) : await repo.writer.tip(opts.notesRef);
  if (notesCommit === undefined && repo.remote) notesCommit = await repo.writer.tip(opts.notesRef);
  if (statusCommit === undefined && notesCommit === undefined) {
    throw new CoxError(
      "BranchNotFound",
      `${repo.location} has neither the status branch ${short} nor the notes ${opts.notesRef}: coxswain has not written here yet, or this clone did not fetch them (git fetch origin ${short}:${short} '${opts.notesRef}:${opts.notesRef}')`,
      { details: { statusBranch: short, notesRef: opts.notesRef } },
    );
  }
  const out: RecordedStatus = { state: { commits: [], workloads: [], extra: [] }, problems: [], notes: new Map() };
  if (statusCommit !== undefined) {
    const parsed = parseStatusTree(await repo.writer.readFiles(statusCommit, ""));
    out.state = parsed.state;
    out.problems = parsed.problems;
    out.statusRef = statusRef!;
    out.statusCommit = statusCommit;
    const info = await repo.reader.readCommit(statusCommit);
    out.statusWrittenAt = new Date(info.author.timestamp * 1000).toISOString();
  }
  if (notesCommit !== undefined) {
    out.notesCommit = notesCommit;
    for (const f of await repo.writer.readFiles(notesCommit, "")) {
      const commit = f.path.replace(/\//g, "");
      if (/^[0-9a-f]{40}$/.test(commit)) out.notes.set(commit, f.content.replace(/\n+$/, ""));
    }
  }
  return out;
}

/** A note of a processed commit read back: "coxswain: <Phase> — <message>". Undefined for other notes (plans, people's). */
export function parseNote(text: string): { phase: CommitPhase; message: string } | undefined {
  const m = /^coxswain: ([A-Za-z]+)(?: — (.*))?$/.exec(text.split("\n", 1)[0]!.trim());
  if (!m || !(COMMIT_PHASES as readonly string[]).includes(m[1]!)) return undefined;
  return { phase: m[1] as CommitPhase, message: m[2] ?? "" };
}

/** One processed commit in the deploy log. */
export interface HistoryEntry {
  commit: string;
  /** When coxswain saw it (ISO), or for an entry known from its note only, the commit's author date. */
  date: string;
  subject: string;
  phase: CommitPhase;
  message: string;
  branch?: string;
  /** ISO times and duration from the commit record. */
  finished?: string;
  durationMs?: number;
  /** Where the entry comes from: the commit record on the status branch, or only the note. */
  source: "record" | "note";
}

/**
 * The deploy log: one entry per processed commit, newest first — commit records (sorted by when they were
 * seen), plus commits that only have a coxswain note (dated by `commitDate`, which may return undefined
 * for a commit the clone lacks). Ties are broken by oid. `branch` keeps only records of that branch
 * (note-only entries carry no branch and are kept). Pure given commitDate/subject lookups.
 */
export function buildHistory(
  records: readonly CommitRecord[],
  notes: ReadonlyMap<string, string>,
  lookup: ReadonlyMap<string, { date: string; subject: string }>,
  opts: { branch?: string; limit?: number } = {},
): HistoryEntry[] {
  const out: HistoryEntry[] = [];
  const recorded = new Set<string>();
  for (const r of records) {
    recorded.add(r.commit);
    if (opts.branch !== undefined && r.branch !== opts.branch) continue;
    const e: HistoryEntry = { commit: r.commit, date: r.timings.seen, subject: r.subject, phase: r.phase, message: r.message, branch: r.branch, source: "record" };
    if (r.timings.finished !== undefined) e.finished = r.timings.finished;
    if (r.timings.durationMs !== undefined) e.durationMs = r.timings.durationMs;
    out.push(e);
  }
  for (const [commit, text] of notes) {
    if (recorded.has(commit)) continue;
    const note = parseNote(text);
    if (!note) continue;
    const info = lookup.get(commit);
    out.push({ commit, date: info?.date ?? "", subject: info?.subject ?? "", phase: note.phase, message: note.message, source: "note" });
  }
  out.sort((a, b) => (a.date < b.date ? 1 : a.date > b.date ? -1 : a.commit < b.commit ? -1 : a.commit > b.commit ? 1 : 0));
  return opts.limit === undefined ? out : out.slice(0, Math.max(0, opts.limit));
}
