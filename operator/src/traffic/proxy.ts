/**
 * The proxy configuration of one node: what its proxy listens on and where each listener sends traffic.
 * Every node serves every Service, so each listener's servers are the Service's endpoints across the
 * whole fleet; only the binds are this node's own.
 *
 * Guarantees: pure; listeners sorted by key, binds by address then port, servers by id; a server's id
 * (`<pod>:<port>`) stays the same while its endpoint exists, so that endpoint churn is an edit of one
 * server, not a new configuration; no two listeners bind the same address and port.
 */
import { CoxError } from "../api/errors.js";
import { serverStates } from "./endpoints.js";
import { compareText } from "./keys.js";
import type { ProxyBind, ProxyConfig, ProxyListener, ProxyServer, ServiceEndpoints, ServiceSpec } from "./types.js";

/** The node a configuration is for. */
export interface ProxyNode {
  name: string;
  /** This node's address: NodePort and LoadBalancer Services listen on it (each node binds its own). */
  address: string;
  /** "namespace/name" → the Service's address on this node (allocateServiceAddresses). */
  serviceNetworkAddresses: ReadonlyMap<string, string>;
}

/** A server's weight when `weights` does not name its pod: every pod of a Service gets an equal share. */
const DEFAULT_WEIGHT = 1;

/**
 * The proxy configuration of `node` for `services` (headless ones get no listener) and their `endpoints`
 * (a Service with no entry has no servers: its listener refuses traffic until it has some).
 *
 * One listener per Service port, keyed "<namespace>/<name>:<port>", bound to the Service's address and
 * port, plus this node's address and the nodePort for NodePort/LoadBalancer Services; HTTP or TCP as the
 * port says; ClientIP affinity for `affinityTimeoutSeconds`.
 *
 * Servers: one per endpoint, state from serverStates, except that in an affinity listener a leaving server
 * is "maint" rather than "drain": HAProxy keeps sending the clients stuck to a drained server there
 * (persistence outranks drain), while "maint" sends them elsewhere and still lets in-flight requests finish.
 *
 * Weights: `weights` maps "namespace/pod" to an integer from 0 to 256 (HAProxy's range); a pod it does not
 * name gets 1. A server takes its weight's share of the sum over the listener's ready servers (0: none
 * unless stuck to it), so a canary that should take a share s of a Service gives its pods weights that
 * make that share, e.g. 1 canary pod at 10 beside 9 stable pods at 10 is 10%, at 1 beside them is 1.1%.
 *
 * Throws InvalidArgument when a Service that needs one has no address in `node.serviceNetworkAddresses`,
 * a NodePort/LoadBalancer port has no nodePort (allocateNodePorts), a weight is out of range, a Service
 * is given twice, or two listeners would bind the same address and port.
 */
export function proxyConfig(
  node: ProxyNode,
  services: readonly ServiceSpec[],
  endpoints: readonly ServiceEndpoints[],
  weights: ReadonlyMap<string, number> = new Map(),
): ProxyConfig {
  for (const [pod, w] of weights) {
    if (!Number.isInteger(w) || w < 0 || w > 256) {
      throw new CoxError("InvalidArgument", `weight ${w} of pod ${pod} is not an integer from 0 to 256`, { details: { pod, weight: w } });
    }
  }
  const endpointsOf = new Map(endpoints.map((e) => [`${e.namespace}/${e.name}`, e]));
  const listeners: ProxyListener[] = [];
  for (const service of services) {
    if (service.headless) continue;
    const serviceKey = `${service.namespace}/${service.name}`;
    const address = node.serviceNetworkAddresses.get(serviceKey);
    if (address === undefined) {
      throw new CoxError("InvalidArgument", `Service ${serviceKey} has no address on node ${node.name}`, { details: { service: serviceKey, node: node.name } });
    }
    for (const sp of service.ports) {
      const key = `${serviceKey}:${sp.port}`;
      const binds: ProxyBind[] = [{ address, port: sp.port }];
      if (service.type === "NodePort" || service.type === "LoadBalancer") {
        if (sp.nodePort === undefined) {
          throw new CoxError("InvalidArgument", `${key}: a ${service.type} Service port needs a nodePort (allocateNodePorts)`, { details: { listener: key } });
        }
        binds.push({ address: node.address, port: sp.nodePort });
      }
      const eps = endpointsOf.get(serviceKey)?.ports.find((p) => p.port === sp.port)?.endpoints ?? [];
      const states = serverStates(eps);
      const affinity = service.sessionAffinity === "ClientIP" ? { timeoutSeconds: service.affinityTimeoutSeconds } : undefined;
      const servers = new Map<string, ProxyServer>();
      eps.forEach((e, i) => {
        const id = `${e.pod}:${e.port}`;
        const state = states[i]!;
        // A pod name is unique in its namespace; were it seen on two nodes at once, the first (by node) is kept.
        if (servers.has(id)) return;
        servers.set(id, {
          id,
          address: e.address,
          port: e.port,
          weight: weights.get(`${service.namespace}/${e.pod}`) ?? DEFAULT_WEIGHT,
          state: affinity !== undefined && state === "drain" ? "maint" : state,
        });
      });
      listeners.push({
        key,
        binds: binds.sort((a, b) => compareText(a.address, b.address) || a.port - b.port),
        mode: sp.mode,
        ...(affinity === undefined ? {} : { affinity }),
        servers: [...servers.values()].sort((a, b) => compareText(a.id, b.id)),
      });
    }
  }
  listeners.sort((a, b) => compareText(a.key, b.key));
  const boundBy = new Map<string, string>();
  for (let i = 0; i < listeners.length; i++) {
    const l = listeners[i]!;
    if (i > 0 && listeners[i - 1]!.key === l.key) {
      throw new CoxError("InvalidArgument", `Service port ${l.key} is given twice`, { details: { listener: l.key } });
    }
    for (const b of l.binds) {
      const at = `${b.address}:${b.port}`;
      const other = boundBy.get(at);
      if (other !== undefined) {
        throw new CoxError("InvalidArgument", `${other} and ${l.key} both listen on ${at} on node ${node.name}`, { details: { at, listeners: [other, l.key] } });
      }
      boundBy.set(at, l.key);
    }
  }
  return { node: node.name, listeners };
}
