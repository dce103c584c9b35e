/**
 * The autoscaler controller: every HorizontalPodAutoscaler of the applied commit, synced every 15 s as
 * Kubernetes' HPA controller does (`syncPeriodMs`). One key, AUTOSCALERS_KEY, syncs all: a sync samples the
 * target's pods through their nodes' runtimes (NodeRuntime.usage: cumulative CPU time and working set per
 * container), turns two samples of a container into a CPU rate, lets autoscale/ decide, and writes
 * autoscalers/<ns>/<name>.yaml.
 *
 * The replica count is told to the target's controller (workload or StatefulSet) through ReplicaCountPort (controllers/types.ts),
 * which this controller implements: while an autoscaler targets a workload, replicas(workload) is the
 * count it set — before its first sync since start, the count its status file recorded, so a restart keeps
 * the workload's size. A workload whose spec.replicas in Git is 0 is not scaled (Kubernetes: scaling
 * disabled). onScaled(workload) fires when a count changes or a workload stops being autoscaled, so that
 * its controller looks again.
 *
 * What Kubernetes keeps in memory (recommendations of the stabilization windows, recent scale events) is
 * kept in memory here too: after a restart the first sync seeds the scale-down window with the current count.
 */
import type { Condition } from "../../api/conditions.js";
import type { Logger } from "../../api/log.js";
import { keyOf, parseKey, type ResourceKey } from "../../api/objects.js";
import { formatCpu } from "../../api/quantity.js";
import { decideScale, resolveBehavior, resolveMetrics, type AutoscalerMemory, type MetricStatus, type ScalePod } from "../../autoscale/index.js";
import { autoscalerOf, autoscalerTargetKey } from "../../graph/index.js";
import type { ScaleTarget } from "../../manifest/autoscaler.js";
import type { Fleet, ObservedPod } from "../../runtime/fleet.js";
import { LABELS } from "../../runtime/labels.js";
import type { ContainerUsage } from "../../runtime/types.js";
import { autoscalerPath, readAutoscalerRecord, renderAutoscalerRecord, type AutoscalerMetricRecord } from "../../status/autoscalers.js";
import type { DesiredView, ReplicaCountPort } from "../types.js";

/** The key that makes the autoscaler controller sync every autoscaler. */
export const AUTOSCALERS_KEY = "HorizontalPodAutoscaler/*";

/** Kubernetes' --horizontal-pod-autoscaler-sync-period. */
const DEFAULT_SYNC_PERIOD_MS = 15_000;

/** Options of the autoscaler controller. */
export interface AutoscalerControllerOptions {
  desired: Pick<DesiredView, "graph" | "ready">;
  fleet: Pick<Fleet, "pods" | "runtimeOf">;
  /** Writes (or, with undefined, removes) a status file. */
  setStatusFile(path: string, content: string | undefined): void;
  /** Paths of the status files under a prefix (read back after a restart too). */
  statusFiles(prefix: string): string[];
  /** A status file's text as last written or read back. */
  statusFile(path: string): string | undefined;
  /** A workload's count changed, or it is no longer autoscaled: its controller is to look again. */
  onScaled(workload: ResourceKey): void;
  /** How often every autoscaler is synced (default DEFAULT_SYNC_PERIOD_MS). */
  syncPeriodMs?: number;
  now?: () => number;
  log?: Logger;
  /** Called with how long each container's usage reading took (figures, metrics). */
  onSample?: (ms: number) => void;
}

/** Syncs AUTOSCALERS_KEY; see the module comment. */
export class AutoscalerController implements ReplicaCountPort {
  /** Workload → the autoscaler scaling it and the count it set. */
  private readonly counts = new Map<ResourceKey, { autoscaler: ResourceKey; replicas: number }>();
  private readonly memory = new Map<ResourceKey, AutoscalerMemory>();
  private readonly conditions = new Map<ResourceKey, Condition[]>();
  private readonly lastScale = new Map<ResourceKey, { time: string; reason: string }>();
  /** The last usage reading of each container (by runtime id). */
  private readonly samples = new Map<string, ContainerUsage>();
  private readonly written = new Map<string, string>();

  constructor(private readonly opts: AutoscalerControllerOptions) {}

  replicas(workload: ResourceKey): number | undefined {
    const graph = this.opts.desired.graph();
    const autoscaler = graph ? autoscalerOf(graph, workload) : undefined;
    if (autoscaler === undefined) return undefined;
    const set = this.counts.get(workload);
    if (set !== undefined) return set.autoscaler === autoscaler ? set.replicas : undefined;
    const recorded = this.recorded(autoscaler);
    return recorded.target === workload && recorded.desiredReplicas !== undefined && recorded.desiredReplicas > 0 ? recorded.desiredReplicas : undefined;
  }

  /** Syncs every autoscaler; always comes back after the sync period. */
  async reconcile(_key: string): Promise<{ requeueAfterMs: number }> {
    const period = this.opts.syncPeriodMs ?? DEFAULT_SYNC_PERIOD_MS;
    const graph = this.opts.desired.graph();
    if (!graph || this.opts.desired.ready?.() === false) return { requeueAfterMs: period };
    const now = (this.opts.now ?? Date.now)();
    const targets = new Set<ResourceKey>();
    const paths = new Set<string>();
    const live = new Set<string>();
    const scaled = graph.ofKind("HorizontalPodAutoscaler").flatMap(({ object: hpa }) => {
      const target = autoscalerTargetKey(hpa);
      const entry = target === undefined ? undefined : graph.get(target);
      // A target missing or of another kind is refused by validation: never in an applied graph.
      return target === undefined || entry === undefined ? [] : [{ hpa, target, workload: entry.object as ScaleTarget, pods: this.opts.fleet.pods(target) }];
    });
    // Every target's pods are read at once: a Docker reading waits up to a second for the engine's collector.
    const measured = await Promise.all(scaled.map((s) => this.measure(s.pods, live)));
    for (const [i, { hpa, target, workload, pods }] of scaled.entries()) {
      const key = keyOf(hpa);
      targets.add(target);
      const gitReplicas = workload.spec.replicas ?? 1;
      const scalePods = measured[i]!;
      const prev = this.counts.get(target);
      const recorded = this.recorded(key);
      const current = gitReplicas === 0 ? 0 : prev?.autoscaler === key ? prev.replicas : recorded.target === target && recorded.desiredReplicas ? recorded.desiredReplicas : gitReplicas;
      const minReplicas = hpa.spec.minReplicas ?? 1;
      const decision = decideScale({
        minReplicas,
        maxReplicas: hpa.spec.maxReplicas,
        metrics: resolveMetrics(hpa),
        behavior: resolveBehavior(hpa.spec.behavior),
        currentReplicas: current,
        pods: scalePods,
        now,
        memory: this.memory.get(key),
        conditions: this.conditions.get(key) ?? recorded.conditions ?? [],
      });
      this.memory.set(key, decision.memory);
      this.conditions.set(key, decision.conditions);
      if (gitReplicas === 0) {
        if (this.counts.delete(target)) this.opts.onScaled(target);
      } else {
        this.counts.set(target, { autoscaler: key, replicas: decision.desiredReplicas });
        if (prev?.autoscaler !== key || prev.replicas !== decision.desiredReplicas) this.opts.onScaled(target);
      }
      if (decision.desiredReplicas !== current && decision.reason !== undefined) {
        this.lastScale.set(key, { time: new Date(now).toISOString(), reason: decision.reason });
        this.opts.log?.info(`${key}: ${target} ${current} → ${decision.desiredReplicas} replicas (${decision.reason})`, { workload: target });
      }
      const last = this.lastScale.get(key) ?? (recorded.lastScaleTime !== undefined && recorded.lastScaleReason !== undefined ? { time: recorded.lastScaleTime, reason: recorded.lastScaleReason } : undefined);
      const { namespace, name } = parseKey(key);
      const path = autoscalerPath(namespace!, name);
      paths.add(path);
      const desired = decision.desiredReplicas;
      this.write(
        path,
        renderAutoscalerRecord({
          autoscaler: key,
          target,
          minReplicas,
          maxReplicas: hpa.spec.maxReplicas,
          currentReplicas: pods.filter((p) => p.phase !== "Terminating").length,
          desiredReplicas: desired,
          gitReplicas,
          currentMetrics: decision.metrics.map(metricRecord),
          ...(last ? { lastScaleTime: last.time, lastScaleReason: last.reason } : {}),
          conditions: decision.conditions,
          message:
            gitReplicas === 0
              ? `scaling is disabled: spec.replicas of ${target} is 0 in Git`
              : gitReplicas !== desired
                ? `scales ${target} between ${minReplicas} and ${hpa.spec.maxReplicas} replicas; its spec.replicas in Git (${gitReplicas}) is ignored while this autoscaler targets it`
                : `scales ${target} between ${minReplicas} and ${hpa.spec.maxReplicas} replicas`,
        }),
      );
    }
    for (const [workload, c] of this.counts) {
      if (targets.has(workload)) continue;
      this.counts.delete(workload);
      this.memory.delete(c.autoscaler);
      this.conditions.delete(c.autoscaler);
      this.lastScale.delete(c.autoscaler);
      this.opts.onScaled(workload);
    }
    for (const id of [...this.samples.keys()]) if (!live.has(id)) this.samples.delete(id);
    for (const path of this.opts.statusFiles("autoscalers/")) if (!paths.has(path)) this.write(path, undefined);
    return { requeueAfterMs: period };
  }

  /**
   * The pods as autoscale/ sees them: each running app container's usage read now; CPU as the rate since
   * its previous reading (none yet: the pod has no cpu sample), memory as the sum of working sets.
   */
  private async measure(pods: readonly ObservedPod[], live: Set<string>): Promise<ScalePod[]> {
    return Promise.all(
      pods.map(async (pod): Promise<ScalePod> => {
        const app = pod.containers.filter((c) => c.labels[LABELS.init] === undefined);
        let cpu: number | undefined = 0;
        let memory: number | undefined = 0;
        let windowStart: number | undefined;
        const runtime = this.opts.fleet.runtimeOf(pod.node);
        const readings = await Promise.all(
          app.map(async (c) => {
            if (pod.phase === "Terminating" || c.state !== "running" || runtime?.usage === undefined) return undefined;
            const started = performance.now();
            const u = await runtime.usage(c.id).catch(() => undefined);
            this.opts.onSample?.(performance.now() - started);
            return u;
          }),
        );
        app.forEach((c, i) => {
          const u = readings[i];
          if (u === undefined) {
            cpu = memory = undefined;
            return;
          }
          live.add(c.id);
          if (memory !== undefined) memory += u.memoryBytes;
          const prev = this.samples.get(c.id);
          this.samples.set(c.id, u);
          if (prev === undefined || u.at <= prev.at || u.cpuNanos < prev.cpuNanos) cpu = undefined;
          else if (cpu !== undefined) {
            cpu += (u.cpuNanos - prev.cpuNanos) / ((u.at - prev.at) * 1000); // ns per ms → millicores
            windowStart = Math.min(windowStart ?? prev.at, prev.at);
          }
        });
        const requests = { cpu: 0, memory: 0 };
        let cpuRequested = app.length > 0;
        let memoryRequested = app.length > 0;
        for (const c of app) {
          const r = requestsOf(c.labels[LABELS.requests]);
          if (r.cpuMillis > 0) requests.cpu += r.cpuMillis;
          else cpuRequested = false;
          if (r.memoryBytes > 0) requests.memory += r.memoryBytes;
          else memoryRequested = false;
        }
        const starts = app.map((c) => c.startedAt).filter((t): t is number => t !== undefined);
        return {
          name: pod.name,
          phase: pod.phase,
          ready: pod.ready,
          ...(starts.length > 0 ? { startedAt: Math.min(...starts) } : {}),
          ...(pod.readySince !== undefined ? { readySince: pod.readySince } : {}),
          everReady: pod.ready || pod.firstReadyAt !== undefined,
          usage: { ...(cpu !== undefined && app.length > 0 ? { cpu } : {}), ...(memory !== undefined && app.length > 0 ? { memory } : {}) },
          ...(windowStart !== undefined ? { windowStart } : {}),
          requests: { ...(cpuRequested ? { cpu: requests.cpu } : {}), ...(memoryRequested ? { memory: requests.memory } : {}) },
        };
      }),
    );
  }

  private recorded(autoscaler: ResourceKey): ReturnType<typeof readAutoscalerRecord> {
    const { namespace, name } = parseKey(autoscaler);
    return readAutoscalerRecord(this.opts.statusFile(autoscalerPath(namespace!, name)) ?? "");
  }

  private write(path: string, content: string | undefined): void {
    if (content !== undefined && this.written.get(path) === content) return;
    if (content === undefined) this.written.delete(path);
    else this.written.set(path, content);
    this.opts.setStatusFile(path, content);
  }
}

/** A container's requests label ({"cpuMillis":…,"memoryBytes":…}); zeros when absent or unreadable. */
function requestsOf(text: string | undefined): { cpuMillis: number; memoryBytes: number } {
  try {
    const r = JSON.parse(text ?? "{}") as { cpuMillis?: unknown; memoryBytes?: unknown };
    return { cpuMillis: typeof r.cpuMillis === "number" ? r.cpuMillis : 0, memoryBytes: typeof r.memoryBytes === "number" ? r.memoryBytes : 0 };
  } catch {
    return { cpuMillis: 0, memoryBytes: 0 };
  }
}

/** A metric's line of the status file. */
function metricRecord(s: MetricStatus): AutoscalerMetricRecord {
  const m = s.metric;
  const value = (v: number): string => (m.resource === "cpu" ? formatCpu(Math.round(v)) : `${Math.round(v / 2 ** 20)}Mi`);
  return {
    resource: m.resource,
    target: m.type === "Utilization" ? `Utilization ${m.averageUtilization}%` : `AverageValue ${value(m.averageValue)}`,
    ...(s.current?.averageUtilization !== undefined ? { averageUtilization: s.current.averageUtilization } : {}),
    ...(s.current !== undefined ? { averageValue: value(s.current.averageValue) } : {}),
  };
}
