/**
 * The sync loop of one followed branch: a new commit → manifests → graph → diff → the controllers'
 * keys, and the commit's record in the status branch.
 *
 * Guarantees:
 * - A commit with any error applies nothing: the previous graph stays applied (what runs keeps running)
 *   and the errors are recorded on the commit (phase Invalid).
 * - Only the branch head is processed; commits pushed in a burst are never rolled out one by one.
 *   A commit still Progressing when a newer one is applied becomes Superseded.
 * - After a restart the applied commit is read back from the status branch (summary.applied), so an
 *   invalid head does not make coxswain forget what should run.
 */
import { CoxError, toCoxError } from "../api/errors.js";
import type { ReconcileResult } from "../engine/queue.js";
import type { Manager } from "../engine/manager.js";
import { buildGraph, diffGraphs, formatChange, type DesiredGraph } from "../graph/index.js";
import { isManifestPath, loadManifests } from "../manifest/index.js";
import type { Diagnostic, ManifestFile } from "../manifest/types.js";
import { formatDiagnostic } from "../manifest/types.js";
import type { Fleet } from "../runtime/fleet.js";
import type { Repository } from "../source/types.js";
import type { StatusStore } from "../status/store.js";
import type { CommitRecord, RecordedError, SummaryRecord } from "../status/types.js";
import type { WorkloadEvent } from "../api/conditions.js";
import type { DesiredView, WorkloadReporter, WorkloadState } from "../controllers/types.js";
import type { WorkloadRecord } from "../status/types.js";

/** The key of the branch sync in the work queue. */
export const SOURCE_KEY = "@source";

/** Options of the branch sync. */
export interface BranchSyncOptions {
  repo: Repository;
  branch: string;
  /** Directory of the manifests in the repository ("" = root). */
  path: string;
  manager: Manager;
  fleet: Fleet;
  store: StatusStore;
  /** Asks for a coalesced write of the status branch. */
  scheduleStatusWrite: () => void;
  progress: (line: string) => void;
  /** Makes the fleet match the applied graph's Node objects; awaited before Deployments are queued. */
  applyNodes?: () => Promise<unknown>;
  now?: () => number;
}

/** The result of reading one commit. */
export interface LoadedCommit {
  commit: string;
  graph?: DesiredGraph;
  /** Errors and warnings, sorted. */
  diagnostics: Diagnostic[];
}

/**
 * Reads a commit's manifests under `path` and builds its graph. Pure apart from reading Git; used by the
 * sync loop, `coxswain plan` and `coxswain validate`. `graph` is undefined when there is any error.
 */
export async function loadCommit(repo: Repository, commit: string, path: string, cache?: Map<string, string>): Promise<LoadedCommit> {
  let files;
  try {
    files = await repo.reader.listFiles(commit, path);
  } catch (err) {
    const e = toCoxError(err, "PathNotFound");
    return { commit, diagnostics: [{ code: e.code, severity: "error", file: path || ".", line: 1, col: 1, field: "", message: e.message }] };
  }
  const manifests: ManifestFile[] = [];
  const seen = new Map<string, string>();
  for (const f of files) {
    if (!isManifestPath(f.path)) continue;
    let content = cache?.get(f.oid);
    if (content === undefined) content = new TextDecoder().decode(await repo.reader.readBlob(f.oid));
    seen.set(f.oid, content);
    manifests.push({ path: f.path, content, oid: f.oid });
  }
  // Keep only this commit's blobs: the next commit usually shares most of them.
  if (cache) {
    cache.clear();
    for (const [oid, text] of seen) cache.set(oid, text);
  }
  const set = loadManifests(manifests);
  const built = buildGraph(set.objects);
  const diagnostics = [...set.diagnostics, ...built.diagnostics];
  const hasError = diagnostics.some((d) => d.severity === "error");
  return hasError ? { commit, diagnostics } : { commit, graph: built.graph, diagnostics };
}

/** Follows one branch and turns its head into the applied desired state. */
export class BranchSync implements DesiredView, WorkloadReporter {
  private applied?: { commit: string; graph: DesiredGraph };
  private lastProcessed?: string;
  private readonly states = new Map<string, WorkloadState>();
  private readonly blobCache = new Map<string, string>();
  private readonly now: () => number;

  constructor(private readonly opts: BranchSyncOptions) {
    this.now = opts.now ?? Date.now;
  }

  /** DesiredView: the applied graph. */
  graph(): DesiredGraph | undefined {
    return this.applied?.graph;
  }

  /** DesiredView: the applied commit. */
  commit(): string | undefined {
    return this.applied?.commit;
  }

  /**
   * Restores the applied commit recorded in the status branch (call after the status store was loaded
   * and before the first reconcile), so that an invalid head keeps the last valid state running.
   */
  async restore(): Promise<void> {
    const applied = this.opts.store.summary()?.applied;
    if (!applied) return;
    const loaded = await loadCommit(this.opts.repo, applied, this.opts.path, this.blobCache).catch(() => undefined);
    if (loaded?.graph) {
      this.applied = { commit: applied, graph: loaded.graph };
      this.opts.progress(`restored applied commit ${short(applied)} from the status branch`);
    }
  }

  /** Reconciles the branch: process the head if it moved. */
  async reconcile(_key: string): Promise<ReconcileResult | void> {
    const head = await this.opts.repo.head(this.opts.branch);
    if (!head) {
      throw new CoxError("BranchNotFound", `branch ${this.opts.branch} does not exist in ${this.opts.repo.location}`, { requeueAfterMs: 5_000 });
    }
    if (head === this.lastProcessed) return;
    const before = this.lastProcessed;
    this.lastProcessed = head;
    try {
      await this.process(head);
    } catch (err) {
      // Reading the commit failed (Git error): look at it again on the next reconcile.
      this.lastProcessed = before;
      throw err;
    }
  }

  private async process(commit: string): Promise<void> {
    const info = await this.opts.repo.reader.readCommit(commit);
    const existing = this.opts.store.getCommit(commit);
    const seenAt = this.now();
    const record: CommitRecord = existing ?? {
      commit,
      branch: this.opts.branch,
      subject: info.message.split("\n", 1)[0] ?? "",
      phase: "Pending",
      message: "",
      changes: [],
      errors: [],
      timings: { seen: new Date(seenAt).toISOString() },
    };

    if (this.applied?.commit === commit) {
      // Already applied before a restart: look at everything again, keep the record as it was.
      this.enqueueAll();
      this.evaluate();
      return;
    }

    const t0 = this.now();
    const loaded = await loadCommit(this.opts.repo, commit, this.opts.path, this.blobCache);
    const loadMs = this.now() - t0;
    const errors = loaded.diagnostics.filter((d) => d.severity === "error");
    for (const d of loaded.diagnostics) this.opts.progress(`  ${formatDiagnostic(d)}`);
    if (!loaded.graph || errors.length > 0) {
      const still = this.applied ? `; still running ${short(this.applied.commit)}` : "; nothing applied";
      this.setCommit({
        ...record,
        phase: "Invalid",
        message: `${errors.length} error(s) in manifests, nothing applied${still}`,
        errors: errors.map(toRecordedError),
        timings: { ...record.timings, finished: new Date(this.now()).toISOString(), durationMs: this.now() - seenAt },
      });
      this.opts.progress(`commit ${short(commit)} "${record.subject}": invalid, ${errors.length} error(s), nothing applied${still}`);
      this.writeSummary();
      return;
    }

    const changes = diffGraphs(this.applied?.graph, loaded.graph);
    const previous = this.applied?.commit;
    if (previous) {
      const prev = this.opts.store.getCommit(previous);
      if (prev && (prev.phase === "Progressing" || prev.phase === "Pending")) {
        this.setCommit({
          ...prev,
          phase: "Superseded",
          message: `superseded by ${short(commit)} before it completed`,
          timings: { ...prev.timings, finished: new Date(this.now()).toISOString() },
        });
      }
    }
    this.applied = { commit, graph: loaded.graph };
    const lines = changes.changes.map(formatChange);
    this.setCommit({
      ...record,
      phase: "Progressing",
      message: lines.length === 0 ? "no changes" : `${lines.length} change(s) applied`,
      changes: lines,
      errors: [],
      timings: { ...record.timings, applied: new Date(this.now()).toISOString() },
    });
    this.opts.progress(
      `commit ${short(commit)} "${record.subject}": valid (${loaded.graph.size} objects, read in ${loadMs} ms), ${lines.length} change(s)${lines.length ? ": " + lines.join("; ") : ""}`,
    );
    if (changes.changes.some((c) => c.key.startsWith("Node/"))) await this.opts.applyNodes?.();
    const keys = new Set<string>();
    for (const c of changes.changes) {
      keys.add(c.key);
      const stack = [c.key];
      while (stack.length) for (const d of loaded.graph.dependentsOf(stack.pop()!)) if (!keys.has(d)) (keys.add(d), stack.push(d));
    }
    for (const k of [...keys].sort()) this.enqueueKey(k);
    this.enqueueAll();
    this.evaluate();
  }

  /** Queues every key that may need work: all Deployments desired, every owner observed, the fleet. */
  enqueueAll(): void {
    this.opts.manager.enqueue("Node/*");
    const graph = this.applied?.graph;
    if (!graph) return;
    for (const m of graph.ofKind("Deployment")) this.opts.manager.enqueue(m.key);
    for (const owner of this.opts.fleet.owners()) this.opts.manager.enqueue(owner);
  }

  private enqueueKey(key: string): void {
    const kind = key.split("/", 1)[0];
    if (kind === "Deployment" || kind === "Node") this.opts.manager.enqueue(key);
  }

  /** WorkloadReporter: record a workload and re-evaluate the applied commit's phase. */
  report(record: WorkloadRecord, state: WorkloadState): void {
    this.opts.store.setWorkload(record);
    this.states.set(state.key, state);
    this.evaluate();
  }

  /** WorkloadReporter: a workload is gone. */
  removed(key: string): void {
    const [kind, namespace, name] = key.split("/") as [string, string, string];
    this.opts.store.removeWorkload(kind, namespace, name);
    this.states.delete(key);
    this.evaluate();
  }

  /** WorkloadReporter: events recorded before a restart. */
  previousEvents(key: string): WorkloadEvent[] {
    const [kind, namespace, name] = key.split("/") as [string, string, string];
    return [...(this.opts.store.getWorkload(kind, namespace, name)?.events ?? [])];
  }

  /** WorkloadReporter: console progress. */
  progress(line: string): void {
    this.opts.progress(line);
  }

  /** Derives the applied commit's phase from the workloads' states. */
  evaluate(): void {
    const applied = this.applied;
    if (applied) {
      const record = this.opts.store.getCommit(applied.commit);
      if (record && (record.phase === "Progressing" || record.phase === "Pending")) {
        const keys = applied.graph.ofKind("Deployment").map((m) => m.key);
        const states = keys.map((k) => this.states.get(k));
        const failed = states.find((s) => s?.failed && s.commit === applied.commit);
        const leftovers = this.opts.fleet.owners().filter((o) => !applied.graph.has(o));
        const done = states.every((s) => s?.complete && s.commit === applied.commit) && leftovers.length === 0;
        if (failed || done) {
          const finished = this.now();
          const seen = Date.parse(record.timings.seen);
          const message = failed
            ? failed.message
            : keys.length === 0
              ? "no workloads"
              : states.map((s) => s!.message).join("; ");
          this.setCommit({
            ...record,
            phase: failed ? "Failed" : "Succeeded",
            message,
            errors: failed ? [{ code: "ProgressDeadlineExceeded", message: failed.message }] : [],
            timings: { ...record.timings, finished: new Date(finished).toISOString(), durationMs: finished - seen },
          });
          this.opts.progress(`commit ${short(applied.commit)} "${record.subject}": ${failed ? "Failed" : "Succeeded"} in ${((finished - seen) / 1000).toFixed(1)}s`);
        }
      }
    }
    this.writeSummary();
  }

  private setCommit(record: CommitRecord): void {
    this.opts.store.setCommit(record);
    this.opts.scheduleStatusWrite();
  }

  /** summary.yaml: head, applied commit, workload and node counts. */
  writeSummary(): void {
    const graph = this.applied?.graph;
    const keys = graph ? graph.ofKind("Deployment").map((m) => m.key) : [];
    let ready = 0;
    let failed = 0;
    let progressing = 0;
    for (const k of keys) {
      const s = this.states.get(k);
      if (s?.failed) failed++;
      else if (s?.complete) ready++;
      else progressing++;
    }
    const headRecord = this.lastProcessedRecord();
    const summary: SummaryRecord = {
      repository: this.opts.repo.location,
      branch: this.opts.branch,
      path: this.opts.path || ".",
      ...(headRecord ? { head: { commit: headRecord.commit, phase: headRecord.phase } } : {}),
      ...(this.applied ? { applied: this.applied.commit } : {}),
      workloads: { total: keys.length, ready, progressing, failed },
      nodes: this.opts.fleet.listNodes().map((n) => ({
        name: n.config.name,
        ready: n.ready,
        pods: n.pods,
        ...(n.error ? { message: `${n.error.code}: ${n.error.message}` } : {}),
      })),
    };
    this.opts.store.setSummary(summary);
    this.opts.scheduleStatusWrite();
  }

  private lastProcessedRecord(): CommitRecord | undefined {
    const c = this.lastProcessed ?? this.applied?.commit;
    return c ? this.opts.store.getCommit(c) : undefined;
  }
}

function toRecordedError(d: Diagnostic): RecordedError {
  return { code: d.code, message: d.message, file: d.file, line: d.line, col: d.col, ...(d.field ? { field: d.field } : {}) };
}

/** The short form of a commit oid used in messages. */
export function short(oid: string): string {
  return oid.slice(0, 7);
}
