/**
 * The DaemonSet decision, pure: which nodes should run the set's pod, which pods go, which nodes get a new
 * one, node by node — Kubernetes' DaemonSet controller (pkg/controller/daemon: nodeShouldRunDaemonPod,
 * podsShouldBeOnNode, rollingUpdate, updateDaemonSetStatus) on coxswain's observed pods.
 *
 * - A node should run the pod when the pod's nodeName, nodeSelector and required node affinity select it and
 *   it tolerates the node's NoSchedule and NoExecute taints; a running pod may stay while only its NoExecute
 *   taints are tolerated (a NoSchedule taint added later keeps it, counted as misscheduled). The checks are
 *   the scheduler's own filters (scheduler/plugins.ts NodeName, NodeAffinity, TaintToleration). Resources
 *   are not part of it: a node without room for the pod should still run it, and the scheduler's reason is
 *   what is reported (Kubernetes leaves such a pod Pending).
 * - The pod carries the tolerations Kubernetes' DaemonSet controller adds (DAEMON_TOLERATIONS): a cordoned,
 *   drained, NotReady or unreachable node keeps its daemon pod.
 * - A node that should run the pod and has none (or only a terminating one) gets one of the current
 *   revision; failed pods are removed and replaced; a node with two pods keeps its oldest (one of each
 *   revision while surging).
 * - RollingUpdate with maxSurge 0: an old pod is removed while fewer than maxUnavailable nodes lack an
 *   available pod (an unavailable old pod is replaced at once); with maxSurge > 0: up to maxSurge nodes get
 *   a new pod beside their old one, and the old one goes when the new one is available. Percentages are of
 *   the nodes that should run the pod, rounded up; both 0 means maxUnavailable 1. OnDelete: an old pod is
 *   replaced only after it was deleted by hand.
 * - A node that is not ready (not answering, or its pods evicted) is left alone: nothing is created or
 *   removed there and it does not hold up the rollout.
 * - Complete (what a commit waits for, as `kubectl rollout status`): nothing to create or remove, and every
 *   ready node that should run the pod has one available pod, of the wanted revision unless OnDelete. A pod
 *   left on a node by a later NoSchedule taint is misscheduled but does not hold it up.
 * Deterministic: nodes are visited by name; every list out is sorted.
 */
import { CoxError } from "../api/errors.js";
import { nodeAffinity, nodeName, taintToleration } from "../scheduler/plugins.js";
import type { FilterPlugin, NodeSnapshot, PodRequest, Taint, Toleration } from "../scheduler/types.js";

/** The tolerations Kubernetes' DaemonSet controller adds to every daemon pod (operator Exists). */
const DAEMON_TOLERATIONS: readonly Toleration[] = Object.freeze([
  { key: "node.kubernetes.io/not-ready", operator: "Exists", effect: "NoExecute" },
  { key: "node.kubernetes.io/unreachable", operator: "Exists", effect: "NoExecute" },
  { key: "node.kubernetes.io/disk-pressure", operator: "Exists", effect: "NoSchedule" },
  { key: "node.kubernetes.io/memory-pressure", operator: "Exists", effect: "NoSchedule" },
  { key: "node.kubernetes.io/pid-pressure", operator: "Exists", effect: "NoSchedule" },
  { key: "node.kubernetes.io/unschedulable", operator: "Exists", effect: "NoSchedule" },
] as const);

/** The pod's own tolerations followed by every DAEMON_TOLERATIONS entry it does not already have. */
export function withDaemonTolerations(own: readonly Toleration[] | undefined): Toleration[] {
  const list = [...(own ?? [])];
  const same = (a: Toleration, b: Toleration) => a.key === b.key && (a.operator ?? "Equal") === (b.operator ?? "Equal") && (a.value ?? "") === (b.value ?? "") && a.effect === b.effect;
  for (const t of DAEMON_TOLERATIONS) if (!list.some((x) => same(x, t))) list.push(t);
  return list;
}

/** A node as the decision sees it. */
export interface DaemonNode {
  name: string;
  /** The node's labels as the scheduler sees them (kubernetes.io/os and arch included). */
  labels: Readonly<Record<string, string>>;
  taints?: readonly Taint[];
  /** Answering and not evicted: pods can be created and removed there. */
  ready: boolean;
}

/** A pod of the set as observed. */
export interface DaemonPod {
  name: string;
  node: string;
  revision: string;
  /** Epoch ms. */
  createdAt: number;
  ready: boolean;
  /** Epoch ms since when it has been ready continuously. */
  readySince?: number;
  terminating: boolean;
  /** Failed (phase Failed): removed and replaced. */
  failed?: boolean;
}

/** The scheduling fields of the pod template, with the daemon tolerations already added. */
export type DaemonScheduling = Pick<PodRequest, "nodeName" | "nodeSelector" | "affinity" | "tolerations">;

/** spec.updateStrategy. */
export type DaemonStrategy = { type: "RollingUpdate"; maxUnavailable?: number | string; maxSurge?: number | string } | { type: "OnDelete" };

/** Everything the decision needs. */
export interface DaemonSetInput {
  nodes: readonly DaemonNode[];
  pods: readonly DaemonPod[];
  /** The revision (pod-template hash) wanted now. */
  revision: string;
  scheduling: DaemonScheduling;
  strategy: DaemonStrategy;
  minReadySeconds: number;
  now: number;
}

/** Why a pod goes. */
export type DaemonRemoval = "NodeGone" | "Misscheduled" | "Failed" | "Duplicate" | "Updated";

/** The status counts, as Kubernetes names them in DaemonSetStatus. */
export interface DaemonSetCounts {
  desiredNumberScheduled: number;
  currentNumberScheduled: number;
  numberMisscheduled: number;
  numberReady: number;
  updatedNumberScheduled: number;
  numberAvailable: number;
  numberUnavailable: number;
}

/** What to do now. */
export interface DaemonSetStep {
  /** Nodes that should run the pod, sorted. */
  nodes: string[];
  /** Nodes to create a pod of the wanted revision on, sorted. */
  create: string[];
  /** Pods to remove, by pod name, and why. */
  remove: { pod: string; reason: DaemonRemoval }[];
  counts: DaemonSetCounts;
  /** Pods of the wanted revision that are available on nodes that should run them (progress of a rollout). */
  updatedAvailable: number;
  /** Every ready node that should run the pod has an available one (of the wanted revision unless OnDelete), and no other pod is left. */
  complete: boolean;
  /** Nodes that should run the pod but are not ready: left alone, sorted. */
  waiting: string[];
  /** Look again then: a ready pod becomes available (minReadySeconds). */
  requeueAfterMs?: number;
  /** maxUnavailable as a node count (RollingUpdate; 0 for OnDelete). */
  maxUnavailable: number;
}

/**
 * An int-or-percent of `total`, rounded up as the DaemonSet controller does (GetScaledValueFromIntOrPercent
 * with roundUp). Throws CoxError InvalidField for anything else (the manifest stage reports it first).
 */
function scaled(field: string, v: number | string | undefined, total: number, dflt: number): number {
  if (v === undefined) return dflt;
  if (typeof v === "number" && Number.isSafeInteger(v) && v >= 0) return v;
  const m = typeof v === "string" ? /^([0-9]+)%$/.exec(v) : null;
  if (m) return Math.ceil((Number(m[1]) * total) / 100);
  throw new CoxError("InvalidField", `spec.updateStrategy.rollingUpdate.${field}: ${JSON.stringify(v)} is invalid; expected an integer ≥ 0 or a percentage such as "10%"`);
}

const NO_RESOURCES = { cpuMillis: 0, memoryBytes: 0 };

/** The node as a scheduler snapshot with only what the three filters read. */
function snapshotOf(n: DaemonNode, taints: readonly Taint[]): NodeSnapshot {
  return {
    name: n.name,
    unschedulable: false,
    labels: { ...n.labels },
    allocatable: { ...NO_RESOURCES, pods: 1 },
    requested: NO_RESOURCES,
    requestedForScoring: NO_RESOURCES,
    podCount: 0,
    freePorts: 0,
    podsByOwner: {},
    ...(taints.length > 0 ? { taints } : {}),
  };
}

const FILTERS: readonly FilterPlugin[] = [nodeName, nodeAffinity, taintToleration];

/**
 * Whether a node should run the daemon pod, and whether a pod there may keep running (only NoExecute taints
 * count for that), by the scheduler's NodeName, NodeAffinity and TaintToleration filters. Pure.
 */
export function daemonFit(node: Omit<DaemonNode, "ready">, scheduling: DaemonScheduling): { shouldRun: boolean; shouldContinue: boolean } {
  const pod: PodRequest = { id: "daemon", owner: "daemon", requests: NO_RESOURCES, requestsForScoring: NO_RESOURCES, ports: 0, ...scheduling };
  const fits = (taints: readonly Taint[]) => FILTERS.every((f) => f.filter(pod, snapshotOf({ ...node, ready: true }, taints), new Map()) === undefined);
  const taints = node.taints ?? [];
  const shouldContinue = fits(taints.filter((t) => t.effect === "NoExecute"));
  return { shouldRun: shouldContinue && fits(taints), shouldContinue };
}

function byAge(a: DaemonPod, b: DaemonPod): number {
  return a.createdAt - b.createdAt || (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
}

/** The next step of a DaemonSet (see the module comment). Pure. */
export function daemonSetStep(input: DaemonSetInput): DaemonSetStep {
  const { revision, now } = input;
  const minReadyMs = input.minReadySeconds * 1000;
  const available = (p: DaemonPod) => p.ready && p.readySince !== undefined && p.readySince + minReadyMs <= now;
  const nodes = [...input.nodes].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const fit = new Map(nodes.map((n) => [n.name, daemonFit(n, input.scheduling)]));
  const shouldRun = nodes.filter((n) => fit.get(n.name)!.shouldRun);
  const desired = shouldRun.length;
  let maxUnavailable = 0;
  let maxSurge = 0;
  if (input.strategy.type === "RollingUpdate") {
    maxSurge = scaled("maxSurge", input.strategy.maxSurge, desired, 0);
    maxUnavailable = scaled("maxUnavailable", input.strategy.maxUnavailable, desired, 1);
    if (maxSurge === 0 && maxUnavailable === 0) maxUnavailable = 1;
  }
  const surging = input.strategy.type === "RollingUpdate" && maxSurge > 0;

  const remove: DaemonSetStep["remove"] = [];
  const create: string[] = [];
  const live = new Map<string, DaemonPod[]>();
  for (const p of input.pods) {
    if (p.terminating) continue;
    if (!fit.has(p.node)) {
      remove.push({ pod: p.name, reason: "NodeGone" });
      continue;
    }
    const list = live.get(p.node) ?? [];
    list.push(p);
    live.set(p.node, list);
  }

  // podsShouldBeOnNode: per node, the pods it keeps after failed, misscheduled and duplicate ones go.
  const kept = new Map<string, DaemonPod[]>();
  for (const n of nodes) {
    const pods = (live.get(n.name) ?? []).sort(byAge);
    if (!n.ready) {
      kept.set(n.name, pods);
      continue;
    }
    const f = fit.get(n.name)!;
    if (!f.shouldContinue) {
      for (const p of pods) remove.push({ pod: p.name, reason: "Misscheduled" });
      continue;
    }
    const healthy = pods.filter((p) => {
      if (p.failed) remove.push({ pod: p.name, reason: "Failed" });
      return !p.failed;
    });
    let keep: DaemonPod[] = [];
    if (healthy.length > 0) {
      const newest = healthy.find((p) => p.revision === revision);
      const oldest = healthy[0]!;
      // Surging: one pod of each revision may share a node (the old one goes when the new one is available).
      keep = surging && newest && oldest !== newest ? [oldest, newest] : [oldest];
      for (const p of healthy) if (!keep.includes(p)) remove.push({ pod: p.name, reason: "Duplicate" });
    }
    kept.set(n.name, keep);
    if (f.shouldRun && keep.length === 0) create.push(n.name);
  }

  // rollingUpdate: replace old pods within maxUnavailable (or maxSurge).
  if (input.strategy.type === "RollingUpdate") {
    const nodeOf = (n: DaemonNode) => {
      const pods = kept.get(n.name) ?? [];
      return { next: pods.find((p) => p.revision === revision), old: pods.find((p) => p.revision !== revision) };
    };
    const active = nodes.filter((n) => n.ready && fit.get(n.name)!.shouldContinue && (fit.get(n.name)!.shouldRun || (kept.get(n.name) ?? []).length > 0));
    if (!surging) {
      let unavailable = 0;
      const replace: string[] = [];
      const candidates: string[] = [];
      for (const n of active) {
        const { next, old } = nodeOf(n);
        if ((!next && !old) || (next && old)) unavailable++;
        else if (next) {
          if (!available(next)) unavailable++;
        } else if (!available(old!)) {
          replace.push(old!.name);
          unavailable++;
        } else candidates.push(old!.name);
      }
      const room = Math.max(0, Math.min(maxUnavailable - unavailable, candidates.length));
      for (const pod of [...replace, ...candidates.slice(0, room)]) remove.push({ pod, reason: "Updated" });
    } else {
      let surged = 0;
      const wanting: string[] = [];
      const candidates: string[] = [];
      for (const n of active) {
        const { next, old } = nodeOf(n);
        if (!old) continue;
        if (!next) {
          if (!available(old)) wanting.push(n.name);
          else candidates.push(n.name);
        } else if (!available(next)) surged++;
        else remove.push({ pod: old.name, reason: "Updated" });
      }
      const room = Math.max(0, Math.min(maxSurge - surged, candidates.length));
      create.push(...wanting, ...candidates.slice(0, room));
    }
  }

  // updateDaemonSetStatus: each node's oldest pod stands for it.
  const counts: DaemonSetCounts = { desiredNumberScheduled: desired, currentNumberScheduled: 0, numberMisscheduled: 0, numberReady: 0, updatedNumberScheduled: 0, numberAvailable: 0, numberUnavailable: 0 };
  let updatedAvailable = 0;
  let requeueAfterMs: number | undefined;
  for (const n of nodes) {
    const pods = (live.get(n.name) ?? []).filter((p) => !p.failed).sort(byAge);
    const first = pods[0];
    if (!fit.get(n.name)!.shouldRun) {
      if (first) counts.numberMisscheduled++;
      continue;
    }
    if (!first) continue;
    counts.currentNumberScheduled++;
    if (first.ready) counts.numberReady++;
    if (available(first)) counts.numberAvailable++;
    if (first.revision === revision) counts.updatedNumberScheduled++;
    const next = pods.find((p) => p.revision === revision);
    if (next && available(next)) updatedAvailable++;
    for (const p of pods) {
      if (p.ready && p.readySince !== undefined && !available(p)) {
        const wait = p.readySince + minReadyMs - now;
        requeueAfterMs = requeueAfterMs === undefined ? wait : Math.min(requeueAfterMs, wait);
      }
    }
  }
  counts.numberUnavailable = Math.max(0, desired - counts.numberAvailable);

  const waiting = shouldRun.filter((n) => !n.ready).map((n) => n.name);
  const onDelete = input.strategy.type === "OnDelete";
  const complete =
    create.length === 0 &&
    remove.length === 0 &&
    shouldRun.every((n) => {
      if (!n.ready) return true;
      const pods = kept.get(n.name) ?? [];
      return pods.length === 1 && available(pods[0]!) && (onDelete || pods[0]!.revision === revision);
    });
  return {
    nodes: shouldRun.map((n) => n.name),
    create: [...new Set(create)].sort(),
    remove: remove.sort((a, b) => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0)),
    counts,
    updatedAvailable,
    complete,
    waiting,
    ...(requeueAfterMs !== undefined ? { requeueAfterMs: Math.max(1, requeueAfterMs) } : {}),
    maxUnavailable,
  };
}
