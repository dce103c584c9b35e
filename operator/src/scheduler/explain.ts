/**
 * Why a pod fits nowhere, in Kubernetes' words (kube-scheduler FitError.Error, ErrNoNodesAvailable and the
 * DefaultPreemption PostFilter message).
 */
import { CoxError } from "../api/errors.js";
import { REASON_NO_FREE_PORTS } from "./reasons.js";
import type { Unschedulable } from "./types.js";

/** What kube-scheduler says when the cluster has no nodes at all (ErrNoNodesAvailable). */
const NO_NODES_MESSAGE = "no nodes available to schedule pods";

/** The message for a pass over zero nodes: Kubernetes prints ErrNoNodesAvailable, not "0/0 nodes …". */
function explainNoNodes(): string {
  return NO_NODES_MESSAGE;
}

/**
 * Kubernetes' FitError message: "0/N nodes are available: <count> <reason>, ….". Each node counts once under
 * every reason it was rejected for; the "<count> <reason>" strings are sorted as strings (so "10 …" sorts
 * before "2 …", as in Kubernetes). A PostFilter message (preemption's) follows after a space. With N = 0 it is
 * explainNoNodes().
 */
export function explainUnschedulable(totalNodes: number, reasons: Readonly<Record<string, number>>, postFilter?: string): string {
  if (totalNodes === 0) return explainNoNodes();
  const parts = Object.entries(reasons).map(([reason, count]) => `${count} ${reason}`);
  parts.sort((a, b) => (a < b ? -1 : a > b ? 1 : 0));
  const head = `0/${totalNodes} nodes are available:`;
  const msg = parts.length === 0 ? `${head}.` : `${head} ${parts.join(", ")}.`;
  return postFilter === undefined || postFilter === "" ? msg : `${msg} ${postFilter}`;
}

/**
 * DefaultPreemption's PostFilter message when preemption cannot help: "preemption: " followed by either the
 * reason the pod may not preempt (a sentence) or a FitError over the dry run's per-node outcomes.
 */
export function explainPreemption(detail: string | { totalNodes: number; reasons: Readonly<Record<string, number>> }): string {
  return typeof detail === "string" ? `preemption: ${detail}` : `preemption: ${explainUnschedulable(detail.totalNodes, detail.reasons)}`;
}

/**
 * The CoxError for an unschedulable pod ("waiting": it may fit after the fleet changes). When host ports
 * are the only reason any node gave, the code is PortRangeExhausted; otherwise Unschedulable.
 */
export function unschedulableError(u: Unschedulable): CoxError {
  const keys = Object.keys(u.reasons);
  const portsOnly = keys.length === 1 && keys[0] === REASON_NO_FREE_PORTS;
  return new CoxError(portsOnly ? "PortRangeExhausted" : "Unschedulable", `pod ${u.id}: ${u.message}`, {
    details: { pod: u.id, reasons: u.reasons, ...(u.preemption ? { nominatedNode: u.preemption.node } : {}) },
  });
}
