/**
 * Kubernetes' Service environment variables (the kubelet's `enableServiceLinks`), so that a program that
 * finds its Services the Kubernetes way finds them under coxswain too.
 *
 * Guarantees: pure; the same names and values the kubelet gives for the same Services, keys sorted; the
 * "first port" is the first in ServiceSpec order (sorted by port, then name), where Kubernetes takes the
 * first one the manifest lists.
 */
import { compareText } from "./keys.js";
import type { ServiceSpec } from "./types.js";

/** A Service's name as the prefix of its variables: upper-cased, "-" as "_". */
function envName(name: string): string {
  return name.toUpperCase().replaceAll("-", "_");
}

/**
 * The variables a pod of `podNamespace` gets for `services` (those that exist when it starts, each with its
 * address on the pod's node): for every non-headless Service of that namespace, NAME_SERVICE_HOST,
 * NAME_SERVICE_PORT (its first port), NAME_SERVICE_PORT_<PORT NAME> for each named port, and Docker's link
 * variables: NAME_PORT=tcp://host:port (first port), and per port NAME_PORT_<port>_TCP=tcp://host:port with
 * _PROTO, _PORT and _ADDR. Services of other namespaces, and headless ones, give none. Keys sorted.
 */
export function serviceEnv(services: readonly { spec: ServiceSpec; address: string }[], podNamespace: string): Record<string, string> {
  const vars: [string, string][] = [];
  for (const { spec, address } of services) {
    if (spec.namespace !== podNamespace || spec.headless || spec.ports.length === 0) continue;
    const prefix = envName(spec.name);
    vars.push([`${prefix}_SERVICE_HOST`, address], [`${prefix}_SERVICE_PORT`, String(spec.ports[0]!.port)]);
    spec.ports.forEach((p, i) => {
      const proto = p.protocol.toLowerCase();
      const url = `${proto}://${address}:${p.port}`;
      if (p.name !== undefined && p.name !== "") vars.push([`${prefix}_SERVICE_PORT_${envName(p.name)}`, String(p.port)]);
      if (i === 0) vars.push([`${prefix}_PORT`, url]);
      const portPrefix = `${prefix}_PORT_${p.port}_${p.protocol.toUpperCase()}`;
      vars.push([portPrefix, url], [`${portPrefix}_PROTO`, proto], [`${portPrefix}_PORT`, String(p.port)], [`${portPrefix}_ADDR`, address]);
    });
  }
  return Object.fromEntries(vars.sort(([a], [b]) => compareText(a, b)));
}
