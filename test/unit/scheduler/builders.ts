/** Builders for scheduler tests: readable nodes and pods with explicit overrides, and the snapshot after a placement. */
import type { NodeSnapshot, PodRequest, PodSummary } from "../../../operator/src/scheduler/types.js";

export const Mi = 2 ** 20;
export const Gi = 2 ** 30;

/** A node with 4 CPUs, 8 GiB, 110 pods, 100 free ports and nothing on it, unless overridden. */
export function node(name: string, o: Partial<Omit<NodeSnapshot, "name">> = {}): NodeSnapshot {
  const n: NodeSnapshot = {
    name,
    unschedulable: o.unschedulable ?? false,
    labels: o.labels ?? {},
    allocatable: o.allocatable ?? { cpuMillis: 4000, memoryBytes: 8 * Gi, pods: 110 },
    requested: o.requested ?? { cpuMillis: 0, memoryBytes: 0 },
    requestedForScoring: o.requestedForScoring ?? (o.requested ? { ...o.requested } : { cpuMillis: 0, memoryBytes: 0 }),
    podCount: o.podCount ?? o.pods?.length ?? 0,
    freePorts: o.freePorts ?? 100,
    podsByOwner: o.podsByOwner ?? {},
  };
  if (o.taints !== undefined) n.taints = o.taints;
  if (o.hostPortsInUse !== undefined) n.hostPortsInUse = o.hostPortsInUse;
  if (o.images !== undefined) n.images = o.images;
  if (o.imageSizes !== undefined) n.imageSizes = o.imageSizes;
  if (o.pods !== undefined) n.pods = o.pods;
  return n;
}

/** A pod of Deployment/default/web requesting 100m / 128Mi and one port, unless overridden. */
export function pod(id: string, o: Partial<Omit<PodRequest, "id">> = {}): PodRequest {
  const requests = o.requests ?? { cpuMillis: 100, memoryBytes: 128 * Mi };
  return {
    ...o,
    id,
    owner: o.owner ?? "Deployment/default/web",
    requests,
    requestsForScoring: o.requestsForScoring ?? requests,
    ports: o.ports ?? 1,
  };
}

/** A pod already on a node (PodSummary) with labels and no requests, unless overridden. */
export function running(name: string, o: Partial<Omit<PodSummary, "name">> = {}): PodSummary {
  return { namespace: "default", ...o, name };
}

/**
 * The snapshot after placing `p` on `nodeName`, as the fleet would report it: requests, pod count, ports,
 * podsByOwner and the pod list (with the pod's labels, priority and affinity). Inputs are not modified.
 */
export function withPlacement(nodes: readonly NodeSnapshot[], p: PodRequest, nodeName: string): NodeSnapshot[] {
  return nodes.map((n) => {
    if (n.name !== nodeName) return n;
    const summary: PodSummary = {
      name: p.id,
      namespace: p.namespace ?? "default",
      owner: p.owner,
      priority: p.priority ?? 0,
      requests: p.requests,
      requestsForScoring: p.requestsForScoring,
      ports: p.ports,
    };
    if (p.labels !== undefined) summary.labels = p.labels;
    if (p.affinity !== undefined) summary.affinity = p.affinity;
    if (p.hostPorts !== undefined) summary.hostPorts = p.hostPorts;
    const extended: Record<string, number> = { ...n.requested.extended };
    for (const [name, q] of Object.entries(p.requests.extended ?? {})) extended[name] = (extended[name] ?? 0) + q;
    const next: NodeSnapshot = {
      ...n,
      requested: {
        cpuMillis: n.requested.cpuMillis + p.requests.cpuMillis,
        memoryBytes: n.requested.memoryBytes + p.requests.memoryBytes,
        ...(Object.keys(extended).length > 0 ? { extended } : {}),
      },
      requestedForScoring: {
        cpuMillis: n.requestedForScoring.cpuMillis + p.requestsForScoring.cpuMillis,
        memoryBytes: n.requestedForScoring.memoryBytes + p.requestsForScoring.memoryBytes,
      },
      podCount: n.podCount + 1,
      freePorts: n.freePorts - p.ports,
      podsByOwner: { ...n.podsByOwner, [p.owner]: (n.podsByOwner[p.owner] ?? 0) + 1 },
      pods: [...(n.pods ?? []), summary],
    };
    if (p.hostPorts !== undefined && p.hostPorts.length > 0) next.hostPortsInUse = [...(n.hostPortsInUse ?? []), ...p.hostPorts];
    return next;
  });
}

/**
 * A node holding `pods` (running), its aggregates derived from them: requested (real and scoring), pod count,
 * podsByOwner and fixed host ports. Other fields as in node().
 */
export function nodeWith(name: string, pods: PodSummary[], o: Partial<Omit<NodeSnapshot, "name" | "pods">> = {}): NodeSnapshot {
  const requested = { cpuMillis: 0, memoryBytes: 0 };
  const scoring = { cpuMillis: 0, memoryBytes: 0 };
  const byOwner: Record<string, number> = {};
  const hostPorts = [...(o.hostPortsInUse ?? [])];
  let ports = 0;
  for (const p of pods) {
    requested.cpuMillis += p.requests?.cpuMillis ?? 0;
    requested.memoryBytes += p.requests?.memoryBytes ?? 0;
    scoring.cpuMillis += (p.requestsForScoring ?? p.requests)?.cpuMillis ?? 0;
    scoring.memoryBytes += (p.requestsForScoring ?? p.requests)?.memoryBytes ?? 0;
    if (p.owner !== undefined) byOwner[p.owner] = (byOwner[p.owner] ?? 0) + 1;
    hostPorts.push(...(p.hostPorts ?? []));
    ports += p.ports ?? 0;
  }
  return node(name, {
    ...o,
    requested,
    requestedForScoring: scoring,
    podCount: pods.length,
    podsByOwner: byOwner,
    freePorts: (o.freePorts ?? 100) - ports,
    ...(hostPorts.length > 0 ? { hostPortsInUse: hostPorts } : {}),
    pods,
  });
}
