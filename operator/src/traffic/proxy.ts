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
import type { Endpoint, ProxyBind, ProxyConfig, ProxyListener, ProxyServer, ServiceEndpoints, ServiceRoute, ServiceSpec } from "./types.js";
import { splitWeights } from "./weights.js";

/** The node a configuration is for. */
export interface ProxyNode {
  name: string;
  /** This node's address: NodePort and LoadBalancer Services listen on it (each node binds its own). */
  address: string;
  /** "namespace/name" → the Service's address on this node (allocateServiceAddresses). */
  serviceNetworkAddresses: ReadonlyMap<string, string>;
}

/** A server's weight outside a canary split: every pod of a Service gets an equal share. */
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
 * Weights: 1 each, except in the listeners of a Service whose route (`routes`, by "namespace/name") is a
 * canary split: there the ready servers of the canary revision's pods take the route's weight % of new
 * requests and those of the stable revision's the rest (traffic/weights.ts, which states the rounding),
 * and any other ready server (another revision's pod, another workload's) gets 0 — unless neither
 * revision has a ready server there, when they get 1 each so that the Service still answers. With the
 * canary revision equal to the stable one, its servers share everything.
 *
 * Throws InvalidArgument when a Service that needs one has no address in `node.serviceNetworkAddresses`,
 * a NodePort/LoadBalancer port has no nodePort (allocateNodePorts), a route's weight is out of range, a
 * Service is given twice, or two listeners would bind the same address and port.
 */
export function proxyConfig(node: ProxyNode, services: readonly ServiceSpec[], endpoints: readonly ServiceEndpoints[], routes: ReadonlyMap<string, ServiceRoute> = new Map()): ProxyConfig {
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
      const entries = new Map<string, { endpoint: Endpoint; state: ProxyServer["state"] }>();
      eps.forEach((e, i) => {
        const id = `${e.pod}:${e.port}`;
        const state = states[i]!;
        // A pod name is unique in its namespace; were it seen on two nodes at once, the first (by node) is kept.
        if (!entries.has(id)) entries.set(id, { endpoint: e, state: affinity !== undefined && state === "drain" ? "maint" : state });
      });
      const route = routes.get(serviceKey);
      const weights = route?.role === "split" ? splitServerWeights([...entries.values()], route) : undefined;
      const servers = [...entries].map(([id, { endpoint: e, state }], i): ProxyServer => ({ id, address: e.address, port: e.port, weight: weights?.[i] ?? DEFAULT_WEIGHT, state }));
      listeners.push({
        key,
        binds: binds.sort((a, b) => compareText(a.address, b.address) || a.port - b.port),
        mode: sp.mode,
        ...(affinity === undefined ? {} : { affinity }),
        servers: servers.sort((a, b) => compareText(a.id, b.id)),
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

/** The weight of each server (in the order given) of a listener whose Service carries `route`'s split. */
function splitServerWeights(servers: readonly { endpoint: Endpoint; state: ProxyServer["state"] }[], route: Extract<ServiceRoute, { role: "split" }>): number[] {
  const side = (e: Endpoint): "canary" | "stable" | "other" => (e.owner !== route.rollout ? "other" : e.revision === route.canary ? "canary" : e.revision === route.stable ? "stable" : "other");
  const ready = servers.map((s) => (s.state === "ready" ? side(s.endpoint) : undefined));
  const split = splitWeights(ready.filter((x) => x === "canary").length, ready.filter((x) => x === "stable").length, route.weight);
  const others = split.canary.length + split.stable.length > 0 ? 0 : DEFAULT_WEIGHT;
  let c = 0;
  let st = 0;
  return ready.map((x) => (x === "canary" ? split.canary[c++]! : x === "stable" ? split.stable[st++]! : x === "other" ? others : DEFAULT_WEIGHT));
}
