/**
 * `coxswain history --repo <path|url> [--branch B] [--limit N] [--output json]`: the deploy log — one line
 * per processed commit, newest first (short oid, when coxswain saw it, phase, subject, result) — from the
 * commit records on the status branch and the coxswain notes, read from any clone or through a mirror of a
 * URL. Never reaches the operator.
 */
import { CoxError } from "../api/errors.js";
import { buildHistory, readRecords, type HistoryEntry } from "../status/reader.js";
import { parse, parseWholeNumber } from "./args.js";
import { openForReading, READ_FLAGS, table } from "./status.js";

/** Help text of `coxswain history`. */
export const HISTORY_USAGE = `coxswain history --repo <path|url> [flags]

  --repo <path|url>             a clone or bare repository on disk, or an http(s) URL
  --branch <name>               only commits recorded for this deploy branch (default: all)
  --limit <n>                   at most n entries, newest first (default 50)
  --status-branch <name>        where coxswain writes status (default coxswain/status)
  --notes-ref <ref>             per-commit notes (default refs/notes/coxswain)
  --state-dir <dir>             keep the mirror of a URL there (default: a temporary directory, removed after)
  --git-credentials-file <f>    username=/password= file for a URL (else COXSWAIN_GIT_USERNAME/PASSWORD)
  --output json                 machine-readable output`;

/** Default number of entries. */
const DEFAULT_HISTORY_LIMIT = 50;

/** The flags of `coxswain history`. */
export const HISTORY_FLAGS = { ...READ_FLAGS, limit: { type: "string" } } as const;

/** Prints the deploy log; resolves with the exit code (0; nothing recorded throws BranchNotFound → 1). */
export async function historyCommand(argv: string[], out: (line: string) => void): Promise<number> {
  const { values } = parse(argv, HISTORY_FLAGS);
  const output = values.output ?? "text";
  if (output !== "text" && output !== "json") throw new CoxError("InvalidArgument", `--output: expected json (got ${JSON.stringify(values.output)})`);
  let limit = DEFAULT_HISTORY_LIMIT;
  if (values.limit !== undefined) limit = parseWholeNumber("--limit", values.limit, 1);
  const opened = await openForReading(values);
  try {
    for (const w of opened.warnings) process.stderr.write(`warning: ${w}\n`);
    const rec = await readRecords(opened.repo, {
      statusBranch: values["status-branch"] ?? "coxswain/status",
      notesRef: values["notes-ref"] ?? "refs/notes/coxswain",
    });
    // Commits known only from a note: their subject and date come from the commit, when this clone has it.
    const recorded = new Set(rec.state.commits.map((c) => c.commit));
    const lookup = new Map<string, { date: string; subject: string }>();
    for (const commit of rec.notes.keys()) {
      if (recorded.has(commit)) continue;
      try {
        const info = await opened.repo.reader.readCommit(commit);
        lookup.set(commit, { date: new Date(info.author.timestamp * 1000).toISOString(), subject: info.message.split("\n", 1)[0] ?? "" });
      } catch {
        // Not in this clone (e.g. a rewritten branch's commit): listed without subject and date.
      }
    }
    const entries = buildHistory(rec.state.commits, rec.notes, lookup, { ...(values.branch ? { branch: values.branch } : {}), limit });
    if (output === "json") out(JSON.stringify(entries, null, 2));
    else for (const line of formatHistory(entries)) out(line);
    return 0;
  } finally {
    await opened.close();
  }
}

/** Subjects longer than this are cut with "…" in the human output. */
const SUBJECT_WIDTH = 50;

/** The human form: aligned columns COMMIT, DATE, PHASE, SUBJECT, RESULT; "no processed commits" when empty. Pure. */
function formatHistory(entries: readonly HistoryEntry[]): string[] {
  if (entries.length === 0) return ["no processed commits recorded"];
  const cut = (s: string): string => (s.length <= SUBJECT_WIDTH ? s : `${s.slice(0, SUBJECT_WIDTH - 1)}…`);
  return table(
    ["COMMIT", "DATE", "PHASE", "SUBJECT", "RESULT"],
    entries.map((e) => [e.commit.slice(0, 7), e.date ? e.date.replace(/\.\d+Z$/, "Z") : "-", e.phase, cut(e.subject.replace(/\s+/g, " ")), e.message.replace(/\s+/g, " ")]),
  );
}
