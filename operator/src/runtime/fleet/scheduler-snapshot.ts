/**
 * The scheduler's view of the fleet (Fleet.schedulerSnapshot): every node that can take pods, with what its
 * pods, the reservations and the room nominated for preemptors request on it.
 */
import type { NodeSnapshot, PodSummary, Resources } from "../../scheduler/types.js";
import { LABELS } from "../labels.js";
import { withPlatformLabels } from "../platform.js";
import type { Reservations } from "./reservations.js";
import type { NodeEntry } from "./types.js";

/** Kubernetes' default pod limit per node. */
const DEFAULT_MAX_PODS = 110;

/**
 * The scheduler's view: every ready node with what is requested on it, counting reservations.
 * Nodes that did not answer their last listing are left out (a pod cannot be placed there).
 */
export function schedulerSnapshot(nodes: ReadonlyMap<string, NodeEntry>, held: Reservations, terminating: ReadonlySet<string>, now: number, forPriority = Number.POSITIVE_INFINITY, forOwner?: string): NodeSnapshot[] {
  const out: NodeSnapshot[] = [];
  for (const [owner, n] of held.nominations) if (n.expiresAt < now) held.nominations.delete(owner);
  for (const e of nodes.values()) {
    // A NotReady node takes no pods (Kubernetes taints it node.kubernetes.io/unreachable:NoSchedule), also
    // while its hung listing has not failed yet.
    if (!e.ready || !e.info || e.evicted || e.condition === "NotReady") continue;
    const requested = { cpuMillis: 0, memoryBytes: 0 };
    const extended: Record<string, number> = {};
    const scoring = { cpuMillis: 0, memoryBytes: 0 };
    const podsByOwner: Record<string, number> = {};
    const pods: PodSummary[] = [];
    let podCount = 0;
    const add = (owner: string, r: Resources, sr: Resources) => {
      requested.cpuMillis += r.cpuMillis;
      requested.memoryBytes += r.memoryBytes;
      for (const [name, q] of Object.entries(r.extended ?? {})) extended[name] = (extended[name] ?? 0) + q;
      scoring.cpuMillis += sr.cpuMillis;
      scoring.memoryBytes += sr.memoryBytes;
      podsByOwner[owner] = (podsByOwner[owner] ?? 0) + 1;
      podCount++;
    };
    // Pods being stopped still hold their resources until their containers are gone, as in Kubernetes;
    // pods that ended (a Job's) hold none, their containers are only kept for their exit and log.
    for (const p of e.pods.values()) {
      if (p.phase === "Succeeded" || p.phase === "Failed") continue;
      add(p.owner, p.requests, p.requestsForScoring);
      const first = p.containers[0]!;
      pods.push({
        name: p.name,
        namespace: p.namespace,
        labels: p.labels,
        owner: p.owner,
        priority: Number(first.labels[LABELS.priority] ?? 0) || 0,
        requests: p.requests,
        requestsForScoring: p.requestsForScoring,
        ports: p.ports.length,
        hostPorts: p.ports.map((x) => ({ port: x.hostPort, protocol: x.protocol })),
        startTime: p.createdAt,
        ...(terminating.has(p.name) ? { terminating: true } : {}),
      });
    }
    for (const r of held.byPod.values()) if (r.node === e.config.name) add(r.owner, r.requests, r.requestsForScoring);
    // Room held for a higher-priority preemptor counts against lower-priority pods (Kubernetes'
    // scheduler does the same with nominated pods), so a victim's workload cannot take it back.
    for (const [owner, n] of held.nominations) {
      if (n.node === e.config.name && owner !== forOwner && n.priority > forPriority) add(owner, n.requests, n.requestsForScoring);
    }
    const range = e.config.portRange.to - e.config.portRange.from + 1;
    const used = held.usedPorts(e);
    const cap = e.config.capacity ?? {};
    const reserved = e.config.reserved ?? { cpuMillis: 0, memoryBytes: 0 };
    out.push({
      name: e.config.name,
      unschedulable: e.config.unschedulable || e.config.drain === true,
      // The engine's kubernetes.io/os and kubernetes.io/arch, as the kubelet adds them.
      labels: withPlatformLabels(e.config.labels, e.info.platform),
      allocatable: {
        cpuMillis: Math.max(0, (cap.cpuMillis ?? e.info.cpuMillis) - reserved.cpuMillis),
        memoryBytes: Math.max(0, (cap.memoryBytes ?? e.info.memoryBytes) - reserved.memoryBytes),
        pods: cap.pods ?? DEFAULT_MAX_PODS,
        ...(cap.extended ? { extended: cap.extended } : {}),
      },
      requested: Object.keys(extended).length > 0 ? { ...requested, extended } : requested,
      requestedForScoring: scoring,
      podCount,
      freePorts: Math.max(0, range - [...used].filter((p) => p >= e.config.portRange.from && p <= e.config.portRange.to).length),
      podsByOwner,
      ...(e.config.taints?.length ? { taints: e.config.taints } : {}),
      // Every host port in use, from the range or fixed: a fixed hostPort must avoid both.
      hostPortsInUse: [...used].sort((a, b) => a - b).map((port) => ({ port })),
      images: e.images,
      pods,
    });
  }
  return out.sort((a, b) => (a.name < b.name ? -1 : 1));
}
