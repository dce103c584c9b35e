/**
 * The status file of a Service: services/<namespace>/<name>.yaml on the status branch. What a user asks
 * when traffic misbehaves — which pods serve it, which do not and why, where it answers on each node, and
 * whether each node's proxy serves it — in one file per Service.
 *
 * Rendering is pure and deterministic (lists sorted, no clock), so the same state writes no new commit.
 */
import { stringify } from "yaml";
import { statusRecordOrUndefined } from "./schemas.js";

/** services/<namespace>/<name>.yaml. */
export function servicePath(namespace: string, name: string): string {
  return `services/${namespace}/${name}.yaml`;
}

/** One endpoint as the status file lists it. */
export interface ServiceEndpointRecord {
  pod: string;
  node: string;
  /** "address:port" where the pod answers. */
  address: string;
}

/** What the status file of one Service says. */
export interface ServiceRecord {
  namespace: string;
  name: string;
  type: string;
  /** Per Service port (in ServiceSpec order): its numbers and its endpoints. */
  ports: {
    name?: string;
    port: number;
    targetPort: number | string;
    nodePort?: number;
    ready: ServiceEndpointRecord[];
    notReady: ServiceEndpointRecord[];
    terminating: ServiceEndpointRecord[];
  }[];
  /** Per node: the Service's address there, and whether the node's proxy serves the configuration that has it. */
  nodes: ServiceNodeRecord[];
  /**
   * The Rollout (of the Service's namespace) that shapes the Service, when one does: the Service's role
   * (split, canary, stable, active, preview), and what it serves now — one revision, or a canary's split
   * (the stable and the canary revision, and the canary's share of requests in percent). Neither while the
   * Rollout has decided nothing yet.
   */
  rollout?: { name: string; role: string; revision?: string; stable?: string; canary?: string; weight?: number };
}

/** One node of a Service's status file. */
export interface ServiceNodeRecord {
  node: string;
  address?: string;
  serving: boolean;
  error?: string;
  /**
   * Bridge nodes: the Service's address on the bridge network (its forwarder's, which its names resolve
   * to there), whether bridge pods reach it by name, and why not.
   */
  bridge?: { address?: string; serving: boolean; error?: string };
}

const byPod = (a: ServiceEndpointRecord, b: ServiceEndpointRecord): number => (a.pod < b.pod ? -1 : a.pod > b.pod ? 1 : 0);

/** The YAML text of a Service's status file. */
export function renderServiceRecord(r: ServiceRecord): string {
  return stringify({
    service: `${r.namespace}/${r.name}`,
    type: r.type,
    ...(r.rollout !== undefined ? { rollout: { ...r.rollout } } : {}),
    ports: r.ports.map((p) => ({
      ...(p.name !== undefined ? { name: p.name } : {}),
      port: p.port,
      targetPort: p.targetPort,
      ...(p.nodePort !== undefined ? { nodePort: p.nodePort } : {}),
      endpoints: {
        ready: [...p.ready].sort(byPod),
        notReady: [...p.notReady].sort(byPod),
        terminating: [...p.terminating].sort(byPod),
      },
    })),
    nodes: [...r.nodes]
      .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))
      .map((n) => ({
        node: n.node,
        ...(n.address !== undefined ? { address: n.address } : {}),
        serving: n.serving,
        ...(n.error ? { error: n.error } : {}),
        ...(n.bridge ? { bridge: { ...(n.bridge.address !== undefined ? { address: n.bridge.address } : {}), serving: n.bridge.serving, ...(n.bridge.error ? { error: n.bridge.error } : {}) } } : {}),
      })),
  });
}

/**
 * Reads a Service's status file back into its record (the inverse of renderServiceRecord); undefined when
 * the text is absent or not one (status/schemas.ts). Lists keep the file's (sorted) order.
 */
export function readServiceRecord(text: string): ServiceRecord | undefined {
  type FilePort = Omit<ServiceRecord["ports"][number], "ready" | "notReady" | "terminating"> & {
    endpoints?: { ready?: ServiceEndpointRecord[]; notReady?: ServiceEndpointRecord[]; terminating?: ServiceEndpointRecord[] };
  };
  const d = statusRecordOrUndefined("service", text) as unknown as { service: string; type: string; rollout?: ServiceRecord["rollout"]; ports: FilePort[]; nodes: ServiceNodeRecord[] } | undefined;
  if (!d) return undefined;
  const [namespace, name] = d.service.split("/") as [string, string];
  return {
    namespace,
    name,
    type: d.type,
    ports: d.ports.map(({ endpoints, ...p }) => ({ ...p, ready: endpoints?.ready ?? [], notReady: endpoints?.notReady ?? [], terminating: endpoints?.terminating ?? [] })),
    nodes: d.nodes,
    ...(d.rollout !== undefined ? { rollout: d.rollout } : {}),
  };
}
