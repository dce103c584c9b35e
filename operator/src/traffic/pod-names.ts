/**
 * A pod's own DNS names: Kubernetes gives a pod with a hostname and a subdomain (a StatefulSet's pod: its
 * name and the set's serviceName) the record `<hostname>.<subdomain>.<namespace>.svc.<cluster domain>`
 * when a headless Service of that name in its namespace selects it. coxswain has no DNS server; on a
 * bridge network the names become Docker network aliases of the pod's container (see the README's
 * StatefulSets section), which the network's DNS answers for every container on it, also those made
 * later. Host-network and process nodes have no address per pod (a pod answers on its node's host ports,
 * which a name cannot carry), so they get no such names, as headless Services get no host names there
 * (hosts.ts).
 *
 * Guarantees: pure; names sorted; never a name a Service's forwarder has (bridge.ts), so one name never
 * answers with two containers (pod names are unique in the fleet, across namespaces).
 */
import { selects } from "./endpoints.js";
import { serviceHostNames } from "./hosts.js";
import { compareText } from "./keys.js";
import type { ServiceSpec } from "./types.js";

/**
 * The names of pod `hostname` under `subdomain` in `namespace`: `<hostname>.<subdomain>` and the
 * namespace-qualified `<hostname>.<subdomain>.<namespace>`, `….svc` and `….svc.cluster.local`, sorted.
 * The short one is a name of its own (not left to the search path) because a resolver with `ndots:1`
 * (musl's, busybox's) never tries the search path for a name with a dot.
 */
function podHostNames(hostname: string, subdomain: string, namespace: string): string[] {
  const short = `${hostname}.${subdomain}`;
  const qualified = `${short}.${namespace}`;
  return [short, qualified, `${qualified}.svc`, `${qualified}.svc.cluster.local`].sort(compareText);
}

/** One pod as its own names need it: its name (the hostname), namespace, labels and the subdomain it asks for. */
export interface NamedPod {
  name: string;
  namespace: string;
  labels: Readonly<Record<string, string>>;
  /** A StatefulSet's serviceName (Kubernetes' pod spec.subdomain). */
  subdomain: string;
}

/**
 * The names `pod` answers to among `services`: podHostNames when the Service `subdomain` of its namespace
 * exists, is headless and selects the pod (as Kubernetes' DNS publishes them); none otherwise. A name that
 * a Service's forwarder has (Service `<pod>` in namespace `<subdomain>` has `<pod>.<subdomain>`) stays the
 * Service's.
 */
export function podDnsNames(pod: NamedPod, services: readonly ServiceSpec[]): string[] {
  const governing = services.find((s) => s.namespace === pod.namespace && s.name === pod.subdomain);
  if (governing === undefined || !governing.headless || !selects(governing, pod)) return [];
  const taken = new Set(services.flatMap((s) => serviceHostNames(s, "")));
  return podHostNames(pod.name, pod.subdomain, pod.namespace).filter((n) => !taken.has(n));
}
