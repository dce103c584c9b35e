/**
 * The per-pod state of one scheduling cycle (kube-scheduler's CycleState: what PreFilter and PreScore resolve),
 * and when the replicas of one template may share it.
 */
import type { AntiCheck, ScorePart, TermCounter } from "./interpod.js";
import type { PodInfo } from "./podinfo.js";
import type { HardSpread, SoftSpreadPlan } from "./spread.js";
import type { CycleState } from "./types.js";

/**
 * Per-pod state of one scheduling cycle (PreFilter results and what scoring resolves). Everything here depends
 * only on the pod's template (constraints, affinity, tolerations, owner, namespace, labels), and reads the
 * cluster's counters live, so consecutive replicas of one template share one Cycle (see Engine.cycle).
 */
export class Cycle {
  /** Active filters, in profile order: built-in codes, or -(k + 1) for the profile's k-th filter (custom). */
  readonly filters: number[] = [];
  /** The profile's filters are the built-ins in kube-scheduler's order: use the straight-line filter. */
  canonical = false;
  fUnschedulable = false;
  fNodeName = false;
  fTaint = false;
  fAffinity = false;
  fPorts = false;
  fFit = false;
  fVolume = false;
  fSpread = false;
  fInterPod = false;
  nodeNameIndex = -1;
  taintCache: Int32Array | undefined;
  affinityCache: Int32Array | undefined;
  readonly spread: HardSpread[] = [];
  readonly affinityTerms: TermCounter[] = [];
  /** The pod's required anti-affinity terms, then the existing pods' anti-affinity groups that select it. */
  readonly antiChecks: AntiCheck[] = [];
  /** cluster.groups.length when this cycle was resolved (a new term group means resolving again). */
  groupsSeen = 0;
  softSpread: SoftSpreadPlan | undefined;
  interParts: ScorePart[] | undefined;
  state: CycleState = new Map();

  constructor(public p: PodInfo) {}
}

/** Whether two pods share everything a Cycle resolves (the replicas of one template do). */
export function sameTemplate(a: PodInfo, b: PodInfo): boolean {
  return (
    a.spreadHard === b.spreadHard &&
    a.spreadSoft === b.spreadSoft &&
    a.podAffinity === b.podAffinity &&
    a.nodeAffinity === b.nodeAffinity &&
    a.tolerations === b.tolerations &&
    a.owner === b.owner &&
    a.namespace === b.namespace &&
    a.groupKey === b.groupKey &&
    a.req.nodeName === b.req.nodeName &&
    claimsSig(a.req.claims) === claimsSig(b.req.claims) &&
    (a.ports > 0 || a.hostPorts.length > 0) === (b.ports > 0 || b.hostPorts.length > 0)
  );
}

/** A shared empty list, for absent optional lists in hot loops (no allocation). */
export const EMPTY_LIST: readonly never[] = [];

/** The claims of a pod and their nodes as one string (two pods with equal signatures filter alike). */
function claimsSig(claims: PodInfo["req"]["claims"]): string {
  // Most pods have no claims: the same "" without building an array and a string per pod.
  if (claims === undefined || claims.length === 0) return "";
  return (claims ?? EMPTY_LIST).map((c) => `${c.name}\u0000${c.node ?? ""}`).join("\u0001");
}
