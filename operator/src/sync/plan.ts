/**
 * Plans: what applying one commit after another would do — objects created, updated (with the fields that
 * changed), deleted, which workloads would roll to a new revision, and where each new pod would be placed
 * on the fleet as it runs now, whether it fits, and Kubernetes' reason when it does not.
 *
 * One function makes the plan (buildPlan) and one prints it (formatPlan); `coxswain plan`, the PR plans the
 * operator writes to the status branch (toPlanRecord) and their one-line notes (planNote) all use them.
 *
 * Placement is asked of the real scheduler (scheduler/schedule) on the fleet's scheduler snapshot, workload
 * by workload in apply order, each placement counting for the next pod. A rollout does not need room for
 * its whole new revision on top of the old one: the old pods of that workload free their resources as it
 * proceeds. The plan accounts for that the way the strategy does it, in two phases per workload:
 * - surge: the first min(maxSurge, replicas) new pods are placed while every old pod still holds its
 *   resources (RollingUpdate and canary create them before removing anything; blue/green starts the whole
 *   new set beside the old one, so all of its pods are in this phase);
 * - after the old pods go: the old pods of the workload are released (requests, pod count, host ports,
 *   spreading counts) and the remaining new pods are placed — the rollout's end state. With maxSurge 0 and
 *   for Recreate everything is in this phase.
 * This is exact for the first step and for the end state, and optimistic in between only for rollouts
 * that interleave several removals and creations on nearly full nodes. Pods of workloads the commit
 * deletes are not released (deletions run last). A scale-up without a new revision places only the
 * additional pods. A DaemonSet gets a pod on each node of the snapshot that fits it (rollout/daemonset.ts),
 * placed with that node's name; a node's old pod is released before its new one is placed. A StatefulSet's
 * pods are planned by name, ordinal by ordinal, each with its own claims (a claim already bound pins its pod
 * to that node). A ReplicaSet (or ReplicationController) does not roll: its new template reaches the pods
 * it creates only, so only the missing pods are placed, beside the running ones. A bare Pod whose spec
 * changes is replaced: it is placed after its old pod goes, under its own name. Placements are against the
 * fleet that runs now: Node objects the commit adds or changes are not taken into account. A workload a
 * HorizontalPodAutoscaler scales is noted as such: its spec.replicas in Git is ignored, so a change of it
 * places no pod (the autoscaler decides the count); an autoscaler's own change says what it scales, between
 * which counts, on which metrics.
 */
import type { StatefulSet, TemplateOwner } from "../api/objects.js";
import { isWorkload, templateOwnerOf } from "../api/objects.js";
import { guardedWorkloads } from "../graph/disruption-budgets.js";
import { parseSchedule } from "../api/schedule.js";
import { DEFAULT_SEED, schedule, type SchedulerSettings } from "../scheduler/index.js";
import type { NodeSnapshot, PodRequest, PodSummary } from "../scheduler/types.js";
import { autoscalerOf, autoscalerTargetKey, changeDetails, diffGraphs, resolvePriority, type Change, type DesiredGraph } from "../graph/index.js";
import { resolveMetrics } from "../autoscale/index.js";
import { formatCpu, formatMemory } from "../api/quantity.js";
import type { Diagnostic } from "../manifest/types.js";
import { formatDiagnostic } from "../manifest/types.js";
import { daemonTemplate } from "../controllers/daemonset/controller.js";
import { planTemplate, podRequest, type TemplatePlan } from "../controllers/workload/template.js";
import { planOrdinal } from "../controllers/statefulset/template.js";
import { daemonFit, resolveCanaryParams, resolveRollingParams, statefulPodName } from "../rollout/index.js";
import type { PlanRecord, RecordedError } from "../status/types.js";
import { short, toRecordedError } from "./branch-sync.js";
import type { LoadedCommit } from "./load.js";

/** Where one new pod would go. */
export interface PlannedPlacement {
  /** A name for the new pod in the plan: <workload>-<revision>-<n>. */
  pod: string;
  /** The node chosen (or, with preemption, nominated). */
  node?: string;
  fits: boolean;
  /** Why it does not fit (Kubernetes' FitError text), or how it fits (after the old pods go, by preempting). */
  message?: string;
}

/** One planned change. */
export interface PlannedChange {
  action: Change["action"];
  key: string;
  /** For updates: changed field paths, sorted. */
  fields: string[];
  /** For updates: what changed, for people ("replicas 2 → 4", "web image app:1 → app:2"); see changeDetails. */
  details?: string[];
  /** For workloads whose pod template (or read config) changes: the revision they roll to. */
  rollsTo?: { revision: string; replicas: number };
  /** New pods and where they would go (with a fleet to ask), in creation order. */
  placements?: PlannedPlacement[];
  /**
   * Autoscaling: on a workload, the autoscaler that owns its count ("scaled by HorizontalPodAutoscaler/…");
   * on an autoscaler, what it scales ("scales Deployment/default/web between 1 and 5 replicas on cpu 50%").
   */
  note?: string;
  /** For CronJobs created or updated: the first schedule time after the plan was made (ISO-8601), or suspended. */
  nextRun?: { at: string } | { suspended: true };
}

/** A plan between two commits. */
export interface Plan {
  /** undefined = from nothing. */
  from?: string;
  to: string;
  changes: PlannedChange[];
  /** Diagnostics of `to` (errors mean the commit would not apply). */
  diagnostics: Diagnostic[];
  valid: boolean;
  /** The nodes placements were computed on (ready ones, sorted); absent when no fleet was asked. */
  nodes?: string[];
}

/** What placement needs of the fleet: Fleet.schedulerSnapshot() and the live pods of a workload. */
export interface FleetView {
  /** Nodes as the scheduler sees them now. */
  snapshot(): NodeSnapshot[];
  /** Pods of a workload that are not terminating: name and revision. */
  pods(owner: string): { name: string; revision: string }[];
  /** The node a PersistentVolumeClaim ("namespace/name") is bound to; undefined while unbound (or unknown). */
  claimNode?(claim: string): string | undefined;
}

/** The template of a workload in a graph, with its priority resolved from that graph. */
function templateOf(graph: DesiredGraph, key: string): TemplatePlan | undefined {
  const o = graph.get(key)?.object;
  const owner = o ? templateOwnerOf(o) : undefined;
  if (!owner) return undefined;
  return planTemplate(owner, (k) => graph.get(k)?.object, resolvePriority(graph, owner));
}

/** Computes the plan of applying `after` where `before` runs (graph order: dependencies first, deletions last). */
export function planGraphs(before: DesiredGraph | undefined, after: DesiredGraph, now: number): PlannedChange[] {
  const changes = diffGraphs(before, after).changes.map(
    (c): PlannedChange => ({ action: c.action, key: c.key, fields: [...(c.fields ?? [])], ...(c.before && c.after ? { details: changeDetails(c.before, c.after) } : {}) }),
  );
  // A CronJob does not roll out: it runs on its schedule, first at its next time.
  for (const c of changes) {
    const o = c.action === "delete" ? undefined : after.get(c.key)?.object;
    if (o?.kind !== "CronJob") continue;
    if (o.spec.suspend === true) c.nextRun = { suspended: true };
    else {
      const parsed = parseSchedule(o.spec.schedule, o.spec.timeZone);
      const next = "cron" in parsed ? parsed.cron.nextRun(new Date(now)) : null;
      if (next) c.nextRun = { at: next.toISOString() };
    }
  }
  // A workload rolls when its revision changes, also when only a ConfigMap it reads changed.
  const byKey = new Map(changes.map((c) => [c.key, c]));
  for (const key of after.keys()) {
    const next = templateOf(after, key);
    if (!next) continue;
    const prev = before?.has(key) ? templateOf(before, key) : undefined;
    if (prev?.revision === next.revision) continue;
    let change = byKey.get(key);
    if (!change) {
      change = { action: "update", key, fields: ["(referenced ConfigMap data)"], details: [READ_DATA_CHANGED] };
      byKey.set(key, change);
      changes.push(change);
    }
    change.rollsTo = { revision: next.revision, replicas: replicasOf(templateOwnerOf(after.get(key)!.object)!) };
  }
  // A PodDisruptionBudget created or changed: the workloads whose pods it will guard.
  const workloads = after.objects().filter(isWorkload);
  for (const c of changes) {
    const pdb = after.get(c.key)?.object;
    if (c.action === "delete" || pdb?.kind !== "PodDisruptionBudget") continue;
    const guarded = guardedWorkloads(pdb, workloads);
    c.details = [...(c.details ?? []), guarded.length > 0 ? `guards ${guarded.join(", ")}` : "guards no workload"];
  }
  for (const c of changes) {
    if (c.action === "delete") continue;
    const o = after.get(c.key)!.object;
    if (o.kind === "HorizontalPodAutoscaler") {
      const metrics = resolveMetrics(o).map((m) =>
        m.type === "Utilization" ? `${m.resource} ${m.averageUtilization}%` : `${m.resource} ${m.resource === "cpu" ? formatCpu(m.averageValue) : formatMemory(m.averageValue)} per pod`,
      );
      c.note = `scales ${autoscalerTargetKey(o) ?? "?"} between ${o.spec.minReplicas ?? 1} and ${o.spec.maxReplicas} replicas on ${metrics.join(", ")}`;
    } else {
      const hpa = isWorkload(o) ? autoscalerOf(after, c.key) : undefined;
      if (hpa !== undefined) c.note = `scaled by ${hpa}: spec.replicas in Git is ignored`;
    }
  }
  const order = new Map(after.order().map((k, i) => [k, i]));
  const rank = (c: PlannedChange) => (c.action === "delete" ? Number.MAX_SAFE_INTEGER : (order.get(c.key) ?? 0));
  return changes.sort((a, b) => rank(a) - rank(b) || (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** The detail of a workload that rolls only because data it reads changed. */
const READ_DATA_CHANGED = "data it reads changed";

/** The pods that run at once: replicas, one for a bare Pod, or a Job's parallelism (no more than its completions); a DaemonSet's count depends on the fleet (placeChanges fills it in), 0 without one. */
function replicasOf(w: TemplateOwner): number {
  if (w.kind === "Job") return Math.min(w.spec.parallelism ?? 1, w.spec.completions ?? 1);
  if (w.kind === "Pod") return 1;
  return w.kind === "DaemonSet" ? 0 : (w.spec.replicas ?? 1);
}

/** New pods placed while the old ones still run (the first step), per the workload's strategy. */
function surgeOf(w: TemplateOwner, replicas: number): number {
  try {
    if (w.kind === "Job") return replicas; // a new run: every pod is new
    if (w.kind === "Deployment") return Math.min(replicas, resolveRollingParams(w.spec).maxSurge);
    if (w.kind !== "Rollout") return 0; // DaemonSet and StatefulSet pods are replaced in place, a bare Pod after the old one goes
    if (w.spec.strategy?.blueGreen) return replicas;
    if (w.spec.strategy?.canary) return Math.min(replicas, resolveCanaryParams(w.spec).params.maxSurge);
    return 0;
  } catch {
    return 0; // invalid parameters are the manifest stage's to report; plan the conservative way
  }
}

/**
 * Adds placements to the changes that create pods (see the module comment), asking the scheduler on the
 * fleet's snapshot. Deterministic for the same snapshot (fixed seed). Mutates and returns `changes`.
 */
export function placeChanges(changes: PlannedChange[], after: DesiredGraph, fleet: FleetView, opts: { seed?: number; scheduler?: SchedulerSettings } = {}): PlannedChange[] {
  let nodes = fleet.snapshot().map(copyNode);
  const seed = opts.seed ?? DEFAULT_SEED;
  // Claims bound by the plan's own placements, for the changes after them (as the fleet binds them).
  const bound = new Map<string, string>();
  const claimNode = (claim: string): string | undefined => fleet.claimNode?.(claim) ?? bound.get(claim);
  const place = (requests: PodRequest[], label: string | undefined, plan: TemplatePlan): PlannedPlacement[] => {
    if (requests.length === 0) return [];
    const result = schedule(nodes, requests, { ...opts.scheduler, seed });
    const out: PlannedPlacement[] = [];
    const byId = new Map(result.placements.map((p) => [p.id, p]));
    const unschedulable = new Map(result.unschedulable.map((u) => [u.id, u]));
    for (const r of requests) {
      const display = r.id.slice(r.id.indexOf("#") + 1);
      const p = byId.get(r.id);
      if (p) {
        nodes = assume(nodes, p.node, r, plan);
        for (const c of r.claims ?? []) if (!bound.has(c.name)) bound.set(c.name, p.node);
        out.push({ pod: display, node: p.node, fits: true, ...(label ? { message: label } : {}) });
        continue;
      }
      const u = unschedulable.get(r.id)!;
      if (u.preemption) {
        nodes = release(nodes, new Set(u.preemption.victims.map((v) => v.name)));
        nodes = assume(nodes, u.preemption.node, r, plan);
        const victims = u.preemption.victims.map((v) => `${v.namespace}/${v.name}`).join(", ");
        out.push({ pod: display, node: u.preemption.node, fits: true, message: `by preempting lower-priority pod(s) ${victims}${label ? `, ${label}` : ""}` });
      } else out.push({ pod: display, fits: false, message: u.message });
    }
    return out;
  };
  // A DaemonSet: a pod on each node that should run it (by the pod's own node filters) and has none of the
  // revision wanted; a node's old pod is released before its new one is placed (maxSurge 0, the default).
  const placeDaemonSet = (change: PlannedChange, plan: TemplatePlan): PlannedPlacement[] => {
    const targets = nodes.filter((n) => daemonFit(n, plan.scheduling).shouldRun).map((n) => n.name);
    if (change.rollsTo) change.rollsTo.replicas = targets.length;
    const current = new Set(
      fleet
        .pods(change.key)
        .filter((p) => p.revision === plan.revision)
        .map((p) => p.name),
    );
    const out: PlannedPlacement[] = [];
    for (const node of targets) {
      const here = (nodes.find((n) => n.name === node)?.pods ?? []).filter((p) => p.owner === change.key && !p.terminating);
      if (here.some((p) => current.has(p.name)) || (!change.rollsTo && here.length > 0)) continue;
      nodes = release(nodes, new Set(here.map((p) => p.name)));
      const request = { ...podRequest(plan, `${change.key}#${plan.workload}-${plan.revision}-${node}`, claimNode), nodeName: node };
      out.push(...place([request], here.length > 0 ? "after the node's old pod is removed" : undefined, plan));
    }
    return out;
  };
  for (const change of changes) {
    if (change.action === "delete") continue;
    const plan = templateOf(after, change.key);
    if (!plan) continue;
    const w = templateOwnerOf(after.get(change.key)!.object)!;
    if (w.kind === "DaemonSet") {
      change.placements = placeDaemonSet(change, daemonTemplate(plan));
      continue;
    }
    const replicas = replicasOf(w);
    const live = fleet.pods(change.key);
    if (w.kind === "StatefulSet") {
      change.placements = placeStatefulSet(
        change,
        w,
        after,
        live,
        (r, label, p) => place(r, label, p),
        claimNode,
        (gone) => (nodes = release(nodes, gone)),
      );
      continue;
    }
    const name = (i: number) => (w.kind === "Pod" ? plan.workload : `${plan.workload}-${plan.revision}-${i}`);
    const ids = (from: number, count: number): PodRequest[] => Array.from({ length: count }, (_, i) => podRequest(plan, `${change.key}#${name(from + i + 1)}`, claimNode));
    if (change.rollsTo && (w.kind === "ReplicaSet" || w.kind === "ReplicationController")) {
      const missing = Math.max(0, replicas - live.length);
      change.placements = place(ids(live.length, missing), live.length > 0 ? "new pods only: running pods keep their template" : undefined, plan);
    } else if (change.rollsTo) {
      const old = live.filter((p) => p.revision !== plan.revision);
      const current = live.length - old.length;
      const wanted = Math.max(0, replicas - current);
      const surge = old.length === 0 ? wanted : Math.min(wanted, surgeOf(w, replicas));
      const first = place(ids(current, surge), undefined, plan);
      nodes = release(nodes, new Set(old.map((p) => p.name)));
      const rest = place(ids(current + surge, wanted - surge), old.length > 0 ? "after the old pods are removed" : undefined, plan);
      change.placements = [...first, ...rest];
    } else if (change.action === "update" && live.length < replicas && autoscalerOf(after, change.key) === undefined) {
      change.placements = place(ids(live.length, replicas - live.length), undefined, plan);
    }
  }
  return changes;
}

/**
 * A StatefulSet's pods by ordinal ("web-2"), each with its own claims: the missing ordinals below replicas,
 * then, when the set rolls, the ordinals from the partition up whose pod runs another revision (each placed
 * after its old pod is released: a StatefulSet replaces a pod in place, one at a time).
 */
function placeStatefulSet(
  change: PlannedChange,
  set: StatefulSet,
  graph: DesiredGraph,
  live: readonly { name: string; revision: string }[],
  place: (requests: PodRequest[], label: string | undefined, plan: TemplatePlan) => PlannedPlacement[],
  claimNode: (claim: string) => string | undefined,
  release: (gone: ReadonlySet<string>) => void,
): PlannedPlacement[] {
  const priority = resolvePriority(graph, set);
  const refs = (k: string) => graph.get(k)?.object;
  const byName = new Map(live.map((p) => [p.name, p]));
  const partition = set.spec.updateStrategy?.type === "OnDelete" ? Number.MAX_SAFE_INTEGER : (set.spec.updateStrategy?.rollingUpdate?.partition ?? 0);
  const out: PlannedPlacement[] = [];
  for (let o = 0; o < (set.spec.replicas ?? 1); o++) {
    const name = statefulPodName(set.metadata.name, o);
    const plan = planOrdinal(set, refs, priority, o);
    const old = byName.get(name);
    if (old !== undefined && (!change.rollsTo || o < partition || old.revision === plan.revision)) continue;
    if (old !== undefined) release(new Set([name]));
    out.push(...place([podRequest(plan, `${change.key}#${name}`, claimNode)], old !== undefined ? `replacing ${name} of revision ${old.revision}` : undefined, plan));
  }
  return out;
}

function copyNode(n: NodeSnapshot): NodeSnapshot {
  return {
    ...n,
    requested: { ...n.requested },
    requestedForScoring: { ...n.requestedForScoring },
    podsByOwner: { ...n.podsByOwner },
    ...(n.pods ? { pods: [...n.pods] } : {}),
    ...(n.hostPortsInUse ? { hostPortsInUse: [...n.hostPortsInUse] } : {}),
  };
}

/** The snapshot with a new pod counted on `node` (the scheduler's "assume"). Pure. */
function assume(nodes: NodeSnapshot[], node: string, r: PodRequest, plan: TemplatePlan): NodeSnapshot[] {
  return nodes.map((n) => {
    if (n.name !== node) return n;
    const c = copyNode(n);
    c.requested.cpuMillis += r.requests.cpuMillis;
    c.requested.memoryBytes += r.requests.memoryBytes;
    c.requestedForScoring.cpuMillis += r.requestsForScoring.cpuMillis;
    c.requestedForScoring.memoryBytes += r.requestsForScoring.memoryBytes;
    c.podCount++;
    c.podsByOwner[r.owner] = (c.podsByOwner[r.owner] ?? 0) + 1;
    c.freePorts = Math.max(0, c.freePorts - r.ports);
    if (r.hostPorts?.length) c.hostPortsInUse = [...(c.hostPortsInUse ?? []), ...r.hostPorts];
    const summary: PodSummary = {
      name: r.id,
      namespace: plan.namespace,
      labels: plan.podLabels,
      owner: r.owner,
      priority: plan.priority.value,
      requests: r.requests,
      requestsForScoring: r.requestsForScoring,
      ports: r.ports,
      ...(r.hostPorts ? { hostPorts: r.hostPorts } : {}),
      ...(r.affinity ? { affinity: r.affinity } : {}),
    };
    c.pods = [...(c.pods ?? []), summary];
    return c;
  });
}

/** The snapshot with the named pods gone: their requests, counts, ports and summaries freed. Pure. */
export function release(nodes: NodeSnapshot[], gone: ReadonlySet<string>): NodeSnapshot[] {
  if (gone.size === 0) return nodes;
  return nodes.map((n) => {
    const leaving = (n.pods ?? []).filter((p) => gone.has(p.name));
    if (leaving.length === 0) return n;
    const c = copyNode(n);
    for (const p of leaving) {
      const req = p.requests ?? { cpuMillis: 0, memoryBytes: 0 };
      const sreq = p.requestsForScoring ?? req;
      c.requested.cpuMillis = Math.max(0, c.requested.cpuMillis - req.cpuMillis);
      c.requested.memoryBytes = Math.max(0, c.requested.memoryBytes - req.memoryBytes);
      c.requestedForScoring.cpuMillis = Math.max(0, c.requestedForScoring.cpuMillis - sreq.cpuMillis);
      c.requestedForScoring.memoryBytes = Math.max(0, c.requestedForScoring.memoryBytes - sreq.memoryBytes);
      c.podCount = Math.max(0, c.podCount - 1);
      if (p.owner !== undefined) {
        const left = (c.podsByOwner[p.owner] ?? 0) - 1;
        if (left > 0) c.podsByOwner[p.owner] = left;
        else delete c.podsByOwner[p.owner];
      }
      c.freePorts += p.ports ?? 0;
      if (p.hostPorts?.length && c.hostPortsInUse) {
        const freed = new Set(p.hostPorts.map((h) => h.port));
        c.hostPortsInUse = c.hostPortsInUse.filter((h) => !freed.has(h.port));
      }
    }
    c.pods = (c.pods ?? []).filter((p) => !gone.has(p.name));
    return c;
  });
}

/**
 * The plan of a loaded commit against a base graph, with placements when a fleet is given. Pure apart
 * from the fleet's snapshot.
 */
export function buildPlan(input: { from?: string; fromGraph?: DesiredGraph; target: LoadedCommit; fleet?: FleetView; seed?: number; scheduler?: SchedulerSettings; now?: number }): Plan {
  const { target } = input;
  const base = { ...(input.from ? { from: input.from } : {}), to: target.commit, diagnostics: target.diagnostics };
  if (!target.graph) return { ...base, changes: [], valid: false };
  const changes = planGraphs(input.fromGraph, target.graph, input.now ?? Date.now());
  if (!input.fleet) return { ...base, changes, valid: true };
  const nodes = input.fleet
    .snapshot()
    .map((n) => n.name)
    .sort();
  return {
    ...base,
    changes: placeChanges(changes, target.graph, input.fleet, { ...(input.seed !== undefined ? { seed: input.seed } : {}), ...(input.scheduler ? { scheduler: input.scheduler } : {}) }),
    valid: true,
    nodes,
  };
}

/** Counts of a plan's new pods: all, placed, not fitting. */
export function placementCounts(plan: Plan): { pods: number; fit: number; unfit: number } {
  let pods = 0;
  let fit = 0;
  for (const c of plan.changes) {
    for (const p of c.placements ?? []) {
      pods++;
      if (p.fits) fit++;
    }
  }
  return { pods, fit, unfit: pods - fit };
}

/** The changes `coxswain plan` prints by default; past this it counts the rest (`--output json` has them all). */
export const PLAN_TEXT_CHANGES = 200;
/** The placements printed below one change; past this they are counted ("… and 80 more pod(s): 80 fit"). */
export const PLAN_TEXT_PODS = 20;

/**
 * Human form of a plan, one change per line, each new pod's placement indented below its workload: at most
 * `maxChanges` changes (default PLAN_TEXT_CHANGES) and PLAN_TEXT_PODS placements a change, the rest counted.
 * The summary line counts everything.
 */
export function formatPlan(plan: Plan, maxChanges = PLAN_TEXT_CHANGES): string[] {
  const lines = [`plan ${plan.from ? short(plan.from) : "(nothing)"}..${short(plan.to)}`];
  for (const d of plan.diagnostics) lines.push(`  ${formatDiagnostic(d)}`);
  if (!plan.valid) {
    lines.push(`${plan.diagnostics.filter((d) => d.severity === "error").length} error(s): this commit would not be applied`);
    return lines;
  }
  for (const c of plan.changes.slice(0, maxChanges)) {
    let line = `  ${c.action} ${c.key}`;
    if (c.action === "update" && (c.details ?? c.fields).length) line += ` (${(c.details ?? c.fields).join("; ")})`;
    else if (c.action === "create" && c.details?.length) line += ` (${c.details.join("; ")})`;
    // A Job runs its pods to completion: its "replicas" are the pods it runs at once.
    if (c.rollsTo) {
      line += c.key.startsWith("Job/")
        ? ` → runs revision ${c.rollsTo.revision} (${c.rollsTo.replicas} pod(s) at a time)`
        : ` → rolls out revision ${c.rollsTo.revision} (${c.key.startsWith("DaemonSet/") ? `one pod on each node that fits${plan.nodes ? `: ${c.rollsTo.replicas}` : ""}` : `${c.rollsTo.replicas} replicas`})`;
    }
    if (c.note) line += ` [${c.note}]`;
    if (c.nextRun) line += "at" in c.nextRun ? ` → next run at ${c.nextRun.at.replace(/\.\d+Z$/, "Z")}` : " → suspended: no run starts";
    lines.push(line);
    const placements = c.placements ?? [];
    for (const p of placements.slice(0, PLAN_TEXT_PODS)) {
      const where = p.fits ? `→ ${p.node}` : "does not fit:";
      lines.push(`      ${p.pod} ${where}${p.message ? (p.fits ? ` (${p.message})` : ` ${p.message}`) : ""}`);
    }
    const rest = placements.slice(PLAN_TEXT_PODS);
    if (rest.length) {
      const unfit = rest.filter((p) => !p.fits).length;
      lines.push(`      … and ${rest.length} more pod(s): ${rest.length - unfit} fit${unfit ? `, ${unfit} do not fit` : ""}`);
    }
  }
  if (plan.changes.length > maxChanges) lines.push(`  … and ${plan.changes.length - maxChanges} more change(s) (--output json lists every change)`);
  const count = (a: string) => plan.changes.filter((c) => c.action === a).length;
  let summary = plan.changes.length === 0 ? "no changes" : `${count("create")} to create, ${count("update")} to update, ${count("delete")} to delete`;
  if (plan.nodes) {
    const { pods, fit, unfit } = placementCounts(plan);
    summary += `; ${pods} new pod(s) on ${plan.nodes.length} node(s): ${fit} fit${unfit ? `, ${unfit} do not fit` : ""}`;
  }
  lines.push(summary);
  return lines;
}

/** A plan's errors as the status branch records them. */
function recordedErrors(plan: Plan): RecordedError[] {
  return plan.diagnostics.filter((d) => d.severity === "error").map(toRecordedError);
}

/** The plan as plans/<name>.yaml records it (status/types.ts PlanRecord). Pure. */
export function toPlanRecord(plan: Plan, ref: string, preview?: PlanRecord["preview"]): PlanRecord {
  return {
    ref,
    commit: plan.to,
    ...(plan.from ? { base: plan.from } : {}),
    valid: plan.valid,
    errors: recordedErrors(plan),
    changes: plan.changes.map((c) => ({
      action: c.action,
      key: c.key,
      fields: [...c.fields],
      ...(c.details ? { details: [...c.details] } : {}),
      ...(c.rollsTo ? { rollsTo: { ...c.rollsTo } } : {}),
      ...(c.placements ? { placements: c.placements.map((p) => ({ ...p })) } : {}),
    })),
    ...(preview ? { preview } : {}),
  };
}

/** The longest line of a plan note; longer ones end in "…". */
const NOTE_LINE = 200;
/** The changes (or errors) a plan note (and the log of a proposal's plan) lists; past this it counts the rest. */
export const NOTE_ITEMS = 20;

/** `text` on one line of at most NOTE_LINE characters. */
function noteLine(text: string): string {
  const line = text.replace(/\s+/g, " ");
  return line.length <= NOTE_LINE ? line : `${line.slice(0, NOTE_LINE - 1)}…`;
}

/** "2 new pod(s) → node1 (2), node2; 1 does not fit": where a change's new pods go, nodes in first-use order. */
function placementSummary(placements: readonly PlannedPlacement[]): string {
  const nodes = new Map<string, number>();
  for (const p of placements) if (p.fits && p.node !== undefined) nodes.set(p.node, (nodes.get(p.node) ?? 0) + 1);
  const unfit = placements.filter((p) => !p.fits).length;
  const where = [...nodes].map(([n, k]) => (k > 1 ? `${n} (${k})` : n)).join(", ");
  return `${placements.length} new pod(s)${where ? ` → ${where}` : ""}${unfit ? `; ${unfit} do not fit` : ""}`;
}

/**
 * The note coxswain puts on a proposal's head commit. Its first line sums the plan up, e.g.
 * "coxswain plan: valid against 1a2b3c4 — 1 to create, 2 to update, 0 to delete; 4 new pod(s): 4 fit (plans/pr-login.yaml)";
 * then one line per change, in apply order ("update Deployment/default/web: replicas 2 → 4; 2 new pod(s) → node1, node2"),
 * or per error of an invalid plan (file:line:col, code, object, field, message), at most NOTE_ITEMS of them and
 * a count of the rest. Each line at most NOTE_LINE characters. Pure.
 */
export function planNote(plan: Plan, path: string): string {
  const lines: string[] = [];
  let items: string[];
  if (!plan.valid) {
    const errors = plan.diagnostics.filter((d) => d.severity === "error");
    const first = errors[0];
    lines.push(`coxswain plan: invalid — ${errors.length} error(s)${first ? `, first ${first.file}:${first.line}:${first.col} ${first.code}` : ""} (${path})`);
    items = errors.map((d) => `${d.file}:${d.line}:${d.col} ${d.code}${d.object ? ` ${d.object}` : ""}${d.field ? ` ${d.field}` : ""}: ${d.message}`);
  } else {
    const count = (a: string) => plan.changes.filter((c) => c.action === a).length;
    const { pods, fit, unfit } = placementCounts(plan);
    const placed = plan.nodes ? `; ${pods} new pod(s): ${unfit ? `${fit} fit, ${unfit} do not fit` : `${fit} fit`}` : "";
    lines.push(`coxswain plan: valid against ${plan.from ? short(plan.from) : "nothing"} — ${count("create")} to create, ${count("update")} to update, ${count("delete")} to delete${placed} (${path})`);
    items = plan.changes.map((c) => {
      const parts = [...(c.details ?? [])];
      if (c.placements?.length) parts.push(placementSummary(c.placements));
      return `${c.action} ${c.key}${parts.length ? `: ${parts.join("; ")}` : ""}`;
    });
  }
  lines.push(...items.slice(0, NOTE_ITEMS));
  if (items.length > NOTE_ITEMS) lines.push(`… and ${items.length - NOTE_ITEMS} more (${path})`);
  return lines.map(noteLine).join("\n");
}
