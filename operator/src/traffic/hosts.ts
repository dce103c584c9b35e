/**
 * Service names for /etc/hosts: the names a pod would resolve to a Service's address through Kubernetes'
 * cluster DNS and its search path, written as host lines so that a pod finds its Services by name without
 * a DNS server.
 *
 * Guarantees: pure; names and lines sorted; a name never maps to two addresses.
 */
import { CoxError } from "../api/errors.js";
import { compareText } from "./keys.js";
import type { ServiceSpec } from "./types.js";

/**
 * The names a pod of `podNamespace` resolves to the Service's address: `name` (its own namespace only),
 * `name.namespace`, `name.namespace.svc` and `name.namespace.svc.<clusterDomain>`, sorted. None for a
 * headless Service: its pods answer on their nodes' host ports, which a host name cannot carry.
 */
export function serviceHostNames(spec: ServiceSpec, podNamespace: string, clusterDomain = "cluster.local"): string[] {
  if (spec.headless) return [];
  const qualified = `${spec.name}.${spec.namespace}`;
  const names = [qualified, `${qualified}.svc`, `${qualified}.svc.${clusterDomain}`];
  if (spec.namespace === podNamespace) names.push(spec.name);
  return names.sort(compareText);
}

/** An address and the names that resolve to it. */
export interface HostsEntry {
  address: string;
  names: readonly string[];
}

/**
 * The /etc/hosts text of `entries`: one line per address, "<address>\t<names…>", names sorted and without
 * repeats, lines sorted by address, a final newline (an empty string for no names). Entries of the same
 * address share its line. Throws InvalidArgument when a name would map to two addresses (the resolver would
 * take the first line, silently) or an address or name cannot be written on a hosts line.
 */
export function hostsFile(entries: readonly HostsEntry[]): string {
  const byAddress = new Map<string, Set<string>>();
  const addressOf = new Map<string, string>();
  for (const { address, names } of entries) {
    if (!/^[0-9A-Fa-f.:]+$/.test(address)) {
      throw new CoxError("InvalidArgument", `${JSON.stringify(address)} is not an address for a hosts line`, { details: { address } });
    }
    for (const name of names) {
      if (!/^[A-Za-z0-9_.-]+$/.test(name)) {
        throw new CoxError("InvalidArgument", `${JSON.stringify(name)} is not a host name for a hosts line`, { details: { name } });
      }
      const other = addressOf.get(name);
      if (other !== undefined && other !== address) {
        throw new CoxError("InvalidArgument", `host name ${name} would resolve to both ${other} and ${address}`, { details: { name, addresses: [other, address] } });
      }
      addressOf.set(name, address);
      let set = byAddress.get(address);
      if (set === undefined) byAddress.set(address, (set = new Set()));
      set.add(name);
    }
  }
  return [...byAddress]
    .sort(([a], [b]) => compareText(a, b))
    .map(([address, names]) => `${address}\t${[...names].sort(compareText).join(" ")}\n`)
    .join("");
}
