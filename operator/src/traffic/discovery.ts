/**
 * What a new pod is told about the Services that exist when it starts, on its node: Kubernetes'
 * environment variables and the host names that resolve to each Service's address on that node.
 *
 * Guarantees: pure; the addresses are the ones the node's proxy listens on (the same allocation over the
 * same Services); env keys and host entries sorted.
 */
import { allocateServiceAddresses } from "./addresses.js";
import { serviceEnv } from "./env.js";
import { serviceHostNames, type HostsEntry } from "./hosts.js";
import type { ServiceSpec } from "./types.js";

/** A pod's view of its Services: variables to add to its environment, and /etc/hosts entries. */
export interface Discovery {
  env: Record<string, string>;
  hosts: HostsEntry[];
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
