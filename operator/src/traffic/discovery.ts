/**
 * What a new pod is told about the Services that exist when it starts, on its node: Kubernetes'
 * environment variables and the host names that resolve to each Service's address on that node (host
 * network); on a bridge network, the variables with each Service's forwarder address there and the DNS
 * search path under which the network's DNS answers the Services' names (traffic/bridge.ts).
 *
 * Guarantees: pure; the addresses are the ones the node's proxy listens on (the same allocation over the
 * same Services); env keys and host entries sorted.
 */
import { allocateServiceAddresses } from "./addresses.js";
import { bridgeDnsSearch, serviceForwarders } from "./bridge.js";
import { serviceEnv } from "./env.js";
import { serviceHostNames, type HostsEntry } from "./hosts.js";
import type { ServiceSpec } from "./types.js";

/** A pod's view of its Services: variables to add to its environment, /etc/hosts entries, and a DNS search path. */
export interface Discovery {
  env: Record<string, string>;
  hosts: HostsEntry[];
  /** Bridge network: the search path of its resolver (Kubernetes' `<ns>.svc.cluster.local svc.cluster.local cluster.local`). */
  dnsSearch?: string[];
}

/** The discovery of a pod of `podNamespace` on a node whose Services get addresses from `serviceNetwork`. */
export function discoveryFor(services: readonly ServiceSpec[], serviceNetwork: string, podNamespace: string): Discovery {
  const served = services.filter((s) => !s.headless);
  const addresses = allocateServiceAddresses(
    serviceNetwork,
    served.map((s) => `${s.namespace}/${s.name}`),
  );
  const withAddress = served.map((spec) => ({ spec, address: addresses.get(`${spec.namespace}/${spec.name}`)! }));
  const hosts = withAddress
    .map(({ spec, address }) => ({ address, names: serviceHostNames(spec, podNamespace) }))
    .filter((h) => h.names.length > 0)
    .sort((a, b) => (a.address < b.address ? -1 : a.address > b.address ? 1 : 0));
  return { env: serviceEnv(withAddress, podNamespace), hosts };
}

/**
 * The discovery of a pod of `podNamespace` on a bridge network whose forwarders get addresses from
 * `serviceRange` (none: the network has no Service range, and the pod gets no variables): the variables
 * with the addresses the node's forwarders have (serviceForwarders), no host entries (the network's DNS
 * answers the names, also of Services made later), and the DNS search path. A range too small for the
 * Services gives no variables either (the service controller reports it).
 */
export function bridgeDiscoveryFor(services: readonly ServiceSpec[], serviceRange: string | undefined, podNamespace: string): Discovery {
  const dnsSearch = bridgeDnsSearch(podNamespace);
  if (serviceRange === undefined) return { env: {}, hosts: [], dnsSearch };
  let addresses: Map<string, string>;
  try {
    addresses = new Map(serviceForwarders(services, serviceRange).map((f) => [f.key, f.address]));
  } catch {
    return { env: {}, hosts: [], dnsSearch };
  }
  const withAddress = services.filter((s) => addresses.has(`${s.namespace}/${s.name}`)).map((spec) => ({ spec, address: addresses.get(`${spec.namespace}/${spec.name}`)! }));
  return { env: serviceEnv(withAddress, podNamespace), hosts: [], dnsSearch };
}
