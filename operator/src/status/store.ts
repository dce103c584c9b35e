/**
 * What coxswain records in Git, held in memory, and its rendering into the status branch tree:
 *
 *   summary.yaml
 *   workloads/<namespace>/<kind lower>-<name>.yaml      (cluster-scoped kinds: namespace "_cluster")
 *   commits/<oid[0:2]>/<oid>.yaml
 *   plans/<proposal>.yaml                                (renderPlan, written through setFile; see planName)
 *   anything else                                        (kept verbatim)
 *
 * Rendering is a pure function of the records: keys in a fixed order, every list sorted as status/types.ts
 * says, no clocks of its own. The same records always give the same bytes, so recomputing the same state
 * writes no new status commit. Parsing reads the same tree back (after an operator restart).
 */
import { parse, stringify } from "yaml";
import { dataEqual } from "../api/canonical.js";
import { CoxError } from "../api/errors.js";
import type { Condition, WorkloadEvent } from "../api/conditions.js";
import type { TreeFile } from "../source/types.js";
import { parseStatusRecord, statusFileKind } from "./schemas.js";
import type { CommitPhase, CommitRecord, PlanRecord, RecordedError, RecordedPod, SummaryRecord, WorkloadRecord } from "./types.js";

/** The path of the summary file. */
const SUMMARY_PATH = "summary.yaml";
/** The directory segment used for cluster-scoped objects (empty namespace). */
export const CLUSTER_SCOPE = "_cluster";
/** A workload keeps at most this many events, the most recent last. */
const MAX_EVENTS = 20;

/** Everything the status branch holds. */
export interface StatusState {
  summary?: SummaryRecord;
  commits: CommitRecord[];
  workloads: WorkloadRecord[];
  /** Files under other paths (e.g. written by a newer coxswain); kept verbatim so a flush never drops them. */
  extra: TreeFile[];
}

/** commits/<oid[0:2]>/<oid>.yaml */
export function commitPath(oid: string): string {
  return `commits/${oid.slice(0, 2)}/${oid}.yaml`;
}

/** workloads/<namespace>/<kind lower>-<name>.yaml */
export function workloadPath(kind: string, namespace: string, name: string): string {
  return `workloads/${namespace === "" ? CLUSTER_SCOPE : namespace}/${kind.toLowerCase()}-${name}.yaml`;
}

/**
 * The file of a proposal's plan: plans/<name>.yaml (name from planName: "pr-login", "pr-12").
 * InvalidArgument for a name that is not a valid relative path (empty, ".", "..", ".git" segments).
 */
export function planPath(name: string): string {
  assertTreePath(name);
  return `plans/${name}.yaml`;
}

/**
 * The plan name of a proposal (status/types.ts PlanRecord): a branch with "/" → "-" ("pr/login" →
 * "pr-login"), a pull or merge request "pr-<n>". Distinct proposals can share a name (branches "a/b" and
 * "a-b", branch "pr-12" and pull request 12): the plan records its `ref`, so a reader can tell. Pure.
 */
export function planName(proposal: { kind: "branch" | "pull"; name: string; number?: number }): string {
  return proposal.kind === "pull" ? `pr-${proposal.number ?? proposal.name.replace(/^.*\//, "")}` : proposal.name.replace(/\//g, "-");
}

/**
 * Renders a plan as the status branch stores it: fixed key order (as PlanRecord declares), changes in
 * the given (apply) order, each change's fields and placements sorted, errors sorted as in commit
 * records. Same plan, same bytes. Pure.
 */
export function renderPlan(plan: PlanRecord): string {
  return toYaml(orderPlan(plan));
}

/** Reads a rendered plan back; InvalidArgument when it is not a plan. */
export function parsePlan(text: string): PlanRecord {
  let doc: unknown;
  try {
    doc = parse(text);
  } catch (err) {
    throw new CoxError("InvalidArgument", `not a plan: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (!doc || typeof doc !== "object" || Array.isArray(doc)) throw new CoxError("InvalidArgument", "not a plan: expected a YAML mapping");
  const rec = doc as Record<string, unknown>;
  if (typeof rec.ref !== "string" || typeof rec.commit !== "string" || typeof rec.valid !== "boolean") {
    throw new CoxError("InvalidArgument", "not a plan: expected ref, commit (strings) and valid (boolean)");
  }
  return orderPlan(rec as unknown as PlanRecord);
}

/** True for paths the record layout owns (summary, commit and workload files). */
function isRecordPath(path: string): boolean {
  return path === SUMMARY_PATH || COMMIT_FILE.test(path) || WORKLOAD_FILE.test(path);
}

const COMMIT_FILE = /^commits\/[0-9a-f]{2}\/[0-9a-f]{40}\.yaml$/;
const WORKLOAD_FILE = /^workloads\/[^/]+\/[^/]+\.yaml$/;

function assertTreePath(path: string): void {
  if (path.split("/").some((p) => p === "" || p === "." || p === ".." || p === ".git")) {
    throw new CoxError("InvalidArgument", `invalid status file path ${JSON.stringify(path)}: expected a relative path like "plans/pr/a.yaml" without empty, ".", ".." or ".git" segments`);
  }
}

/**
 * The note written on a deploy commit: one line, e.g.
 * "coxswain: Succeeded — 3/3 pods of Deployment/default/web ready (revision 5d8f7c9b6)".
 * Whitespace is collapsed and the line is capped at 200 characters: notes are small markers, the full
 * record lives on the status branch.
 */
export function noteText(record: CommitRecord): string {
  const message = record.message.replace(/\s+/g, " ").trim();
  const line = message === "" ? `coxswain: ${record.phase}` : `coxswain: ${record.phase} — ${message}`;
  return line.length <= 200 ? line : `${line.slice(0, 199)}…`;
}

/** Renders the status tree: one file per record plus the extra files, sorted by path. Pure. */
export function renderStatusTree(state: StatusState): TreeFile[] {
  const files = new Map<string, string>();
  for (const f of state.extra) files.set(f.path, f.content);
  if (state.summary) files.set(SUMMARY_PATH, toYaml(orderSummary(state.summary)));
  for (const w of state.workloads) files.set(workloadPath(w.kind, w.namespace, w.name), toYaml(orderWorkload(w)));
  for (const c of state.commits) files.set(commitPath(c.commit), toYaml(orderCommit(c)));
  return [...files.entries()].map(([path, content]) => ({ path, content })).sort((a, b) => cmp(a.path, b.path));
}

/** What parseStatusTree found. */
export interface ParsedStatusTree {
  state: StatusState;
  /**
   * Files that hold a record kind (status/schemas.ts) but could not be read as one, with why (without the
   * path); each is kept verbatim in `extra` and counts as absent.
   */
  problems: { path: string; message: string }[];
}

/**
 * Reads a status tree back into records (the inverse of renderStatusTree for the files it wrote). Every
 * file of a record kind is checked against its schema, the per-kind files kept in `extra` (jobs/, claims/, …)
 * included, so that a broken one is reported once here, naming the file.
 */
export function parseStatusTree(files: readonly TreeFile[]): ParsedStatusTree {
  const state: StatusState = { commits: [], workloads: [], extra: [] };
  const problems: { path: string; message: string }[] = [];
  for (const f of [...files].sort((a, b) => cmp(a.path, b.path))) {
    const kind = statusFileKind(f.path);
    if (kind !== "summary" && kind !== "commit" && kind !== "workload") {
      state.extra.push({ path: f.path, content: f.content });
      if (kind === undefined) continue;
    }
    try {
      const rec = parseStatusRecord(kind, f.content, f.path);
      if (kind === "summary") {
        state.summary = orderSummary(rec as unknown as SummaryRecord);
      } else if (kind === "commit") {
        if (commitPath(rec.commit as string) !== f.path) throw new Error(`commit ${String(rec.commit)} does not match its file name`);
        state.commits.push(orderCommit(rec as unknown as CommitRecord));
      } else if (kind === "workload") {
        const w = rec as unknown as WorkloadRecord;
        if (workloadPath(w.kind, w.namespace, w.name) !== f.path) throw new Error(`${w.kind}/${w.namespace}/${w.name} does not match its file name`);
        state.workloads.push(orderWorkload(w));
      }
    } catch (err) {
      const reason = err instanceof CoxError && typeof err.details?.reason === "string" ? err.details.reason : err instanceof Error ? err.message : String(err);
      problems.push({ path: f.path, message: reason });
      // Kept verbatim (like files we do not own), so a flush never deletes what it could not read; a
      // record set later for the same path replaces it.
      if (kind === "summary" || kind === "commit" || kind === "workload") state.extra.push({ path: f.path, content: f.content });
    }
  }
  return { state, problems };
}

/** What mergeStatusTrees decided. */
export interface MergedStatusTrees {
  /** The merged tree, sorted by path. */
  files: TreeFile[];
  /** Paths where the result differs from ours (their change adopted); content undefined = removed. */
  adopted: { path: string; content?: string }[];
}

/**
 * Three-way merge of status trees, per file, ours winning: for each path, when ours differs from
 * `base` (we changed it, added it or removed it) ours is kept; else theirs is taken (their change, their
 * addition, their removal). `base` is the last tree both sides are known to share (the remote tip we
 * last pushed or read); with no base (empty) every path both sides have is ours and every path only
 * they have is added — no record of either side is lost. Pure.
 */
export function mergeStatusTrees(base: readonly TreeFile[], ours: readonly TreeFile[], theirs: readonly TreeFile[]): MergedStatusTrees {
  const b = new Map(base.map((f) => [f.path, f.content]));
  const o = new Map(ours.map((f) => [f.path, f.content]));
  const t = new Map(theirs.map((f) => [f.path, f.content]));
  const out = new Map<string, string>();
  const adopted: { path: string; content?: string }[] = [];
  for (const path of [...new Set([...b.keys(), ...o.keys(), ...t.keys()])].sort(cmp)) {
    const ob = o.get(path);
    const tb = t.get(path);
    const weChanged = ob !== b.get(path);
    const result = weChanged ? ob : tb;
    if (result !== undefined) out.set(path, result);
    if (result !== ob) adopted.push(result === undefined ? { path } : { path, content: result });
  }
  return { files: [...out.entries()].map(([path, content]) => ({ path, content })), adopted };
}

/**
 * The records coxswain keeps, in memory. Setters store copies and bump `version` only when the data
 * actually changed, so a writer can tell "nothing new" without rendering. Getters return copies.
 */
export class StatusStore {
  private summaryRec: SummaryRecord | undefined;
  private readonly commitRecs = new Map<string, CommitRecord>();
  private readonly workloadRecs = new Map<string, WorkloadRecord>();
  private readonly extraFiles = new Map<string, string>();
  private readonly extraNotes = new Map<string, string>();
  /**
   * Record path → the record as stored and, once a flush asked for it, its YAML: a record is rendered at most
   * once per change, and only when it is written — a workload whose pods come up one at a time changes
   * hundreds of times between two flushes, and rendering each change was a third of what the operator
   * allocated while it brought 1,000 pods up.
   */
  private readonly rendered = new Map<string, { record: object; yaml?: string }>();
  private changes = 0;

  /**
   * `onCommitPhase` is called when setCommit records a commit in a phase other than the one it had (or a
   * new commit), with the phase it had and the record; `onWorkload` when setWorkload changes a record,
   * with the one it replaces. Records read back from Git (applyFiles, merge) are not reported.
   */
  constructor(
    private readonly opts: {
      onCommitPhase?: (phase: CommitPhase, previous: CommitPhase | undefined, record: CommitRecord) => void;
      onWorkload?: (record: WorkloadRecord, previous: WorkloadRecord | undefined) => void;
    } = {},
  ) {}

  /** Increases whenever a record changed; equal versions mean equal contents. */
  get version(): number {
    return this.changes;
  }

  /** Records (or replaces) a processed commit. */
  setCommit(record: CommitRecord): void {
    const previous = this.commitRecs.get(record.commit)?.phase;
    if (!this.putCommit(record) || previous === record.phase) return;
    try {
      this.opts.onCommitPhase?.(record.phase, previous, structuredClone(record));
    } catch {
      // An observer must not change what is recorded.
    }
  }

  /** Stores a commit record; false when it was already there as it is. */
  private putCommit(record: CommitRecord): boolean {
    const rec = orderCommit(record);
    if (dataEqual(this.commitRecs.get(rec.commit), rec)) return false;
    this.commitRecs.set(rec.commit, rec);
    this.rendered.set(commitPath(rec.commit), { record: rec });
    this.changes++;
    return true;
  }

  /** Forgets a commit record (its file disappears at the next flush). Used when adopting another writer's removal. */
  removeCommit(oid: string): void {
    if (this.commitRecs.delete(oid)) {
      this.rendered.delete(commitPath(oid));
      this.changes++;
    }
  }

  /** The record of a commit, if any. */
  getCommit(oid: string): CommitRecord | undefined {
    const rec = this.commitRecs.get(oid);
    return rec && structuredClone(rec);
  }

  /** Every commit record, sorted by commit oid. */
  commits(): CommitRecord[] {
    return [...this.commitRecs.values()].sort((a, b) => cmp(a.commit, b.commit)).map((r) => structuredClone(r));
  }

  /** Records (or replaces) a workload. */
  setWorkload(record: WorkloadRecord): void {
    const previous = this.putWorkload(record);
    if (previous === false) return;
    try {
      this.opts.onWorkload?.(structuredClone(this.workloadRecs.get(workloadPath(record.kind, record.namespace, record.name))!), previous);
    } catch {
      // An observer must not change what is recorded.
    }
  }

  /** Stores a workload record; false when it was already there as it is, else the record it replaced. */
  private putWorkload(record: WorkloadRecord): WorkloadRecord | undefined | false {
    const rec = orderWorkload(record);
    const key = workloadPath(rec.kind, rec.namespace, rec.name);
    const previous = this.workloadRecs.get(key);
    if (dataEqual(previous, rec)) return false;
    this.workloadRecs.set(key, rec);
    this.rendered.set(key, { record: rec });
    this.changes++;
    return previous;
  }

  /** The record of a workload, if any. */
  getWorkload(kind: string, namespace: string, name: string): WorkloadRecord | undefined {
    const rec = this.workloadRecs.get(workloadPath(kind, namespace, name));
    return rec && structuredClone(rec);
  }

  /** Every workload record, sorted by file path (namespace, kind, name). */
  workloads(): WorkloadRecord[] {
    return [...this.workloadRecs.entries()].sort((a, b) => cmp(a[0], b[0])).map(([, r]) => structuredClone(r));
  }

  /** Forgets a workload (it was pruned from Git); its file disappears at the next flush. */
  removeWorkload(kind: string, namespace: string, name: string): void {
    const key = workloadPath(kind, namespace, name);
    if (this.workloadRecs.delete(key)) {
      this.rendered.delete(key);
      this.changes++;
    }
  }

  /** Sets summary.yaml. */
  setSummary(summary: SummaryRecord): void {
    const rec = orderSummary(summary);
    if (dataEqual(this.summaryRec, rec)) return;
    this.summaryRec = rec;
    this.rendered.set(SUMMARY_PATH, { record: rec });
    this.changes++;
  }

  /** Removes summary.yaml (adopting another writer's removal). */
  removeSummary(): void {
    if (this.summaryRec) {
      this.summaryRec = undefined;
      this.rendered.delete(SUMMARY_PATH);
      this.changes++;
    }
  }

  /** The summary, if one was set or loaded. */
  summary(): SummaryRecord | undefined {
    return this.summaryRec && structuredClone(this.summaryRec);
  }

  /**
   * Sets (or with undefined, removes) a file outside the record layout, e.g. a plan (planPath); kept
   * verbatim. InvalidArgument for an invalid path or one the record layout owns (summary.yaml,
   * commits/…, workloads/…): records go through their own setters.
   */
  setFile(path: string, content: string | undefined): void {
    assertTreePath(path);
    if (isRecordPath(path) && content !== undefined) {
      throw new CoxError("InvalidArgument", `status file ${path} belongs to the record layout; use setCommit/setWorkload/setSummary`);
    }
    this.putExtra(path, content);
  }

  /** Removes a file set with setFile (e.g. the plan of a merged or deleted proposal). */
  removeFile(path: string): void {
    this.putExtra(path, undefined);
  }

  /** A file set with setFile (or read back), if any. */
  getFile(path: string): string | undefined {
    return this.extraFiles.get(path);
  }

  /** Paths of the files set with setFile under `prefix` (e.g. "plans/"), sorted. */
  filePaths(prefix = ""): string[] {
    return [...this.extraFiles.keys()].filter((p) => p.startsWith(prefix)).sort(cmp);
  }

  /**
   * Asks for a note on `commit` that no commit record provides, e.g. the plan of a proposal head
   * (undefined forgets the request; an existing note stays in Git). A commit record's note wins over
   * this one. Trailing newlines are dropped (git adds one).
   */
  setNote(commit: string, text: string | undefined): void {
    if (text === undefined) {
      if (this.extraNotes.delete(commit)) this.changes++;
      return;
    }
    const t = text.replace(/\n+$/, "");
    if (this.extraNotes.get(commit) === t) return;
    this.extraNotes.set(commit, t);
    this.changes++;
  }

  /**
   * The note coxswain wants on each commit: the commit record's one line (noteText), else what
   * setNote asked for. Sorted by commit.
   */
  wantedNotes(): Map<string, string> {
    const out = new Map<string, string>();
    for (const [commit, text] of this.extraNotes) out.set(commit, text);
    for (const rec of this.commitRecs.values()) out.set(rec.commit, noteText(rec));
    return new Map([...out.entries()].sort((a, b) => cmp(a[0], b[0])));
  }

  /**
   * The status tree of everything held, sorted by path; equal to renderStatusTree(snapshot()) but
   * without rendering records again (each is rendered once after it changed, by the first call that needs it).
   */
  renderedTree(): TreeFile[] {
    const files = new Map<string, string>(this.extraFiles);
    for (const [path, r] of this.rendered) files.set(path, (r.yaml ??= toYaml(r.record)));
    return [...files.entries()].map(([path, content]) => ({ path, content })).sort((a, b) => cmp(a.path, b.path));
  }

  /**
   * Applies file-level changes (another writer's, adopted by mergeStatusTrees) to the records: a record
   * file is parsed and set (or removed), any other path goes to setFile. A record file that cannot be
   * read is kept verbatim and returned as a problem.
   */
  applyFiles(changes: readonly { path: string; content?: string }[]): { path: string; message: string }[] {
    const problems: { path: string; message: string }[] = [];
    for (const c of changes) {
      if (c.content === undefined) {
        const commit = /^commits\/[0-9a-f]{2}\/([0-9a-f]{40})\.yaml$/.exec(c.path);
        if (c.path === SUMMARY_PATH) this.removeSummary();
        else if (commit) this.removeCommit(commit[1]!);
        else {
          const w = this.workloadRecs.get(c.path);
          if (w) this.removeWorkload(w.kind, w.namespace, w.name);
        }
        this.putExtra(c.path, undefined);
        continue;
      }
      const parsed = parseStatusTree([{ path: c.path, content: c.content }]);
      problems.push(...parsed.problems);
      const { summary, commits, workloads, extra } = parsed.state;
      if (summary) this.setSummary(summary);
      for (const r of commits) this.putCommit(r);
      for (const w of workloads) this.putWorkload(w);
      for (const f of extra) this.putExtra(f.path, f.content);
    }
    return problems;
  }

  private putExtra(path: string, content: string | undefined): void {
    if (content === undefined) {
      if (this.extraFiles.delete(path)) this.changes++;
    } else if (this.extraFiles.get(path) !== content) {
      this.extraFiles.set(path, content);
      this.changes++;
    }
  }

  /** A copy of everything, for rendering. */
  snapshot(): StatusState {
    return {
      ...(this.summaryRec ? { summary: structuredClone(this.summaryRec) } : {}),
      commits: this.commits(),
      workloads: this.workloads(),
      extra: [...this.extraFiles.entries()].map(([path, content]) => ({ path, content })).sort((a, b) => cmp(a.path, b.path)),
    };
  }

  /**
   * Adds loaded records for everything the store does not hold yet (what was set since start wins over
   * what was read back from Git).
   */
  merge(state: StatusState): void {
    if (state.summary && !this.summaryRec) this.setSummary(state.summary);
    for (const c of state.commits) if (!this.commitRecs.has(c.commit)) this.putCommit(c);
    for (const w of state.workloads) if (!this.workloadRecs.has(workloadPath(w.kind, w.namespace, w.name))) this.putWorkload(w);
    for (const f of state.extra) if (!this.extraFiles.has(f.path)) this.putExtra(f.path, f.content);
  }
}

// ---------------------------------------------------------------- fixed key order and sorted lists

function orderCommit(c: CommitRecord): CommitRecord {
  const timings: CommitRecord["timings"] = { seen: c.timings?.seen ?? "" };
  if (c.timings?.applied !== undefined) timings.applied = c.timings.applied;
  if (c.timings?.finished !== undefined) timings.finished = c.timings.finished;
  if (c.timings?.durationMs !== undefined) timings.durationMs = c.timings.durationMs;
  const out: CommitRecord = {
    commit: c.commit,
    branch: c.branch,
    subject: c.subject,
    phase: c.phase as CommitPhase,
    message: c.message,
    changes: [...(c.changes ?? [])].sort(cmp),
    errors: (c.errors ?? []).map(orderError).sort(compareErrors),
    timings,
  };
  if (c.quarantined !== undefined) out.quarantined = c.quarantined;
  if (c.supersededBy !== undefined) out.supersededBy = c.supersededBy;
  if (c.rollback) out.rollback = { to: c.rollback.to, code: c.rollback.code, reason: c.rollback.reason };
  if (c.revert) {
    out.revert = { state: c.revert.state, ...(c.revert.commit !== undefined ? { commit: c.revert.commit } : {}), message: c.revert.message };
  }
  if (c.historyRewritten !== undefined) out.historyRewritten = c.historyRewritten;
  if (c.plan !== undefined) out.plan = c.plan;
  return withRest(out, c);
}

function orderError(e: RecordedError): RecordedError {
  const out: RecordedError = { code: e.code, message: e.message };
  if (e.file !== undefined) out.file = e.file;
  if (e.line !== undefined) out.line = e.line;
  if (e.col !== undefined) out.col = e.col;
  if (e.object !== undefined) out.object = e.object;
  if (e.field !== undefined) out.field = e.field;
  return withRest(out, e);
}

function compareErrors(a: RecordedError, b: RecordedError): number {
  return cmp(a.file ?? "", b.file ?? "") || (a.line ?? 0) - (b.line ?? 0) || (a.col ?? 0) - (b.col ?? 0) || cmp(a.code, b.code) || cmp(a.field ?? "", b.field ?? "") || cmp(a.message, b.message);
}

function orderWorkload(w: WorkloadRecord): WorkloadRecord {
  const r = w.replicas ?? ({} as WorkloadRecord["replicas"]);
  // Events: oldest first, the last MAX_EVENTS kept; the sort is stable so same-time events keep their order.
  const events = [...(w.events ?? [])]
    .map(orderEvent)
    .sort((a, b) => cmp(a.time, b.time))
    .slice(-MAX_EVENTS);
  const out: WorkloadRecord = {
    kind: w.kind,
    namespace: w.namespace,
    name: w.name,
    revision: w.revision,
    commit: w.commit,
    replicas: { desired: r.desired ?? 0, current: r.current ?? 0, updated: r.updated ?? 0, ready: r.ready ?? 0, available: r.available ?? 0 },
    pods: (w.pods ?? []).map(orderPod).sort((a, b) => cmp(a.name, b.name)),
    conditions: (w.conditions ?? []).map(orderCondition).sort((a, b) => cmp(a.type, b.type)),
    events,
  };
  if (w.daemonSet) out.daemonSet = sortedKeys({ ...w.daemonSet, nodes: [...(w.daemonSet.nodes ?? [])].sort() }) as NonNullable<WorkloadRecord["daemonSet"]>;
  if (w.strategy !== undefined) out.strategy = w.strategy;
  if (w.stable) out.stable = { revision: w.stable.revision, commit: w.stable.commit };
  if (w.revisions) {
    out.revisions = w.revisions.map((v) => ({ number: v.number, revision: v.revision, commit: v.commit })).sort((a, b) => a.number - b.number);
  }
  if (w.paused !== undefined) out.paused = w.paused;
  // Strategy state: every field kept, keys sorted (the controller persists what it must remember here).
  if (w.canary) out.canary = sortedKeys(w.canary) as NonNullable<WorkloadRecord["canary"]>;
  if (w.blueGreen) out.blueGreen = sortedKeys(w.blueGreen) as NonNullable<WorkloadRecord["blueGreen"]>;
  if (w.traffic) out.traffic = sortedKeys(w.traffic) as NonNullable<WorkloadRecord["traffic"]>;
  return withRest(out, w);
}

/** A copy with keys sorted at every level and undefined values dropped. */
function sortedKeys(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(sortedKeys);
  if (v && typeof v === "object") {
    const out: Record<string, unknown> = {};
    for (const k of Object.keys(v).sort()) {
      const x = (v as Record<string, unknown>)[k];
      if (x !== undefined) out[k] = sortedKeys(x);
    }
    return out;
  }
  return v;
}

function orderPod(p: RecordedPod): RecordedPod {
  const out: RecordedPod = { name: p.name, node: p.node, revision: p.revision, ready: p.ready, endpoints: [...(p.endpoints ?? [])].sort(cmp) };
  if (p.restarts !== undefined) out.restarts = p.restarts;
  if (p.state !== undefined) out.state = p.state;
  return withRest(out, p);
}

function orderCondition(c: Condition): Condition {
  return { type: c.type, status: c.status, reason: c.reason, message: c.message, lastTransitionTime: c.lastTransitionTime };
}

function orderEvent(e: WorkloadEvent): WorkloadEvent {
  return { time: e.time, type: e.type, reason: e.reason, message: e.message };
}

function orderSummary(s: SummaryRecord): SummaryRecord {
  const w = s.workloads ?? { total: 0, ready: 0, progressing: 0, failed: 0 };
  const nodes = (s.nodes ?? [])
    .map((n) => {
      const node: SummaryRecord["nodes"][number] = { name: n.name, ready: n.ready, pods: n.pods };
      if (n.message !== undefined) node.message = n.message;
      if (n.cordoned !== undefined) node.cordoned = n.cordoned;
      if (n.draining !== undefined) node.draining = n.draining;
      if (n.leaving !== undefined) node.leaving = n.leaving;
      return withRest(node, n);
    })
    .sort((a, b) => cmp(a.name, b.name));
  // The documented key order: where, what was processed and applied, what is proven and what is barred, faults, counts, nodes.
  const out: SummaryRecord = {
    repository: s.repository,
    branch: s.branch,
    path: s.path,
    ...(s.head ? { head: { commit: s.head.commit, phase: s.head.phase } } : {}),
    ...(s.applied !== undefined ? { applied: s.applied } : {}),
    ...(s.stable !== undefined ? { stable: s.stable } : {}),
    ...(s.quarantined !== undefined ? { quarantined: [...new Set(s.quarantined)].sort(cmp) } : {}),
    ...(s.faults !== undefined ? { faults: s.faults.map((f) => ({ where: f.where, code: f.code, message: f.message, since: f.since })).sort((a, b) => cmp(a.where, b.where)) } : {}),
    workloads: { total: w.total ?? 0, ready: w.ready ?? 0, progressing: w.progressing ?? 0, failed: w.failed ?? 0 },
    nodes,
  };
  return withRest(out, s);
}

function orderPlan(p: PlanRecord): PlanRecord {
  const out: PlanRecord = {
    ref: p.ref,
    commit: p.commit,
    ...(p.base !== undefined ? { base: p.base } : {}),
    valid: p.valid,
    errors: (p.errors ?? []).map(orderError).sort(compareErrors),
    changes: (p.changes ?? []).map((c) => {
      const change: PlanRecord["changes"][number] = { action: c.action, key: c.key, fields: [...(c.fields ?? [])].sort(cmp) };
      if (c.details) change.details = [...c.details];
      if (c.rollsTo) change.rollsTo = { revision: c.rollsTo.revision, replicas: c.rollsTo.replicas };
      if (c.placements) {
        change.placements = c.placements
          .map((x) => withRest({ pod: x.pod, ...(x.node !== undefined ? { node: x.node } : {}), fits: x.fits, ...(x.message !== undefined ? { message: x.message } : {}) }, x))
          .sort((a, b) => cmp(a.pod, b.pod));
      }
      return withRest(change, c);
    }),
  };
  if (p.preview) {
    out.preview = { namespace: p.preview.namespace, state: p.preview.state, ...(p.preview.expiresAt !== undefined ? { expiresAt: p.preview.expiresAt } : {}) };
  }
  return withRest(out, p);
}

/**
 * Adds the fields of `source` that `known` does not have (fields a newer coxswain or a newer types.ts
 * added), sorted by name after the known ones, so a record is never silently cut down on its way
 * through the store. Undefined values are dropped, as YAML cannot hold them.
 */
function withRest<T extends object>(known: T, source: object): T {
  const extra = Object.keys(source)
    .filter((k) => !(k in known) && (source as Record<string, unknown>)[k] !== undefined)
    .sort(cmp);
  if (extra.length === 0) return known;
  const out = { ...known } as Record<string, unknown>;
  for (const k of extra) out[k] = structuredClone((source as Record<string, unknown>)[k]);
  return out as T;
}

const HEADER = "# Written by coxswain. Do not edit: the next status write replaces this file.\n";

/**
 * YAML 1.2, but quoted wherever a YAML 1.1 reader (kubectl, older tools) would read a string as something
 * else ("yes", "on", timestamps, "0755"), so every reader gets the same strings back.
 */
function toYaml(value: unknown): string {
  return HEADER + stringify(value, { lineWidth: 0, minContentWidth: 0, indentSeq: true, compat: "yaml-1.1" });
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}
