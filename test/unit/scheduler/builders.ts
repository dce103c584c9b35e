/** Builders for scheduler tests: readable nodes and pods with explicit overrides. */
import type { NodeSnapshot, PodRequest } from "../../../operator/src/scheduler/types.js";

export const Mi = 2 ** 20;
export const Gi = 2 ** 30;

/** A node with 4 CPUs, 8 GiB, 110 pods, 100 free ports and nothing on it, unless overridden. */
export function node(name: string, o: Partial<Omit<NodeSnapshot, "name">> = {}): NodeSnapshot {
  return {
    name,
    unschedulable: o.unschedulable ?? false,
    labels: o.labels ?? {},
    allocatable: o.allocatable ?? { cpuMillis: 4000, memoryBytes: 8 * Gi, pods: 110 },
    requested: o.requested ?? { cpuMillis: 0, memoryBytes: 0 },
    requestedForScoring: o.requestedForScoring ?? (o.requested ? { ...o.requested } : { cpuMillis: 0, memoryBytes: 0 }),
    podCount: o.podCount ?? 0,
    freePorts: o.freePorts ?? 100,
    podsByOwner: o.podsByOwner ?? {},
  };
}

/** A pod of Deployment/default/web requesting 100m / 128Mi and one port, unless overridden. */
export function pod(id: string, o: Partial<Omit<PodRequest, "id">> = {}): PodRequest {
  const requests = o.requests ?? { cpuMillis: 100, memoryBytes: 128 * Mi };
  return {
    id,
    owner: o.owner ?? "Deployment/default/web",
    requests,
    requestsForScoring: o.requestsForScoring ?? requests,
    ports: o.ports ?? 1,
  };
}
