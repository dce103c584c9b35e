/**
 * What the fleet holds for pods that do not exist yet (runtime/fleet.ts): reservations ("assume": a placement
 * recorded before its pod is created, with its host ports), the nodes nominated for preemptors, and the host
 * ports kept out of pod assignment on every node.
 */
import type { Resources } from "../../scheduler/types.js";
import { bridgeProxyPort } from "../../traffic/bridge.js";
import type { NodeEntry, Reservation } from "./types.js";

/** The fleet's reservations, nominations and reserved host ports (one per Fleet). */
export class Reservations {
  /** Placements recorded before their pods exist, by pod name. */
  readonly byPod = new Map<string, Reservation>();
  /** Preemptors' nominated nodes (Kubernetes' nominatedNodeName), by owner: room held for them. */
  readonly nominations = new Map<string, { node: string; priority: number; requests: Resources; requestsForScoring: Resources; expiresAt: number }>();
  /** See Fleet.setReservedHostPorts. */
  hostPorts = new Set<number>();

  /** Fleet.reserve (see there) on node `e`, undefined when the fleet has no such node. */
  reserve(e: NodeEntry | undefined, r: Omit<Reservation, "ports"> & { portCount: number; fixedPorts?: readonly number[] }): number[] {
    if (!e) throw new Error(`reserve on unknown node ${r.node}`);
    const used = this.usedPorts(e);
    for (const p of r.fixedPorts ?? []) used.add(p);
    const ports: number[] = [];
    for (let p = e.config.portRange.from; p <= e.config.portRange.to && ports.length < r.portCount; p++) {
      if (!used.has(p)) ports.push(p);
    }
    if (ports.length < r.portCount) throw new Error(`node ${r.node} has no ${r.portCount} free ports`);
    this.byPod.set(r.pod, { pod: r.pod, node: r.node, owner: r.owner, requests: r.requests, requestsForScoring: r.requestsForScoring, ports: [...ports, ...(r.fixedPorts ?? [])] });
    return ports;
  }

  /** The host ports taken on node `e`: reserved on every node, its bridge proxy's, its pods' and its reservations'. */
  usedPorts(e: NodeEntry): Set<number> {
    const used = new Set<number>(this.hostPorts);
    // A bridge node's proxy takes its Service forwarders' connections there (traffic/bridge.ts).
    const bridgePort = bridgeProxyPort(e.config);
    if (bridgePort !== undefined) used.add(bridgePort);
    for (const p of e.pods.values()) for (const port of p.ports) used.add(port.hostPort);
    for (const r of this.byPod.values()) if (r.node === e.config.name) for (const p of r.ports) used.add(p);
    return used;
  }
}
