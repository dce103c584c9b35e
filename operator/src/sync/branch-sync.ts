/**
 * The sync loop of one followed branch: a new commit → manifests → graph → diff → the controllers'
 * keys, and the commit's record in the status branch.
 *
 * Guarantees:
 * - A commit with any error applies nothing: the previous graph stays applied (what runs keeps running)
 *   and the errors are recorded on the commit (phase Invalid).
 * - Only the branch head is processed; commits pushed in a burst are never rolled out one by one.
 *   A commit still Progressing when a newer one is applied becomes Superseded.
 * - Coordinated rollout: changed workloads are released in dependency and wave order (sync/gate.ts);
 *   a held workload keeps driving its previous object.
 * - Automatic rollback: when a released workload's rollout fails, the whole commit goes back to the last
 *   commit that succeeded ("stable"), in reverse order; the failed commit is quarantined — not applied
 *   again, not after a restart either, until a newer commit supersedes it. A commit whose manifests equal
 *   a quarantined commit's is quarantined too. A rollback that fails pauses and reports; it is never rolled
 *   back. Without a stable commit there is nothing proven to go back to: the failure is recorded and the
 *   workloads keep their state.
 * - A retry: a commit with the trailer `Coxswain-Retry: <sha>` naming a quarantined commit lifts that
 *   quarantine and is applied, even when its manifests are a quarantined commit's (the API's retry makes
 *   one; a person can too, e.g. an empty commit).
 * - After a restart the applied (target) commit, the stable commit and the quarantine are read back from
 *   the status branch, so an invalid or quarantined head does not make coxswain forget what should run.
 */
import type { WorkloadEvent } from "../api/conditions.js";
import { shortHash } from "../api/canonical.js";
import { CoxError, toCoxError } from "../api/errors.js";
import { silentLogger, workloadFields, type Logger } from "../api/log.js";
import type { DesiredObject } from "../api/objects.js";
import type { DesiredEntry, DesiredView, WorkloadReporter, WorkloadState } from "../controllers/types.js";
import { AUTOSCALERS_KEY } from "../controllers/autoscaler/controller.js";
import { CLAIMS_KEY } from "../controllers/claim/controller.js";
import { BUDGETS_KEY } from "../controllers/disruption/controller.js";
import type { DrainWaits } from "../controllers/disruption/drain-waits.js";
import { SERVICES_KEY } from "../controllers/service/controller.js";
import type { Manager } from "../engine/manager.js";
import type { ReconcileResult } from "../engine/queue.js";
import { autoscalerOf, diffGraphs, formatChange, type Change, type DesiredGraph } from "../graph/index.js";
import type { ScaleTarget } from "../manifest/autoscaler.js";
import type { Diagnostic } from "../manifest/types.js";
import { formatDiagnostic } from "../manifest/types.js";
import type { Fleet } from "../runtime/fleet.js";
import type { Repository } from "../source/types.js";
import type { StatusStore } from "../status/store.js";
import type { CommitRecord, RecordedError, SourceFault, SummaryRecord, WorkloadRecord } from "../status/types.js";
import { decideRollback } from "../rollout/index.js";
import { LEAVING_MESSAGE } from "../rollout/node-removal.js";
import { gate, isWorkloadKey, type GateDecision, type GateWorkloadState } from "./gate.js";
import { loadCommit, type ManifestReadOptions } from "./load.js";

/**
 * The trailer of a retry commit (`Coxswain-Retry: <sha>`, as the API's retry writes it, or by hand): the
 * sync lifts the named commit's quarantine and applies the commit carrying it.
 */
export const RETRY_TRAILER = "Coxswain-Retry";

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
  /** Where its lines go: each line of a commit's processing carries `commit`, a workload's `workload` too. */
  log?: Logger;
  /** Makes the fleet match the applied graph's Node objects; awaited before workloads are queued. */
  applyNodes?: () => Promise<unknown>;
  /** Called when a failed commit has been rolled back (auto-revert hooks in here). */
  onRolledBack?: (failed: string, stable: string, graph: DesiredGraph) => void;
  now?: () => number;
  /** How commits are read (limits, parse cache); the same for every commit this sync reads. */
  manifests?: ManifestReadOptions;
  /** Drains held by a PodDisruptionBudget: the message of their node in the summary. */
  drainWaits?: DrainWaits;
}

/** A digest of a graph's objects: equal digests, equal desired state. */
function graphDigest(graph: DesiredGraph): string {
  return shortHash(graph.objects(), 16);
}

/**
 * The workloads whose desired object differs between two graphs (created, changed, deleted), sorted. A
 * change of spec.replicas alone of a workload an autoscaler scales is none: the autoscaler owns its count
 * (unless the count goes to or from 0, which turns autoscaling off or on).
 */
export function changedWorkloads(from: DesiredGraph | undefined, to: DesiredGraph): string[] {
  const out = new Set<string>();
  for (const c of diffGraphs(from, to).changes) if (isWorkloadKey(c.key) && !isAutoscaledResize(c, to)) out.add(c.key);
  // A workload also changes when a ConfigMap or Secret it reads changed: its dependents in either graph.
  for (const c of diffGraphs(from, to).changes) {
    if (isWorkloadKey(c.key)) continue;
    for (const g of [from, to]) {
      if (!g?.has(c.key)) continue;
      const stack = [...g.dependentsOf(c.key)];
      while (stack.length) {
        const k = stack.pop()!;
        if (isWorkloadKey(k)) out.add(k);
        else stack.push(...g.dependentsOf(k));
      }
    }
  }
  return [...out].sort();
}

/** An update of spec.replicas alone, between counts above 0, of a workload an autoscaler scales in `to`. */
function isAutoscaledResize(c: Change, to: DesiredGraph): boolean {
  if (c.action !== "update" || c.fields?.length !== 1 || c.fields[0] !== "spec.replicas" || autoscalerOf(to, c.key) === undefined) return false;
  // Autoscaler targets all have spec.replicas (manifest/autoscaler.ts AUTOSCALE_TARGET_KINDS).
  const replicas = (o: DesiredObject | undefined): number => (o as ScaleTarget | undefined)?.spec.replicas ?? 1;
  return replicas(c.before) > 0 && replicas(c.after) > 0;
}

interface Rollout {
  /** Where the workloads come from (for gating structure and held objects). */
  fromGraph?: DesiredGraph;
  fromCommit?: string;
  changed: string[];
  direction: "forward" | "reverse";
  /** In reverse: the commit being rolled back, and why. */
  failed?: { commit: string; code: string; reason: string };
  decision?: GateDecision;
}

/** Follows one branch and turns its head into the applied desired state. */
export class BranchSync implements DesiredView, WorkloadReporter {
  private target?: { commit: string; graph: DesiredGraph };
  private rollout?: Rollout;
  private paused = false;
  private stable?: string;
  private readonly quarantined = new Set<string>();
  private readonly quarantinedDigests = new Map<string, string>();
  private lastProcessed?: string;
  /** The head has been read once since start: until then controllers create and remove nothing. */
  private headRead = false;
  /** The applied commit the status branch names, kept in the summary even when this run cannot read it. */
  private recordedApplied?: string;
  /** Faults of the deploy branch, by where they happen ("fetch", "read"): in summary.yaml, status and /healthz. */
  private readonly faults = new Map<string, SourceFault>();
  /** What each workload's controller drives now (released → target, held → previous). */
  private readonly current = new Map<string, DesiredEntry>();
  private readonly states = new Map<string, WorkloadState>();
  /** Workloads reported gone since they were released for deletion. */
  private readonly gone = new Set<string>();
  private readonly graphsAt = new Map<string, DesiredGraph>();
  private readonly now: () => number;
  private readonly logger: Logger;

  constructor(private readonly opts: BranchSyncOptions) {
    this.now = opts.now ?? Date.now;
    this.logger = opts.log ?? silentLogger;
  }

  // ------------------------------------------------------------------ DesiredView

  /** The target graph. */
  graph(): DesiredGraph | undefined {
    return this.target?.graph;
  }

  /** The target commit. */
  commit(): string | undefined {
    return this.target?.commit;
  }

  /**
   * False until the head commit has been read once after start (whatever it turned out to be): until then
   * what runs may belong to a newer commit than the applied one, so nothing is created or removed.
   */
  ready(): boolean {
    return this.headRead;
  }

  /** The current faults of the deploy branch, sorted by where they happen. */
  sourceFaults(): SourceFault[] {
    return [...this.faults.values()].sort((a, b) => (a.where < b.where ? -1 : a.where > b.where ? 1 : 0));
  }

  /**
   * Records (err) or clears (undefined) a fault of the deploy branch at `where`. A new or changed fault is
   * logged once and written to summary.yaml; the same fault again changes nothing (no log line, no status
   * commit). Clearing logs the recovery.
   */
  setFault(where: string, err: CoxError | undefined): void {
    const prev = this.faults.get(where);
    if (!err) {
      if (!prev) return;
      this.faults.delete(where);
      this.logger.info(`source (${where}): recovered from ${prev.code}`);
      this.writeSummary();
      return;
    }
    if (prev && prev.code === err.code && prev.message === err.message) return;
    this.faults.set(where, { where, code: err.code, message: err.message, since: prev?.since ?? new Date(this.now()).toISOString() });
    this.logger.warn(`source (${where}): ${err.code}: ${err.message}; what runs is left as it is`);
    this.writeSummary();
  }

  /** What a workload's controller drives now. */
  entry(key: string): DesiredEntry | undefined {
    if (!this.target) return undefined;
    const cur = this.current.get(key);
    if (cur) return cur.paused === this.paused ? cur : { ...cur, paused: this.paused };
    if (!isWorkloadKey(key) || this.rollout?.changed.includes(key)) return undefined;
    const m = this.target.graph.get(key);
    return m ? { object: m.object, graph: this.target.graph, commit: this.target.commit, paused: this.paused } : undefined;
  }

  // ------------------------------------------------------------------ restore and reconcile

  /**
   * Restores the applied commit, the stable commit and the quarantine recorded in the status branch (call
   * after the status store was loaded and before the first reconcile).
   */
  async restore(): Promise<void> {
    const summary = this.opts.store.summary();
    for (const q of summary?.quarantined ?? []) this.quarantined.add(q);
    for (const c of this.opts.store.commits()) if (c.quarantined) this.quarantined.add(c.commit);
    if (summary?.stable) this.stable = summary.stable;
    const applied = summary?.applied;
    if (!applied) return;
    this.recordedApplied = applied;
    const loaded = await loadCommit(this.opts.repo, applied, this.opts.path, this.opts.manifests).catch((err: unknown) => toCoxError(err, "GitFetchFailed"));
    if (loaded instanceof CoxError) {
      // Git cannot read it now (a remote not fetched yet, a damaged mirror): the head's reading decides.
      this.commitLog(applied).warn(`the status branch names ${short(applied)} as applied, but it cannot be read now (${loaded.code}: ${loaded.message}); nothing is applied from it until the branch is read`);
      return;
    }
    if (!loaded.graph) {
      this.commitLog(applied).warn(
        `the status branch names ${short(applied)} as applied, but it does not read as valid with this run's options (--path ${this.opts.path || "."}, manifest limits); ` +
          `nothing is applied from it and its records are kept`,
      );
      return;
    }
    this.target = { commit: applied, graph: loaded.graph };
    const record = this.opts.store.getCommit(applied);
    // A rollback in progress: some commit failed with rollback.to = applied and is not RolledBack yet.
    const rollingBack = this.opts.store.commits().find((c) => c.rollback?.to === applied && c.phase === "Failed");
    const from = rollingBack ? rollingBack.commit : record?.phase === "Progressing" && this.stable !== applied ? this.stable : undefined;
    if (from) {
      const prev = await loadCommit(this.opts.repo, from, this.opts.path, this.opts.manifests).catch(() => undefined);
      if (prev?.graph) {
        this.startRollout(
          { commit: from, graph: prev.graph },
          rollingBack ? "reverse" : "forward",
          rollingBack?.rollback ? { commit: rollingBack.commit, code: rollingBack.rollback.code, reason: rollingBack.rollback.reason } : undefined,
        );
      }
    }
    this.commitLog(applied).info(
      `restored applied commit ${short(applied)} from the status branch${this.stable ? `; stable ${short(this.stable)}` : ""}${this.quarantined.size ? `; quarantined ${[...this.quarantined].map(short).join(", ")}` : ""}`,
    );
  }

  /** Reconciles the branch: process the head if it moved. */
  async reconcile(_key: string): Promise<ReconcileResult | void> {
    try {
      await this.readHead();
      this.setFault("read", undefined);
    } catch (err) {
      const e = toCoxError(err);
      this.setFault("read", e);
      throw e;
    }
  }

  private async readHead(): Promise<void> {
    const head = await this.opts.repo.head(this.opts.branch);
    if (!head) {
      throw new CoxError("BranchNotFound", `branch ${this.opts.branch} does not exist in ${this.opts.repo.location}`, { requeueAfterMs: 5_000 });
    }
    if (head === this.lastProcessed) return;
    const before = this.lastProcessed;
    this.lastProcessed = head;
    try {
      await this.process(head, before);
    } catch (err) {
      // Reading the commit failed (Git error): look at it again on the next reconcile.
      this.lastProcessed = before;
      throw err;
    }
    if (!this.headRead) {
      this.headRead = true;
      this.enqueueAll();
    }
  }

  private newRecord(commit: string, subject: string, seenAt: number): CommitRecord {
    return {
      commit,
      branch: this.opts.branch,
      subject,
      phase: "Pending",
      message: "",
      changes: [],
      errors: [],
      timings: { seen: new Date(seenAt).toISOString() },
    };
  }

  private async process(commit: string, previousHead: string | undefined): Promise<void> {
    const info = await this.opts.repo.reader.readCommit(commit);
    const seenAt = this.now();
    const subject = info.message.split("\n", 1)[0] ?? "";
    const record: CommitRecord = this.opts.store.getCommit(commit) ?? this.newRecord(commit, subject, seenAt);
    const log = this.commitLog(commit);

    if (this.target?.commit === commit) {
      // Already applied (before a restart): look at everything again, keep the record as it was.
      this.evaluate();
      this.enqueueAll();
      return;
    }
    if (this.quarantined.has(commit)) {
      log.warn(`commit ${short(commit)} "${subject}": quarantined (it failed before); not applied — push a newer commit`);
      this.writeSummary();
      return;
    }

    const rewritten = previousHead !== undefined && !(await this.opts.repo.reader.isAncestor(previousHead, commit).catch(() => true));
    const t0 = this.now();
    const loaded = await loadCommit(this.opts.repo, commit, this.opts.path, this.opts.manifests);
    const loadMs = this.now() - t0;
    const errors = loaded.diagnostics.filter((d) => d.severity === "error");
    for (const d of loaded.diagnostics) log[d.severity === "error" ? "warn" : "info"](`  ${formatDiagnostic(d)}`);
    const base = { ...record, ...(rewritten ? { historyRewritten: true } : {}) };
    if (rewritten) log.warn(`branch ${this.opts.branch} was rewritten: ${short(commit)} does not descend from ${short(previousHead!)}`);
    if ((!loaded.graph || errors.length > 0) && record.phase !== "Pending" && record.phase !== "Invalid") {
      // An earlier run recorded an outcome for this very commit; reading it now as invalid says that this
      // run's options (--path, limits) differ, not that the commit changed. Its record stays as it is.
      log.warn(
        `commit ${short(commit)} "${subject}" was recorded as ${record.phase} by an earlier run but does not read as valid with this run's options ` +
          `(--path ${this.opts.path || "."}, manifest limits): nothing applied, its record is kept — check the flags`,
      );
      this.writeSummary();
      return;
    }
    if (!loaded.graph || errors.length > 0) {
      const still = this.target ? `; still running ${short(this.target.commit)}` : "; nothing applied";
      this.setCommit({
        ...base,
        phase: "Invalid",
        message: `${errors.length} error(s) in manifests, nothing applied${still}`,
        errors: errors.map(toRecordedError),
        timings: { ...record.timings, finished: new Date(this.now()).toISOString(), durationMs: this.now() - seenAt },
      });
      log.warn(`commit ${short(commit)} "${subject}": invalid, ${errors.length} error(s), nothing applied${still}`);
      this.writeSummary();
      return;
    }

    const digest = graphDigest(loaded.graph);
    // A retry (the trailer `Coxswain-Retry: <sha>` naming a quarantined commit) lifts that quarantine, and
    // this commit is applied even when its manifests are those of a quarantined commit.
    const retried = this.retriedBy(info.message);
    for (const q of retried) {
      this.quarantined.delete(q);
      this.quarantinedDigests.delete(q);
      const r = this.opts.store.getCommit(q);
      if (r) this.setCommit({ ...r, quarantined: false, message: `${r.message}; retried in ${short(commit)}` });
      log.info(`commit ${short(commit)} "${subject}": retries quarantined ${short(q)}; its quarantine is lifted`);
    }
    const twin = retried.length > 0 ? undefined : await this.quarantinedTwin(digest);
    if (twin) {
      this.quarantined.add(commit);
      this.setCommit({
        ...base,
        phase: "Quarantined",
        quarantined: true,
        message: `same manifests as quarantined ${short(twin)}; not applied`,
        timings: { ...record.timings, finished: new Date(this.now()).toISOString() },
      });
      log.warn(`commit ${short(commit)} "${subject}": same manifests as quarantined ${short(twin)}; not applied`);
      this.writeSummary();
      return;
    }

    const changes = diffGraphs(this.target?.graph, loaded.graph);
    this.supersedeInFlight(commit);
    const from = this.target;
    this.target = { commit, graph: loaded.graph };
    this.paused = false;
    this.startRollout(from, "forward");
    const lines = changes.changes.map(formatChange);
    this.setCommit({
      ...base,
      phase: "Progressing",
      message: lines.length === 0 ? "no changes" : `${lines.length} change(s) applied`,
      changes: lines,
      errors: [],
      timings: { ...record.timings, applied: new Date(this.now()).toISOString() },
    });
    log.info(`commit ${short(commit)} "${subject}": valid (${loaded.graph.size} objects, read in ${loadMs} ms), ${lines.length} change(s)${lines.length ? ": " + lines.join("; ") : ""}`);
    if (changes.changes.some((c) => c.key.startsWith("Node/"))) await this.opts.applyNodes?.();
    // Release first: an enqueued key may be reconciled at once, and must see what the gate released.
    this.evaluate();
    this.enqueueAll();
  }

  /**
   * Ends the record of the commit whose rollout is in flight (a rollback in flight keeps its Failed record).
   * A commit whose every changed workload had rolled out — complete, no failure seen — when the newer one
   * arrived counts as Succeeded and becomes the stable commit: only its monitor window was cut short. Any
   * other is Superseded.
   */
  private supersedeInFlight(by: string): void {
    const prev = this.target?.commit;
    if (!prev) return;
    const rec = this.opts.store.getCommit(prev);
    if (rec && (rec.phase === "Progressing" || rec.phase === "Pending")) {
      const finished = new Date(this.now()).toISOString();
      if (this.rollout?.direction === "forward" && this.rolledOut()) {
        this.setCommit({
          ...rec,
          phase: "Succeeded",
          message: `rolled out; its pods were ready when ${short(by)} replaced it before the monitor window ended`,
          supersededBy: by,
          errors: [],
          timings: { ...rec.timings, finished, durationMs: this.now() - Date.parse(rec.timings.seen) },
        });
        this.stable = prev;
        this.commitLog(prev).info(`commit ${short(prev)} "${rec.subject}": rolled out and ready when ${short(by)} replaced it; it is the stable commit`);
      } else {
        this.setCommit({ ...rec, phase: "Superseded", message: `superseded by ${short(by)} before it completed`, supersededBy: by, timings: { ...rec.timings, finished } });
      }
    }
    const failed = this.rollout?.failed;
    if (failed) {
      const f = this.opts.store.getCommit(failed.commit);
      if (f && f.phase === "Failed") this.setCommit({ ...f, message: `${f.message}; rollback superseded by ${short(by)}` });
    }
  }

  /** Begins driving the workloads from `from` to the target, gated; `from` undefined = nothing ran. */
  private startRollout(from: { commit: string; graph: DesiredGraph } | undefined, direction: "forward" | "reverse", failed?: Rollout["failed"]): void {
    const target = this.target!;
    const changed = changedWorkloads(from?.graph, target.graph);
    // Held workloads keep what their controllers drive now; the first time, that is `from`'s object.
    const held = new Map<string, DesiredEntry>();
    for (const key of changed) {
      const cur = this.current.get(key);
      if (cur) held.set(key, cur);
      else {
        const m = from?.graph.get(key);
        if (m && from) held.set(key, { object: m.object, graph: from.graph, commit: from.commit, paused: false });
      }
    }
    this.current.clear();
    for (const [k, v] of held) this.current.set(k, v);
    for (const key of changed) {
      this.states.delete(key);
      this.gone.delete(key);
    }
    this.rollout = { ...(from ? { fromGraph: from.graph, fromCommit: from.commit } : {}), changed, direction, ...(failed ? { failed } : {}) };
  }

  /** Queues every key that may need work: all workloads and CronJobs desired or recorded, every owner observed, the fleet, the Services, the claims, the budgets, the autoscalers. */
  enqueueAll(): void {
    this.opts.manager.enqueue("Node/*");
    this.opts.manager.enqueue(SERVICES_KEY);
    this.opts.manager.enqueue(CLAIMS_KEY);
    this.opts.manager.enqueue(BUDGETS_KEY);
    this.opts.manager.enqueue(AUTOSCALERS_KEY);
    const keys = new Set<string>();
    for (const g of [this.target?.graph, this.rollout?.fromGraph]) {
      if (!g) continue;
      for (const k of g.keys()) if (isWorkloadKey(k) || k.startsWith("CronJob/")) keys.add(k);
    }
    // CronJobs recorded (one that left Git removes its runs).
    for (const f of this.opts.store.filePaths("cronjobs/")) {
      const m = /^cronjobs\/([^/]+)\/([^/]+)\.yaml$/.exec(f);
      if (m) keys.add(`CronJob/${m[1]}/${m[2]}`);
    }
    for (const owner of this.opts.fleet.owners()) keys.add(owner);
    for (const k of [...keys].sort()) this.opts.manager.enqueue(k);
  }

  // ------------------------------------------------------------------ WorkloadReporter

  /** Records a workload and re-evaluates the rollout. */
  report(record: WorkloadRecord, state: WorkloadState): void {
    this.opts.store.setWorkload(record);
    this.states.set(state.key, state);
    this.evaluate();
  }

  /** A workload is gone. */
  removed(key: string): void {
    // A workload created by this commit but held back by the gate has no pods yet: not a removal.
    if (this.target?.graph.has(key) && this.rollout?.changed.includes(key) && !this.current.has(key)) return;
    const [kind, namespace, name] = key.split("/") as [string, string, string];
    this.opts.store.removeWorkload(kind, namespace, name);
    this.states.delete(key);
    this.gone.add(key);
    this.evaluate();
  }

  /** The workload's record as last written (or read back after a restart). */
  previousRecord(key: string): WorkloadRecord | undefined {
    const [kind, namespace, name] = key.split("/") as [string, string, string];
    return this.opts.store.getWorkload(kind, namespace, name);
  }

  /** The object `key` had at `commit` (a small cache of read commits). */
  async objectAt(commit: string, key: string): Promise<{ object: import("../api/objects.js").DesiredObject; graph: DesiredGraph } | undefined> {
    let graph = this.graphsAt.get(commit);
    if (!graph) {
      const loaded = await loadCommit(this.opts.repo, commit, this.opts.path, this.opts.manifests).catch(() => undefined);
      if (!loaded?.graph) return undefined;
      graph = loaded.graph;
      this.graphsAt.set(commit, graph);
      if (this.graphsAt.size > 8) this.graphsAt.delete(this.graphsAt.keys().next().value!);
    }
    const m = graph.get(key);
    return m ? { object: m.object, graph } : undefined;
  }

  /** Events recorded before a restart. */
  previousEvents(key: string): WorkloadEvent[] {
    const [kind, namespace, name] = key.split("/") as [string, string, string];
    return [...(this.opts.store.getWorkload(kind, namespace, name)?.events ?? [])];
  }

  /**
   * The logger of workload `key`: its lines carry the workload and the commit whose object its controller
   * drives (`commit`, default what it drives now; the target's when it drives none).
   */
  log(key: string, commit = this.entry(key)?.commit ?? this.target?.commit): Logger {
    return this.logger.child(workloadFields(key, commit));
  }

  /** The logger of a commit's processing: its lines carry the commit. */
  private commitLog(commit: string): Logger {
    return this.logger.child({ commit: short(commit) });
  }

  // ------------------------------------------------------------------ evaluation

  /** Progress of a changed workload toward the commit it was released for. */
  private gateState(key: string): GateWorkloadState {
    const target = this.target!;
    if (!target.graph.has(key)) return { done: this.gone.has(key), failed: false };
    const s = this.states.get(key);
    const onTarget = s?.commit === target.commit;
    return { done: onTarget && s!.complete, failed: onTarget && s!.failed };
  }

  /** Every changed workload of the rollout in flight reached its target: rolled out (monitor window aside) or gone. */
  private rolledOut(): boolean {
    const target = this.target!;
    return (this.rollout?.changed ?? []).every((key) => {
      if (!target.graph.has(key)) return this.gone.has(key);
      const s = this.states.get(key);
      return s !== undefined && s.commit === target.commit && !s.failed && (s.complete || s.rolledOut);
    });
  }

  /** Releases what the gate allows and derives the target commit's phase. */
  evaluate(): void {
    const target = this.target;
    const rollout = this.rollout;
    if (target && rollout) {
      const states = new Map(rollout.changed.map((k) => [k, this.gateState(k)]));
      const decision = gate({ from: rollout.fromGraph, to: target.graph, changed: rollout.changed, direction: rollout.direction, states });
      rollout.decision = decision;
      for (const key of decision.released) {
        const m = target.graph.get(key);
        const next: DesiredEntry | undefined = m ? { object: m.object, graph: target.graph, commit: target.commit, paused: false } : undefined;
        const cur = this.current.get(key);
        if (cur?.commit === target.commit || (!m && !cur)) continue;
        if (next) this.current.set(key, next);
        else this.current.delete(key);
        this.opts.manager.enqueue(key);
        if (rollout.changed.length > 1) this.log(key, target.commit).info(`${key}: released (${rollout.direction === "reverse" ? "rolling back" : "rolling out"} in dependency order)`);
      }
      // Everything not changed follows the target at once.
      for (const [key, cur] of this.current) if (!rollout.changed.includes(key) && cur.commit !== target.commit) this.current.delete(key);
      if (decision.failed) this.onFailure(decision.failed);
      else if (decision.done) this.onDone();
    }
    this.writeSummary();
  }

  /** A released workload failed: the rollback policy (rollout/rollback.ts) decides what the commit does. */
  private onFailure(key: string): void {
    const target = this.target!;
    const rollout = this.rollout!;
    const state = this.states.get(key);
    const reason = state?.message ?? `${key} failed`;
    const code = state?.failureCode ?? "RolloutFailed";
    // The rollout that failed goes to target.commit: the commit itself, or (a rollback) the stable commit.
    const decision = decideRollback({ failed: target.commit, failedIsRollback: rollout.direction === "reverse", ...(this.stable ? { stable: this.stable } : {}) });
    if (decision.action === "pause") {
      const failed = rollout.failed!.commit;
      if (this.paused) return;
      this.paused = true;
      const rec = this.opts.store.getCommit(failed);
      if (rec) {
        this.setCommit({
          ...rec,
          phase: "Failed",
          message: `rollback to ${short(target.commit)} failed too (${reason}); paused — push a fix`,
          errors: [...rec.errors, { code: decision.code, message: `rolling back to ${short(target.commit)} failed: ${reason}` }],
        });
      }
      this.commitLog(failed).error(`rollback of ${short(failed)} to ${short(target.commit)} failed (${reason}); workloads paused until a new commit`);
      for (const k of rollout.changed) this.opts.manager.enqueue(k);
      return;
    }
    if (decision.action === "report") {
      // Said once: the record leaves Progressing here, and a Failed record is not reported again.
      const rec = this.opts.store.getCommit(target.commit);
      if (rec && rec.phase === "Progressing") {
        this.setCommit({
          ...rec,
          phase: "Failed",
          message: `${reason}; no earlier commit succeeded, so there is nothing proven to roll back to`,
          errors: [{ code, message: reason }],
          timings: { ...rec.timings, finished: new Date(this.now()).toISOString() },
        });
        this.commitLog(target.commit).warn(`commit ${short(target.commit)} failed: ${reason}; no stable commit to roll back to — what runs is left as it is`);
      }
      return;
    }
    void this.beginRollback(target.commit, decision.to, code, reason);
  }

  /** Switches the target back to the stable commit, in reverse order, and quarantines the failed one. */
  private async beginRollback(failed: string, stable: string, code: string, reason: string): Promise<void> {
    if (this.rollout?.failed?.commit === failed) return;
    const failedTarget = this.target!;
    const loaded = await loadCommit(this.opts.repo, stable, this.opts.path, this.opts.manifests).catch(() => undefined);
    if (!loaded?.graph) {
      this.commitLog(failed).error(`cannot read stable commit ${short(stable)} to roll back to; ${short(failed)} stays as it is`);
      return;
    }
    if (this.target?.commit !== failed) return; // a newer commit arrived meanwhile
    this.quarantined.add(failed);
    this.quarantinedDigests.set(failed, graphDigest(failedTarget.graph));
    const rec = this.opts.store.getCommit(failed);
    if (rec) {
      this.setCommit({
        ...rec,
        phase: "Failed",
        quarantined: true,
        rollback: { to: stable, code, reason },
        message: `${reason}; rolling back to ${short(stable)}`,
        errors: [{ code, message: reason }],
      });
    }
    this.commitLog(failed).warn(`commit ${short(failed)} failed (${code}: ${reason}); rolling back to ${short(stable)} and quarantining it`);
    this.target = { commit: stable, graph: loaded.graph };
    this.startRollout(failedTarget, "reverse", { commit: failed, code, reason });
    // Release first: an enqueued key may be reconciled at once, and must see what the gate released.
    this.evaluate();
    this.enqueueAll();
  }

  private onDone(): void {
    const target = this.target!;
    const rollout = this.rollout!;
    const finished = this.now();
    if (rollout.direction === "reverse" && rollout.failed) {
      const f = rollout.failed;
      const rec = this.opts.store.getCommit(f.commit);
      if (rec && rec.phase === "Failed" && !this.paused) {
        this.setCommit({
          ...rec,
          phase: "RolledBack",
          quarantined: true,
          message: `${f.reason}; rolled back to ${short(target.commit)}; quarantined until a newer commit`,
          timings: { ...rec.timings, finished: new Date(finished).toISOString(), durationMs: finished - Date.parse(rec.timings.seen) },
        });
        this.commitLog(f.commit).info(`commit ${short(f.commit)} rolled back to ${short(target.commit)}; quarantined`);
        this.opts.onRolledBack?.(f.commit, target.commit, target.graph);
      }
      this.rollout = undefined;
      this.writeSummary();
      return;
    }
    const rec = this.opts.store.getCommit(target.commit);
    if (rec && (rec.phase === "Progressing" || rec.phase === "Pending")) {
      const seen = Date.parse(rec.timings.seen);
      const messages = rollout.changed.map((k) => this.states.get(k)?.message).filter((m): m is string => !!m);
      this.setCommit({
        ...rec,
        phase: "Succeeded",
        message: messages.length ? messages.join("; ") : rollout.changed.length === 0 ? "no workload changed" : "workloads removed",
        errors: [],
        timings: { ...rec.timings, finished: new Date(finished).toISOString(), durationMs: finished - seen },
      });
      this.commitLog(target.commit).info(`commit ${short(target.commit)} "${rec.subject}": Succeeded in ${((finished - seen) / 1000).toFixed(1)}s`);
    }
    this.stable = target.commit;
    this.rollout = undefined;
  }

  /**
   * The quarantined commits a commit message retries: the values of its `Coxswain-Retry:` trailers (in its
   * last paragraph, the key in any case), each a full sha or a prefix of at least 7 hex digits naming one
   * quarantined commit. Others are ignored. Sorted.
   */
  private retriedBy(message: string): string[] {
    const last =
      message
        .trim()
        .split(/\n\s*\n/)
        .pop() ?? "";
    const out = new Set<string>();
    for (const line of last.split("\n")) {
      const m = new RegExp(`^${RETRY_TRAILER}:\\s*([0-9a-f]{7,40})\\s*$`, "i").exec(line.trim());
      if (!m) continue;
      const named = [...this.quarantined].filter((q) => q.startsWith(m[1]!.toLowerCase()));
      if (named.length === 1) out.add(named[0]!);
    }
    return [...out].sort();
  }

  /** A quarantined commit with the same digest, if any. */
  private async quarantinedTwin(digest: string): Promise<string | undefined> {
    for (const q of [...this.quarantined].sort()) {
      let d = this.quarantinedDigests.get(q);
      if (d === undefined) {
        const loaded = await loadCommit(this.opts.repo, q, this.opts.path, this.opts.manifests).catch(() => undefined);
        d = loaded?.graph ? graphDigest(loaded.graph) : "";
        this.quarantinedDigests.set(q, d);
      }
      if (d === digest) return q;
    }
    return undefined;
  }

  private setCommit(record: CommitRecord): void {
    this.opts.store.setCommit(record);
    this.opts.scheduleStatusWrite();
  }

  /** summary.yaml: head, applied commit, stable commit, quarantine, workload and node counts. */
  writeSummary(): void {
    const graph = this.target?.graph;
    const keys = graph ? graph.keys().filter(isWorkloadKey) : [];
    let ready = 0;
    let failed = 0;
    let progressing = 0;
    for (const k of keys) {
      const s = this.states.get(k);
      if (s?.failed) failed++;
      else if (s?.complete) ready++;
      else progressing++;
    }
    const headRecord = this.lastProcessed ? this.opts.store.getCommit(this.lastProcessed) : this.target ? this.opts.store.getCommit(this.target.commit) : undefined;
    const summary: SummaryRecord = {
      repository: this.opts.repo.location,
      branch: this.opts.branch,
      path: this.opts.path || ".",
      ...(headRecord ? { head: { commit: headRecord.commit, phase: headRecord.phase } } : {}),
      ...(this.target ? { applied: this.target.commit } : this.recordedApplied ? { applied: this.recordedApplied } : {}),
      ...(this.stable ? { stable: this.stable } : {}),
      ...(this.quarantined.size ? { quarantined: [...this.quarantined].sort() } : {}),
      ...(this.faults.size ? { faults: this.sourceFaults() } : {}),
      workloads: { total: keys.length, ready, progressing, failed },
      nodes: this.opts.fleet.listNodes().map((n) => {
        const waits = this.opts.drainWaits?.forNode(n.config.name) ?? [];
        const message = [...(n.leaving ? [LEAVING_MESSAGE] : []), ...(n.error ? [`${n.error.code}: ${n.error.message}`] : []), ...waits].join("; ");
        return {
          name: n.config.name,
          ready: n.condition === "Ready",
          pods: n.pods,
          ...(n.config.unschedulable ? { cordoned: true } : {}),
          ...(n.config.drain ? { draining: true } : {}),
          ...(n.leaving ? { leaving: true } : {}),
          ...(message ? { message } : {}),
        };
      }),
    };
    this.opts.store.setSummary(summary);
    this.opts.scheduleStatusWrite();
  }
}

/** An error diagnostic as the status branch records it (a commit's or a plan's errors): where, which object, which field. */
export function toRecordedError(d: Diagnostic): RecordedError {
  return { code: d.code, message: d.message, file: d.file, line: d.line, col: d.col, ...(d.object ? { object: d.object } : {}), ...(d.field ? { field: d.field } : {}) };
}

/** The short form of a commit oid used in messages. */
export function short(oid: string): string {
  return oid.slice(0, 7);
}
