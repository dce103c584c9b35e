/**
 * Heartbeats and reachability (runtime/fleet.ts): a node whose listings go unanswered becomes NotReady after
 * the grace period and, after the eviction timeout on top, its pods count as lost (their workloads replace
 * them elsewhere); a node that answers again has its stale pods removed. Also the fleet's view of its nodes.
 */
import type { Logger } from "../../api/log.js";
import type { NodeEntry, ObservedNode, ObservedPod } from "./types.js";

/** What the heartbeat check takes of the fleet. */
export interface HeartbeatFleet {
  readonly nodes: ReadonlyMap<string, NodeEntry>;
  readonly opts: { now: () => number; nodeGraceMs: number; evictionTimeoutMs: number; log?: Logger | undefined };
  emit(owners: string[], nodes: string[]): void;
  ownersOn(entries: readonly NodeEntry[]): string[];
  deletePod(pod: ObservedPod, graceSeconds: number): void;
  decorate(p: ObservedPod): ObservedPod;
}

/**
 * The heartbeat check: a node silent for longer than the grace period becomes NotReady; after the
 * eviction timeout its pods are left out of pods() (so their workloads replace them elsewhere) and are
 * remembered, to be removed when the node answers again. Runs on every poll; callable from tests.
 * Silent is since the last listing that answered when the last one failed, and since the listing under
 * way began when it has not answered yet: an engine that accepts calls and never answers (hung) is
 * NotReady after the grace period, not only once the engine call timeout (30 s) failed the listing.
 */
export function checkHeartbeats(f: HeartbeatFleet): void {
  const now = f.opts.now();
  for (const e of f.nodes.values()) {
    const silent = !e.ready ? now - e.lastSeenAt : e.askedAt !== undefined ? now - e.askedAt : 0;
    const condition = silent > f.opts.nodeGraceMs ? "NotReady" : "Ready";
    if (condition !== e.condition) {
      e.condition = condition;
      f.opts.log?.[condition === "NotReady" ? "warn" : "info"](`node ${e.config.name} is ${condition}${condition === "NotReady" ? ` (no answer for ${Math.round(silent / 1000)}s)` : ""}`, { node: e.config.name });
      f.emit([], [e.config.name]);
    }
    if (!e.evicted && silent > f.opts.nodeGraceMs + f.opts.evictionTimeoutMs) {
      e.evicted = true;
      for (const p of e.pods.keys()) e.evictedPods.add(p);
      f.opts.log?.warn(`node ${e.config.name} NotReady for ${Math.round((silent - f.opts.nodeGraceMs) / 1000)}s: replacing its ${e.pods.size} pod(s) elsewhere`);
      f.emit(f.ownersOn([e]), [e.config.name]);
    }
  }
}

/** An evicted node answers again: its pods were replaced elsewhere, so the stale ones are removed. */
export function returned(f: HeartbeatFleet, e: NodeEntry): void {
  e.evicted = false;
  e.condition = "Ready";
  const stale = [...e.pods.values()].filter((p) => e.evictedPods.has(p.name));
  e.evictedPods.clear();
  f.opts.log?.info(`node ${e.config.name} is back: removing ${stale.length} stale pod(s) that were replaced meanwhile`);
  for (const p of stale) f.deletePod(f.decorate(p), 0);
  f.emit(f.ownersOn([e]), [e.config.name]);
}

/** Nodes, sorted by name. */
export function observedNodes(nodes: ReadonlyMap<string, NodeEntry>): ObservedNode[] {
  return [...nodes.values()]
    .map((e) => ({
      config: e.config,
      ...(e.info ? { info: e.info } : {}),
      ready: e.ready,
      condition: e.condition,
      evicted: e.evicted,
      leaving: e.leaving,
      lastSeenAt: e.lastSeenAt,
      ...(e.error ? { error: e.error } : {}),
      pods: e.pods.size,
    }))
    .sort((a, b) => (a.config.name < b.config.name ? -1 : 1));
}

/**
 * Nodes whose pods are unknown: never listed since they joined (e.g. down when the operator started)
 * and not yet evicted. Decisions that create pods wait for them, or they could duplicate pods that run
 * there; after the eviction timeout they count as lost like any NotReady node. Sorted.
 */
export function unlistedNodes(nodes: ReadonlyMap<string, NodeEntry>): string[] {
  return [...nodes.values()]
    .filter((e) => !e.listedOnce && !e.evicted)
    .map((e) => e.config.name)
    .sort();
}
