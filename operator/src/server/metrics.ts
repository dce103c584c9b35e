/**
 * The operator's Prometheus metrics (GET /metrics), in one place: every metric is defined here, on a
 * Registry of the operator's own (never prom-client's global one, so two operators in one process — tests —
 * count apart), with prom-client's default process metrics. The modules measured never import this: each
 * takes a small callback in its options (engine/manager.ts `observe`, source watch `onFetched`, the Docker
 * runtime's `onCall`, the status store's `onCommitPhase`, the workload controller's `onScheduled`, the
 * server's `onWebhook`), and sync/operator.ts wires them to the methods below. Gauges of state (node
 * readiness, pods per phase, queue depth) are read when scraped, from the `gauges` sources.
 *
 * Names follow Prometheus' conventions: prefix `coxswain_`, base units (`_seconds`), `_total` on counters
 * only, snake_case; labels have few values (controller kinds, node names, phases, providers, results —
 * never pod names or commit ids).
 */
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from "prom-client";

/** What the scrape-time gauges read. */
export interface MetricGauges {
  /** Every node, with whether it is Ready. */
  nodes(): readonly { name: string; ready: boolean }[];
  /** The phase of every observed pod. */
  podPhases(): readonly string[];
  /** Keys waiting in the work queue (not counting keys in flight or delayed). */
  queueDepth(): number;
}

/** Buckets of operations from milliseconds (a reconcile that decides nothing) to minutes (a large fetch). */
const DURATION_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];

/** Commit phases a rollout ends in (a commit that leaves Progressing). */
const ROLLOUT_OUTCOMES: ReadonlySet<string> = new Set(["Succeeded", "Failed", "RolledBack", "Superseded", "Quarantined"]);

/** The operator's metrics: what the modules report, and the exposition text of everything. */
export class OperatorMetrics {
  /** The registry of this operator only. */
  readonly registry = new Registry();
  private readonly reconcileDuration: Histogram<"controller">;
  private readonly reconcileErrors: Counter<"controller">;
  private readonly queueDuration: Histogram;
  private readonly commitPhases: Counter<"phase">;
  private readonly rollouts: Counter<"outcome">;
  private readonly rollbacks: Counter;
  private readonly reverts: Counter;
  private readonly fetchDuration: Histogram;
  private readonly fetchFailures: Counter;
  private readonly engineDuration: Histogram<"node">;
  private readonly engineErrors: Counter<"node">;
  private readonly schedulerAttempts: Counter<"result">;
  private readonly schedulerDuration: Histogram;
  private readonly webhooks: Counter<"provider" | "result">;
  private readonly forgeCalls: Counter<"forge" | "result">;

  constructor(gauges: MetricGauges) {
    const registers = [this.registry];
    collectDefaultMetrics({ register: this.registry });
    this.reconcileDuration = new Histogram({
      name: "coxswain_reconcile_duration_seconds",
      help: "Time of one reconcile, per controller (the work-queue key's kind: Deployment, Rollout, Service, Proxy, Node, @source, @proposals).",
      labelNames: ["controller"],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.reconcileErrors = new Counter({ name: "coxswain_reconcile_errors_total", help: "Reconciles that failed, per controller.", labelNames: ["controller"], registers });
    new Gauge({
      name: "coxswain_workqueue_depth",
      help: "Keys waiting in the work queue (not counting keys being reconciled or waiting for a delay).",
      registers,
      collect() {
        this.set(gauges.queueDepth());
      },
    });
    this.queueDuration = new Histogram({
      name: "coxswain_workqueue_queue_duration_seconds",
      help: "Time a key waited in the work queue between being added and its reconcile starting.",
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.commitPhases = new Counter({
      name: "coxswain_commit_phase_transitions_total",
      help: "Commits of the deploy branch entering a phase (Pending, Invalid, Progressing, Succeeded, Failed, RolledBack, Quarantined, Superseded).",
      labelNames: ["phase"],
      registers,
    });
    this.rollouts = new Counter({
      name: "coxswain_rollouts_total",
      help: "Rollouts of a commit that ended, by outcome (the phase the commit left Progressing for).",
      labelNames: ["outcome"],
      registers,
    });
    this.rollbacks = new Counter({ name: "coxswain_rollbacks_total", help: "Automatic rollbacks of a failed commit to the last stable one.", registers });
    this.reverts = new Counter({ name: "coxswain_reverts_total", help: "Revert commits made on the deploy branch (auto-revert).", registers });
    this.fetchDuration = new Histogram({ name: "coxswain_git_fetch_duration_seconds", help: "Time of one fetch of the remote repository, failed or not.", buckets: DURATION_BUCKETS, registers });
    this.fetchFailures = new Counter({ name: "coxswain_git_fetch_failures_total", help: "Fetches of the remote repository that failed.", registers });
    this.engineDuration = new Histogram({
      name: "coxswain_engine_call_duration_seconds",
      help: "Time of one Docker Engine API call, per node (once it holds one of the node's call slots).",
      labelNames: ["node"],
      buckets: DURATION_BUCKETS,
      registers,
    });
    this.engineErrors = new Counter({ name: "coxswain_engine_call_errors_total", help: "Docker Engine API calls that failed, per node.", labelNames: ["node"], registers });
    new Gauge({
      name: "coxswain_node_ready",
      help: "1 when the node is Ready, else 0.",
      labelNames: ["node"],
      registers,
      collect() {
        this.reset();
        for (const n of gauges.nodes()) this.set({ node: n.name }, n.ready ? 1 : 0);
      },
    });
    new Gauge({
      name: "coxswain_pods",
      help: "Observed pods, per phase.",
      labelNames: ["phase"],
      registers,
      collect() {
        this.reset();
        const counts = new Map<string, number>();
        for (const p of gauges.podPhases()) counts.set(p, (counts.get(p) ?? 0) + 1);
        for (const [phase, n] of counts) this.set({ phase }, n);
      },
    });
    this.schedulerAttempts = new Counter({
      name: "coxswain_scheduler_attempts_total",
      help: "Pods the scheduler tried to place, by result (scheduled, unschedulable).",
      labelNames: ["result"],
      registers,
    });
    this.schedulerDuration = new Histogram({ name: "coxswain_scheduler_pass_duration_seconds", help: "Time of one scheduling pass (all new pods of a workload at once).", buckets: DURATION_BUCKETS, registers });
    this.webhooks = new Counter({
      name: "coxswain_webhook_requests_total",
      help: "Webhook requests, by provider and result (triggered, pong, ignored, invalid, unauthorized, too_large, rate_limited, incomplete, error).",
      labelNames: ["provider", "result"],
      registers,
    });
    this.forgeCalls = new Counter({
      name: "coxswain_forge_posts_total",
      help: "Posts to the forge (a plan comment or a commit status, retries included), by forge and result (ok, failed).",
      labelNames: ["forge", "result"],
      registers,
    });
  }

  /** A reconcile of `controller` ended. */
  reconciled(controller: string, ms: number, failed: boolean): void {
    this.reconcileDuration.observe({ controller }, ms / 1000);
    if (failed) this.reconcileErrors.inc({ controller });
  }

  /** A key waited `ms` in the queue before its reconcile started. */
  queueWaited(ms: number): void {
    this.queueDuration.observe(ms / 1000);
  }

  /** A commit entered `phase` from `previous`. */
  commitPhase(phase: string, previous: string | undefined): void {
    this.commitPhases.inc({ phase });
    if (previous === "Progressing" && ROLLOUT_OUTCOMES.has(phase)) this.rollouts.inc({ outcome: phase });
  }

  /** A failed commit was rolled back. */
  rolledBack(): void {
    this.rollbacks.inc();
  }

  /** A revert commit was made. */
  reverted(): void {
    this.reverts.inc();
  }

  /** A fetch of the remote ended. */
  fetched(ms: number, failed: boolean): void {
    this.fetchDuration.observe(ms / 1000);
    if (failed) this.fetchFailures.inc();
  }

  /** An Engine API call on `node` ended. */
  engineCall(node: string, ms: number, failed: boolean): void {
    this.engineDuration.observe({ node }, ms / 1000);
    if (failed) this.engineErrors.inc({ node });
  }

  /** A scheduling pass placed `placed` pods and could not place `unschedulable`. */
  scheduled(ms: number, placed: number, unschedulable: number): void {
    this.schedulerDuration.observe(ms / 1000);
    if (placed > 0) this.schedulerAttempts.inc({ result: "scheduled" }, placed);
    if (unschedulable > 0) this.schedulerAttempts.inc({ result: "unschedulable" }, unschedulable);
  }

  /** A webhook request of `provider` was answered with `result`. */
  webhook(provider: string, result: string): void {
    this.webhooks.inc({ provider, result });
  }

  /** A post to the forge ended with `result` (after its retries). */
  forgePost(forge: string, result: "ok" | "failed"): void {
    this.forgeCalls.inc({ forge, result });
  }

  /** The exposition text of every metric, and its content type. */
  async exposition(): Promise<{ contentType: string; text: string }> {
    return { contentType: this.registry.contentType, text: await this.registry.metrics() };
  }
}
