/**
 * The status file of an Ingress: ingresses/<namespace>/<name>.yaml on the status branch. What a user asks
 * when a request goes astray — is this Ingress served at all (its class, the operator's ingress ports),
 * where each of its paths goes (the Service listener, or why none: a missing port, another Ingress's path
 * that wins), which certificates it presents, and where each node serves it — in one file per Ingress.
 *
 * Rendering is pure and deterministic (lists sorted or in manifest order, no clock), so the same state
 * writes no new commit.
 */
import { stringify } from "yaml";

/** ingresses/<namespace>/<name>.yaml. */
export function ingressPath(namespace: string, name: string): string {
  return `ingresses/${namespace}/${name}.yaml`;
}

/** Where one backend of the Ingress goes. */
export interface IngressBackendRecord {
  service: string;
  port: number | string;
  /** The Service listener ("<namespace>/<service>:<port>") that takes its requests, when it is used. */
  listener?: string;
  /** Why it is not used. */
  problem?: string;
}

/** What the status file of one Ingress says. */
export interface IngressRecord {
  namespace: string;
  name: string;
  /** spec.ingressClassName (or the old annotation); undefined: none (coxswain is the default class). */
  ingressClass?: string;
  /** Served by the nodes' proxies; when not, `reason` says why. */
  served: boolean;
  reason?: string;
  defaultBackend?: IngressBackendRecord;
  /** Every path, in manifest order. */
  paths: (IngressBackendRecord & { host?: string; path: string; pathType: string })[];
  tls: { hosts: string[]; secretName: string; problem?: string }[];
  /** Per node: where its proxy serves Ingresses, whether it does (with the error when it cannot), and a note. */
  nodes: { node: string; http?: string; https?: string; serving: boolean; error?: string; note?: string }[];
}

const backend = (b: IngressBackendRecord): Record<string, unknown> => ({
  service: b.service,
  port: b.port,
  ...(b.listener !== undefined ? { listener: b.listener } : {}),
  ...(b.problem !== undefined ? { problem: b.problem } : {}),
});

/** The YAML text of an Ingress's status file. */
export function renderIngressRecord(r: IngressRecord): string {
  return stringify({
    ingress: `${r.namespace}/${r.name}`,
    class: r.ingressClass ?? "(none: coxswain)",
    served: r.served,
    ...(r.reason !== undefined ? { reason: r.reason } : {}),
    ...(r.defaultBackend !== undefined ? { defaultBackend: backend(r.defaultBackend) } : {}),
    paths: r.paths.map((p) => ({ ...(p.host !== undefined ? { host: p.host } : {}), path: p.path, pathType: p.pathType, ...backend(p) })),
    tls: r.tls.map((t) => ({ hosts: [...t.hosts], secretName: t.secretName, ...(t.problem !== undefined ? { problem: t.problem } : {}) })),
    nodes: [...r.nodes]
      .sort((a, b) => (a.node < b.node ? -1 : a.node > b.node ? 1 : 0))
      .map((n) => ({
        node: n.node,
        ...(n.http !== undefined ? { http: n.http } : {}),
        ...(n.https !== undefined ? { https: n.https } : {}),
        serving: n.serving,
        ...(n.error !== undefined ? { error: n.error } : {}),
        ...(n.note !== undefined ? { note: n.note } : {}),
      })),
  });
}
