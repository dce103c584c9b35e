/**
 * Proposals: branches matching `--preview-branches`/`--preview-envs` globs (and pull/merge request heads,
 * named "pull/<n>" and "merge-requests/<n>" for the same globs) are validated and planned on every new
 * head, and, for `--preview-envs`, run as preview environments (sync/previews.ts).
 *
 * For each proposal, on each new head (or when the deploy branch's applied commit changes, so that a plan
 * is always against what runs):
 * - the head is read and validated (loadCommit) and planned against the deploy branch's applied commit
 *   with placements on the fleet as it runs now (sync/plan.ts buildPlan);
 * - the plan is written to plans/<name>.yaml on the status branch (PlanRecord, name from planName:
 *   "pr/login" → "pr-login", pull request 12 → "pr-12") and a one-line note is asked for on the head
 *   commit (refs/notes/coxswain), so the author reads both with git; with a forge (`reporter`,
 *   sync/forge-posts.ts) the head also gets a pending status before it is read, and the plan as the pull/merge
 *   request's comment and a success or failure status after;
 * - with previews: a valid head replaces what the preview runs and renews its TTL; an invalid head leaves
 *   the previous preview running (state Invalid). The preview's state (Progressing, Running, Failed,
 *   Invalid, Expired, Removed) and expiry are recorded in the plan.
 * A proposal is merged when its head is contained in the deploy branch (merge commit or fast-forward;
 * isMergedInto): its preview is removed at once; when the deploy branch's head is the proposal's head or
 * has it as a parent, that commit's record gets `plan: plans/<name>.yaml`; the plan file stays until that
 * rollout has finished (the record keeps pointing at it through the status branch's history:
 * `git log -p coxswain/status -- plans/<name>.yaml`). A deleted proposal loses its plan and preview at
 * once. With a forge, the merge commit (the one linked) gets the rollout's result as a status when it finished.
 * A preview whose proposal got no new head for the TTL is removed (state Expired); a new push starts
 * it again.
 *
 * After a restart the plans are read back from the status branch: a proposal whose head and base did not
 * change is not planned again (no new status commit), and its preview is started again with the expiry it
 * had. Everything here is level-based: reconcile() compares the refs with what it knows and acts on the
 * difference; running it twice changes nothing.
 */
import { silentLogger, type Logger } from "../api/log.js";
import type { DesiredGraph } from "../graph/index.js";
import type { ReconcileResult } from "../engine/queue.js";
import { isMergedInto, refGlob } from "../source/index.js";
import type { ProposalRef, Repository } from "../source/types.js";
import { parsePlan, planName, planPath, renderPlan, type StatusStore } from "../status/store.js";
import type { PlanRecord } from "../status/types.js";
import { short } from "./branch-sync.js";
import { loadCommit, type ManifestReadOptions } from "./load.js";
import type { SchedulerSettings } from "../scheduler/index.js";
import { buildPlan, formatPlan, NOTE_ITEMS, planNote, toPlanRecord, type FleetView, type Plan } from "./plan.js";
import { isWorkloadKey } from "./gate.js";
import { previewGraph, type Previews } from "./previews.js";
import type { ProposalReporter } from "./forge-posts.js";

/** The work-queue key of the proposal tracker. */
export const PROPOSALS_KEY = "@proposals";
/** Default lifetime of a preview after its proposal's last new head: a working day of review, see the README. */
export const DEFAULT_PREVIEW_TTL_MS = 24 * 60 * 60_000;

/** Options of the tracker. */
export interface ProposalTrackerOptions {
  repo: Repository;
  /** The deploy branch (never a proposal). */
  branch: string;
  /** Directory of the manifests. */
  path: string;
  /** The status branch's short name (never a proposal). */
  statusBranch: string;
  store: StatusStore;
  scheduleStatusWrite: () => void;
  log?: Logger;
  /** The operator's scheduler settings, so that a plan places pods as the rollout will. */
  scheduler?: SchedulerSettings;
  /** What the deploy branch has applied (BranchSync): plans are made against it. */
  base: { commit(): string | undefined; graph(): DesiredGraph | undefined };
  /** Where placements are asked; without it plans have no placements. */
  fleet?: FleetView;
  /** Queues a work-queue key (preview workloads whose desired state changed). */
  enqueue: (key: string) => void;
  /** Globs of proposals that are planned (--preview-branches). */
  planPatterns: readonly string[];
  /** Globs of proposals that are planned and run as previews (--preview-envs). */
  previewPatterns: readonly string[];
  /** Also follow pull/merge request heads (refs/pull/<n>/head, refs/merge-requests/<n>/head). */
  pullRequests: boolean;
  previews: Previews;
  /** Preview lifetime after the last new head (default DEFAULT_PREVIEW_TTL_MS). */
  ttlMs?: number;
  now?: () => number;
  /** How commits are read (limits, parse cache): the deploy branch's, so a proposal is judged as its merge would be. */
  manifests?: ManifestReadOptions;
  /** Told when a head is planned and when a merged proposal rolled out (the forge's comment and statuses). */
  reporter?: ProposalReporter;
}

/** What the tracker knows about one proposal. */
interface Known {
  name: string;
  ref: string;
  /** The head that was planned. */
  commit: string;
  /** The deploy commit it was planned against. */
  base: string | undefined;
  record: PlanRecord;
  /** Epoch ms of the preview's expiry, when it has one. */
  expiresAt?: number;
  expired?: boolean;
  /** Merged into the deploy branch: the plan stays until the merge's rollout finished. */
  merged?: { linked?: string };
}

/** Follows proposals; reconcile() is registered under PROPOSALS_KEY. */
export class ProposalTracker {
  private readonly known = new Map<string, Known>();
  private readonly now: () => number;
  private readonly ttlMs: number;
  private readonly log: Logger;
  private loaded = false;
  private readonly collisions = new Set<string>();

  constructor(private readonly opts: ProposalTrackerOptions) {
    this.now = opts.now ?? Date.now;
    this.ttlMs = opts.ttlMs ?? DEFAULT_PREVIEW_TTL_MS;
    this.log = opts.log ?? silentLogger;
  }

  /** True when a glob was given (the operator follows proposals at all). */
  get enabled(): boolean {
    return this.opts.planPatterns.length + this.opts.previewPatterns.length > 0;
  }

  /** The deploy commit proposals were last planned against (the operator re-queues the tracker when it changes). */
  plannedBase(): string | undefined {
    return this.lastBase;
  }
  private lastBase: string | undefined;

  /** Lists the proposals (see the module comment): plan name → ref and whether it runs as a preview. Sorted by name. */
  async list(): Promise<Map<string, { ref: ProposalRef; preview: boolean }>> {
    const { repo } = this.opts;
    const patterns = [...this.opts.planPatterns, ...this.opts.previewPatterns];
    const globs = patterns.map(refGlob);
    const previewGlobs = this.opts.previewPatterns.map(refGlob);
    const found = new Map<string, ProposalRef>();
    for (const pattern of [...new Set(patterns)]) for (const p of await repo.listRefs(pattern)) found.set(p.ref, p);
    if (this.opts.pullRequests) {
      for (const p of await repo.listRefs("", { pullRequests: true })) if (p.kind === "pull" && globs.some((g) => g.test(p.name))) found.set(p.ref, p);
    }
    const status = this.opts.statusBranch.replace(/^refs\/heads\//, "");
    const out = new Map<string, { ref: ProposalRef; preview: boolean }>();
    const sorted = [...found.values()].sort((a, b) => (a.kind !== b.kind ? (a.kind === "branch" ? -1 : 1) : a.ref < b.ref ? -1 : a.ref > b.ref ? 1 : 0));
    for (const p of sorted) {
      if (p.kind === "branch" && (p.name === this.opts.branch || p.name === status || p.name.startsWith(`${status}/`))) continue;
      const name = planName(p);
      const taken = out.get(name);
      if (taken) {
        if (!this.collisions.has(p.ref)) {
          this.collisions.add(p.ref);
          this.log.warn(`proposal ${p.ref} is not planned: its plan name ${name} is already used by ${taken.ref.ref}`);
        }
        continue;
      }
      out.set(name, { ref: p, preview: previewGlobs.some((g) => g.test(p.name)) });
    }
    return new Map([...out].sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0)));
  }

  /** One pass over the proposals (see the module comment); requeues itself for the next preview expiry. */
  async reconcile(_key?: string): Promise<ReconcileResult | void> {
    if (!this.enabled) return;
    if (!this.loaded) this.restore();
    const { repo } = this.opts;
    const proposals = await this.list();
    const head = await repo.head(this.opts.branch);
    const base = this.opts.base.commit();
    const baseChanged = base !== this.lastBase;
    this.lastBase = base;
    for (const [name, { ref, preview }] of proposals) {
      const k = this.known.get(name);
      if (head !== undefined && (await isMergedInto(repo.reader, ref.oid, head))) {
        this.onMerged(name, k);
        continue;
      }
      if (k?.merged) delete k.merged; // the branch got new commits after its merge: a proposal again
      const previewOk = preview ? this.opts.previews.get(name) !== undefined || (k?.expired === true && k.commit === ref.oid) : !k?.record.preview;
      if (k && k.commit === ref.oid && k.base === base && k.ref === ref.ref && previewOk) continue;
      await this.planProposal(name, ref, preview, k);
    }
    for (const [name, k] of [...this.known]) {
      if (proposals.has(name) || k.merged) continue;
      if (head !== undefined && (await isMergedInto(repo.reader, k.commit, head))) this.onMerged(name, k);
      else this.forget(name, "deleted");
    }
    await this.settleMerged(head);
    // Previews run only once the deploy branch applied a commit (and on its fleet): when that changes,
    // every preview workload is looked at again.
    if (baseChanged) for (const env of this.opts.previews.list()) for (const key of env.graph.keys().filter(isWorkloadKey)) this.opts.enqueue(key);
    return this.expire();
  }

  /** A preview's workloads reported: record its state in the plan when it changed. */
  previewChanged(name: string): void {
    const k = this.known.get(name);
    if (!k) return;
    const preview = this.previewRecord(name, k);
    if (preview && JSON.stringify(preview) !== JSON.stringify(k.record.preview)) this.write(k, { ...k.record, preview });
  }

  // ------------------------------------------------------------------ internals

  /** Reads the plans back from the status branch (once, on the first pass). */
  private restore(): void {
    this.loaded = true;
    for (const path of this.opts.store.filePaths("plans/")) {
      const m = /^plans\/([^/]+)\.yaml$/.exec(path);
      const text = this.opts.store.getFile(path);
      if (!m || text === undefined) continue;
      try {
        const record = parsePlan(text);
        const expiresAt = record.preview?.expiresAt ? Date.parse(record.preview.expiresAt) : undefined;
        this.known.set(m[1]!, {
          name: m[1]!,
          ref: record.ref,
          commit: record.commit,
          base: record.base,
          record,
          ...(expiresAt !== undefined && Number.isFinite(expiresAt) ? { expiresAt } : {}),
          ...(record.preview?.state === "Expired" ? { expired: true } : {}),
        });
      } catch (err) {
        this.log.warn(`status file ${path} is not a plan coxswain can read (${(err as Error).message}); it is replaced when its proposal is planned`);
      }
    }
  }

  private async planProposal(name: string, ref: ProposalRef, preview: boolean, k: Known | undefined): Promise<void> {
    const { repo } = this.opts;
    this.opts.reporter?.planning(name, ref);
    const target = await loadCommit(repo, ref.oid, this.opts.path, this.opts.manifests);
    const base = this.opts.base.commit();
    const baseGraph = this.opts.base.graph();
    const plan = buildPlan({
      ...(base ? { from: base } : {}),
      ...(baseGraph ? { fromGraph: baseGraph } : {}),
      target,
      ...(this.opts.fleet ? { fleet: this.opts.fleet } : {}),
      ...(this.opts.scheduler ? { scheduler: this.opts.scheduler } : {}),
    });
    const next: Known = { name, ref: ref.ref, commit: ref.oid, base, record: k?.record ?? toPlanRecord(plan, ref.ref) };
    const sameHead = k?.commit === ref.oid;
    if (preview) {
      if (k?.expiresAt !== undefined && sameHead) next.expiresAt = k.expiresAt;
      if (k?.expired && sameHead) next.expired = true;
      if (target.graph && !next.expired) {
        const env = this.opts.previews.get(name);
        if (!env || env.commit !== ref.oid) this.startPreview(name, ref, target.graph, next);
      }
    } else this.stopPreview(name);
    const previewRec = preview ? this.previewRecord(name, next, !target.graph) : undefined;
    if (k && k.commit !== ref.oid) this.opts.store.setNote(k.commit, undefined);
    this.opts.store.setNote(ref.oid, planNote(plan, planPath(name)));
    this.known.set(name, next);
    this.write(next, toPlanRecord(plan, ref.ref, previewRec));
    this.opts.reporter?.planned(name, ref, plan, planPath(name));
    const log = this.log.child({ commit: short(ref.oid), proposal: ref.name });
    log.info(`proposal ${ref.name} at ${short(ref.oid)}: ${this.summaryOf(plan)}${previewRec ? `; preview ${previewRec.state} in ${previewRec.namespace || "-"}` : ""}`);
    for (const line of formatPlan(plan, NOTE_ITEMS).slice(1)) log.info(`  ${line}`);
  }

  private summaryOf(plan: Plan): string {
    return planNote(plan, "")
      .split("\n")[0]!
      .replace(/^coxswain plan: /, "")
      .replace(/ \(\)$/, "");
  }

  private startPreview(name: string, ref: ProposalRef, graph: DesiredGraph, k: Known): void {
    const pg = previewGraph(graph, name);
    const deploy = this.opts.base.graph();
    const clash = pg.namespaces.find((ns) => deploy?.keys().some((key) => key === `Namespace/${ns}` || key.split("/")[1] === ns));
    if (clash) {
      this.log.warn(`preview of ${ref.name} not started: namespace ${clash} is used by the deploy branch`);
      return;
    }
    k.expiresAt ??= this.now() + this.ttlMs;
    delete k.expired;
    const keys = this.opts.previews.set({ name, ref: ref.ref, commit: ref.oid, graph: pg.graph, namespaces: pg.namespaces, expiresAt: k.expiresAt });
    for (const key of keys) this.opts.enqueue(key);
  }

  private stopPreview(name: string): void {
    for (const key of this.opts.previews.remove(name)) this.opts.enqueue(key);
  }

  /** PlanRecord.preview for a proposal that runs (or ran) as a preview. */
  private previewRecord(name: string, k: Known, invalidHead = false): PlanRecord["preview"] | undefined {
    const env = this.opts.previews.get(name);
    const expiresAt = k.expiresAt !== undefined ? new Date(k.expiresAt).toISOString() : undefined;
    if (!env) {
      const state = k.merged ? "Removed" : k.expired ? "Expired" : invalidHead ? "Invalid" : k.record.preview ? k.record.preview.state : undefined;
      if (!state) return undefined;
      return { namespace: k.record.preview?.namespace ?? "", state, ...(expiresAt && !k.merged ? { expiresAt } : {}) };
    }
    const progress = this.opts.previews.progress(name)!;
    return { namespace: env.namespaces.join(", "), state: invalidHead ? "Invalid" : progress.state, ...(expiresAt ? { expiresAt } : {}) };
  }

  private write(k: Known, record: PlanRecord): void {
    k.record = record;
    this.opts.store.setFile(planPath(k.name), renderPlan(record));
    this.opts.scheduleStatusWrite();
  }

  private onMerged(name: string, k: Known | undefined): void {
    if (!k || k.merged) return; // never planned (nothing was proposed), or handled already
    k.merged = {};
    const running = this.opts.previews.get(name) !== undefined;
    this.stopPreview(name);
    if (k.record.preview) this.write(k, { ...k.record, preview: this.previewRecord(name, k)! });
    this.log.info(`proposal ${name} (${k.ref}) merged at ${short(k.commit)}${running ? "; its preview is removed" : ""}`);
  }

  private forget(name: string, why: string): void {
    const k = this.known.get(name);
    this.known.delete(name);
    this.stopPreview(name);
    this.opts.store.removeFile(planPath(name));
    if (k) this.opts.store.setNote(k.commit, undefined);
    this.opts.scheduleStatusWrite();
    if (k) this.log.info(`proposal ${name} (${k.ref}) ${why}: plan${k.record.preview ? " and preview" : ""} removed`);
  }

  /**
   * Links merged proposals to the deploy commit that carries the merge (the head, when it is the
   * proposal's head or has it as a parent) and removes their plans once that rollout finished.
   */
  private async settleMerged(head: string | undefined): Promise<void> {
    const merged = [...this.known.values()].filter((k) => k.merged);
    if (merged.length === 0 || head === undefined) return;
    const rec = this.opts.store.getCommit(head);
    let parents: string[] | undefined;
    for (const k of merged) {
      if (rec && k.merged!.linked === undefined) {
        parents ??= (await this.opts.repo.reader.readCommit(head)).parents;
        if (head === k.commit || parents.includes(k.commit)) {
          const current = this.opts.store.getCommit(head)!;
          if (current.plan === undefined) {
            this.opts.store.setCommit({ ...current, plan: planPath(k.name) });
            this.opts.scheduleStatusWrite();
          }
          k.merged!.linked = head;
        }
      }
      const final = this.opts.store.getCommit(k.merged!.linked ?? head);
      if (final && final.phase !== "Pending" && final.phase !== "Progressing") {
        if (k.merged!.linked !== undefined) this.opts.reporter?.rolledOut(k.name, final);
        const by = k.merged!.linked ? ` (${short(k.merged!.linked)} records it)` : "";
        this.forget(k.name, `merged and rolled out${by}`);
      }
    }
  }

  /** Removes previews past their TTL; the delay until the next expiry, when a preview runs. */
  private expire(): ReconcileResult | void {
    const now = this.now();
    let next = Number.POSITIVE_INFINITY;
    for (const env of this.opts.previews.list()) {
      const k = this.known.get(env.name);
      if (env.expiresAt <= now) {
        this.stopPreview(env.name);
        if (k) {
          k.expired = true;
          this.write(k, { ...k.record, preview: this.previewRecord(env.name, k)! });
        }
        this.log.info(`preview of ${env.name} expired (no new head for ${Math.round(this.ttlMs / 60_000)} min); removed — push to the proposal to start it again`);
      } else next = Math.min(next, env.expiresAt - now);
    }
    return Number.isFinite(next) ? { requeueAfterMs: Math.max(50, next) } : undefined;
  }
}
