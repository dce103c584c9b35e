/**
 * Service discovery for pods on a bridge network (Docker nodes with `network: bridge`): the pure half.
 *
 * Why it needs more than host mode: a bridge container has a loopback of its own, so the node proxy's
 * Service addresses (127.77.x.y, traffic/addresses.ts) cannot be reached from it, and one address for
 * every Service cannot work because many Services share a port (80). So, on every bridge node:
 *
 * - Each Service (not headless) has a **forwarder**: a small container on the bridge network (the node
 *   proxy's image, HAProxy in TCP mode) with an address of its own from the network's Service range and
 *   the Docker network aliases `name.ns`, `name.ns.svc` and `name.ns.svc.cluster.local`. Docker's embedded
 *   DNS (127.0.0.11 in every container of a user-defined network) answers those names with the forwarder's
 *   address, so a pod finds a Service created after it started too. Pods get Kubernetes' search path
 *   (`<ns>.svc.cluster.local svc.cluster.local cluster.local`), so the short `name` resolves within the
 *   pod's own namespace only, as in Kubernetes; no alias is ever shared by two forwarders.
 * - A forwarder listens on the Service's ports and sends every connection, with the PROXY protocol (v2),
 *   to the node proxy's **bridge frontend**: the node proxy (host network) binds the bridge network's
 *   gateway address (an address of the host, the one a bridge container can reach) at the node's **bridge
 *   port**, one port per node (the last of its portRange, kept from pods' host ports by the fleet). The
 *   PROXY header carries the address and port the client connected to (the Service's forwarder address and
 *   port), by which the frontend picks the Service listener, and the client's own address, which ClientIP
 *   affinity then sees. Endpoints and their churn stay in the node proxy alone: a forwarder changes only
 *   when its Service's ports do.
 * - Addresses are stable: coxswain creates the bridge network with a subnet Docker picks (a probe network,
 *   created and removed again), dynamic addresses (pods) from its lower half only (IPRange) and the upper
 *   half, the **Service range** (label io.coxswain.service-range), for forwarders, each placed by a hash of
 *   its Service's namespace and name as Service addresses are (allocateServiceAddresses). So the address a
 *   pod's environment names (`<NAME>_SERVICE_HOST`, …: computed when it starts, like Kubernetes' variables)
 *   stays the forwarder's as long as the Service exists, unless an added Service displaces it (under 0.1%
 *   of additions with 100 Services in a /17); then names still work and the variables of running pods are stale.
 *
 * Alternatives not taken: a single forwarder with all Services cannot give two Services the same port; a
 * forwarder with the endpoints themselves would have to be reconfigured on every endpoint change and reach
 * pods of other nodes; extra addresses on the host or iptables rules need root on the engine's host and
 * do not work on a remote engine; ExtraHosts are fixed when a container is created (no later Services).
 *
 * Guarantees: pure; everything sorted; the same inputs give the same forwarders, texts and routes.
 */
import { CoxError } from "../api/errors.js";
import { allocateServiceAddresses, formatIpv4, parseIpv4, type PortRange } from "./addresses.js";
import { serviceHostNames } from "./hosts.js";
import { compareText } from "./keys.js";
import type { ProxyBind, ProxyBridge, ServiceSpec } from "./types.js";

/** The domain Kubernetes' cluster DNS answers for (Service names end in `.svc.<it>`). */
const CLUSTER_DOMAIN = "cluster.local";

/** The label on a bridge network that holds its Service range (a CIDR inside its subnet, outside its IPRange). */
export const SERVICE_RANGE_LABEL = "io.coxswain.service-range";

/** A bridge network as coxswain uses it: where the node proxy is reached from it, and where forwarders get their addresses. */
export interface BridgeNetwork {
  name: string;
  /** IPv4 CIDR. */
  subnet: string;
  /** The host's address on the network (Docker's gateway): where the node proxy's bridge frontend listens. */
  gateway: string;
  /** Where forwarders get their addresses (the SERVICE_RANGE_LABEL); absent when the network has none. */
  serviceRange?: string;
  /** Why there is no Service range (the network was made by hand, or by an older coxswain). */
  problem?: string;
}

/** The layout coxswain gives a bridge network it creates in `subnet`: pods in the lower half, Services in the upper. */
export interface BridgeNetworkPlan {
  subnet: string;
  /** Docker's IPRange: the lower half; dynamic addresses (pods) come from it only. */
  ipRange: string;
  /** The subnet's first address. */
  gateway: string;
  /** The upper half. */
  serviceRange: string;
}

/** A CIDR as its first address and prefix length; undefined for anything else (host bits set too). */
function parseCidr(text: string): { base: number; prefix: number } | undefined {
  const m = /^([0-9.]+)\/([0-9]{1,2})$/.exec(text);
  const base = m ? parseIpv4(m[1]!) : undefined;
  const prefix = m ? Number(m[2]) : NaN;
  if (base === undefined || !(prefix >= 0 && prefix <= 32) || base % 2 ** (32 - prefix) !== 0) return undefined;
  return { base, prefix };
}

/** First and last address of a parsed CIDR. */
function span(c: { base: number; prefix: number }): [number, number] {
  return [c.base, c.base + 2 ** (32 - c.prefix) - 1];
}

/**
 * The layout of a new bridge network in `subnet` (IPv4, prefix 8 to 29, the one Docker chose for it).
 * Throws InvalidArgument for anything else.
 */
export function bridgeNetworkPlan(subnet: string): BridgeNetworkPlan {
  const c = parseCidr(subnet);
  if (c === undefined || c.prefix < 8 || c.prefix > 29) {
    throw new CoxError("InvalidArgument", `bridge subnet ${JSON.stringify(subnet)} is not an IPv4 CIDR with a prefix from 8 to 29`, { details: { subnet } });
  }
  const half = 2 ** (32 - c.prefix - 1);
  return {
    subnet,
    ipRange: `${formatIpv4(c.base)}/${c.prefix + 1}`,
    gateway: formatIpv4(c.base + 1),
    serviceRange: `${formatIpv4(c.base + half)}/${c.prefix + 1}`,
  };
}

/**
 * The Service range of an existing bridge network, from its SERVICE_RANGE_LABEL (`label`), checked against
 * its IPAM configuration; or why it has none: no label, a label that is not a CIDR (prefix 8 to 30) inside
 * the subnet, no IPRange (then Docker hands out any address of the subnet to containers), or a range that
 * overlaps the IPRange or holds the gateway.
 */
export function serviceRangeOf(ipam: { subnet: string; ipRange?: string; gateway?: string }, label: string | undefined): { serviceRange: string } | { problem: string } {
  if (label === undefined) return { problem: `it has no ${SERVICE_RANGE_LABEL} label (it was not created by this version of coxswain)` };
  const range = parseCidr(label);
  const subnet = parseCidr(ipam.subnet);
  if (range === undefined || range.prefix < 8 || range.prefix > 30) return { problem: `its ${SERVICE_RANGE_LABEL} ${JSON.stringify(label)} is not an IPv4 CIDR with a prefix from 8 to 30` };
  if (subnet === undefined) return { problem: `its subnet ${JSON.stringify(ipam.subnet)} is not an IPv4 CIDR` };
  const [rFrom, rTo] = span(range);
  const [sFrom, sTo] = span(subnet);
  if (rFrom < sFrom || rTo > sTo) return { problem: `its ${SERVICE_RANGE_LABEL} ${label} is not inside its subnet ${ipam.subnet}` };
  const ipRange = ipam.ipRange === undefined || ipam.ipRange === "" ? undefined : parseCidr(ipam.ipRange);
  if (ipRange === undefined) return { problem: `it has no IP range of its own for containers (IPRange), so Docker may give a container any address of ${ipam.subnet}` };
  const [iFrom, iTo] = span(ipRange);
  if (rFrom <= iTo && iFrom <= rTo) return { problem: `its ${SERVICE_RANGE_LABEL} ${label} overlaps its IP range ${ipam.ipRange}` };
  const gateway = ipam.gateway === undefined ? undefined : parseIpv4(ipam.gateway);
  if (gateway !== undefined && gateway >= rFrom && gateway <= rTo) return { problem: `its ${SERVICE_RANGE_LABEL} ${label} holds its gateway ${ipam.gateway}` };
  return { serviceRange: label };
}

/** Kubernetes' DNS search path of a pod of `namespace`: its short Service names resolve within its namespace. */
export function bridgeDnsSearch(namespace: string): string[] {
  return [`${namespace}.svc.${CLUSTER_DOMAIN}`, `svc.${CLUSTER_DOMAIN}`, CLUSTER_DOMAIN];
}

/**
 * The port where the proxy of a bridge node takes its forwarders' connections (on the bridge network's
 * gateway): the last port of its portRange, which the fleet keeps from pods' host ports. Undefined for a
 * host-network node.
 */
export function bridgeProxyPort(node: { network: "host" | "bridge"; portRange: PortRange }): number | undefined {
  return node.network === "bridge" ? node.portRange.to : undefined;
}

/** The forwarder of one Service on a bridge network. */
export interface ServiceForwarder {
  /** "namespace/name". */
  key: string;
  namespace: string;
  name: string;
  /** Its fixed address in the network's Service range. */
  address: string;
  /** Its Docker network aliases: the Service's namespace-qualified names, sorted. */
  aliases: string[];
  /** The Service's ports, ascending. */
  ports: number[];
}

/**
 * The forwarders a bridge network with `serviceRange` needs for `services`: one per Service that is not
 * headless, sorted by key, addresses placed by allocateServiceAddresses (so the same as bridgeDiscoveryFor
 * gives pods). Throws InvalidArgument when the range has fewer addresses than Services.
 */
export function serviceForwarders(services: readonly ServiceSpec[], serviceRange: string): ServiceForwarder[] {
  const served = services.filter((s) => !s.headless);
  const addresses = allocateServiceAddresses(
    serviceRange,
    served.map((s) => `${s.namespace}/${s.name}`),
  );
  return served
    .map((s) => {
      const key = `${s.namespace}/${s.name}`;
      return {
        key,
        namespace: s.namespace,
        name: s.name,
        address: addresses.get(key)!,
        // No namespace matches "": only the qualified names, which no other Service's forwarder has.
        aliases: serviceHostNames(s, ""),
        ports: [...new Set(s.ports.map((p) => p.port))].sort((a, b) => a - b),
      };
    })
    .sort((a, b) => compareText(a.key, b.key));
}

/**
 * The HAProxy configuration of a forwarder: per Service port a TCP listener on every address of its
 * container, sending each connection to `target` (the node proxy's bridge frontend) with the PROXY
 * protocol v2. Timeouts are longer than the node proxy's, so that the node proxy decides when an idle
 * connection ends.
 */
export function forwarderConfig(forwarder: ServiceForwarder, target: ProxyBind): string {
  const lines = [
    `# coxswain's forwarder of Service ${forwarder.key} on a bridge network, rendered by operator/src/traffic/bridge.ts.`,
    "defaults",
    "    mode tcp",
    "    timeout connect 5s",
    "    timeout client 1h",
    "    timeout server 1h",
  ];
  for (const port of forwarder.ports) {
    lines.push("", `listen port-${port}`, `    bind :${port}`, `    server node-proxy ${target.address}:${target.port} send-proxy-v2`);
  }
  return lines.join("\n") + "\n";
}

/**
 * The bridge frontend of a node proxy for `forwarders`: bound at `bind` (the gateway and the bridge port),
 * one route per forwarder and port to the listener "<namespace>/<name>:<port>", sorted by address (as
 * numbers) and port.
 */
export function proxyBridge(forwarders: readonly ServiceForwarder[], bind: ProxyBind): ProxyBridge {
  const routes = forwarders.flatMap((f) => f.ports.map((port) => ({ address: f.address, port, backend: `${f.key}:${port}` })));
  routes.sort((a, b) => parseIpv4(a.address)! - parseIpv4(b.address)! || a.port - b.port);
  return { bind: { ...bind }, routes };
}
