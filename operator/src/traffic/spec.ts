/**
 * A v1 Service, a networking.k8s.io/v1 Ingress and a Rollout as the manifest stage leaves them (validated,
 * defaulted) → the ServiceSpec, IngressSpec and RolloutServices traffic works on.
 */
import { DEFAULT_NAMESPACE, type Ingress, type Rollout, type Service } from "../api/objects.js";
import type { IngressBackend, ServicePort } from "../api/generated/index.js";
import { DEFAULT_AFFINITY_TIMEOUT_SECONDS, isHeadless } from "../manifest/service.js";
import type { IngressBackendSpec, IngressSpec, RolloutServices, ServicePortSpec, ServiceSpec } from "./types.js";

/**
 * "http" or "tcp" for one Service port. An appProtocol, when given, decides: "http" (any case) is HTTP,
 * anything else (https, h2c, a domain-prefixed name, …) is not, whatever the port's name. Without one, a
 * port named "http" or "http-…" is HTTP. Balancing per request a port that carries TLS or another
 * protocol would break it, so an explicit appProtocol wins over a name.
 */
function portMode(port: Pick<ServicePort, "name" | "appProtocol">): ServicePortSpec["mode"] {
  if (port.appProtocol !== undefined) return port.appProtocol.toLowerCase() === "http" ? "http" : "tcp";
  const name = port.name?.toLowerCase();
  return name !== undefined && (name === "http" || name.startsWith("http-")) ? "http" : "tcp";
}

/**
 * Converts a Service that passed the manifest stage into a ServiceSpec: defaults applied (namespace
 * "default", type ClusterIP, targetPort = port, sessionAffinity None, timeout 10800 s,
 * publishNotReadyAddresses false), the selector undefined when empty and its keys sorted, ports sorted by
 * port then name with names lower-cased and a mode each (see portMode), headless from clusterIP "None"
 * (or clusterIPs ["None"]).
 * Throws a plain Error for what the manifest stage refuses (type ExternalName, a protocol other than TCP):
 * reaching here with one is a programming error. Pure; the input is not modified.
 */
export function toServiceSpec(service: Service): ServiceSpec {
  const spec = service.spec;
  const type = spec.type ?? "ClusterIP";
  const id = `Service/${service.metadata.namespace ?? DEFAULT_NAMESPACE}/${service.metadata.name}`;
  if (type === "ExternalName") throw new Error(`${id}: type ExternalName is refused by the manifest stage`);
  const ports = (spec.ports ?? []).map((p): ServicePortSpec => {
    const protocol = p.protocol ?? "TCP";
    if (protocol !== "TCP") throw new Error(`${id}: protocol ${protocol} is refused by the manifest stage`);
    const name = p.name?.toLowerCase();
    return {
      ...(name !== undefined ? { name } : {}),
      port: p.port,
      targetPort: p.targetPort ?? p.port,
      protocol,
      ...(p.nodePort !== undefined ? { nodePort: p.nodePort } : {}),
      mode: portMode(p),
    };
  });
  ports.sort((a, b) => a.port - b.port || compareNames(a.name, b.name));
  const selectorKeys = Object.keys(spec.selector ?? {}).sort();
  const sessionAffinity = spec.sessionAffinity ?? "None";
  return {
    namespace: service.metadata.namespace ?? DEFAULT_NAMESPACE,
    name: service.metadata.name,
    type,
    ...(selectorKeys.length > 0 ? { selector: Object.fromEntries(selectorKeys.map((k) => [k, spec.selector![k]!])) } : {}),
    ports,
    sessionAffinity,
    affinityTimeoutSeconds: spec.sessionAffinityConfig?.clientIP?.timeoutSeconds ?? DEFAULT_AFFINITY_TIMEOUT_SECONDS,
    publishNotReadyAddresses: spec.publishNotReadyAddresses ?? false,
    headless: isHeadless(service),
  };
}

/** Orders port names, a port without a name first (a Service with one port may leave it out). */
function compareNames(a: string | undefined, b: string | undefined): number {
  if (a === b) return 0;
  if (a === undefined) return -1;
  if (b === undefined) return 1;
  return a < b ? -1 : 1;
}

/**
 * Converts an Ingress that passed the manifest stage into an IngressSpec: namespace defaulted, backends as
 * (service, port number or name), rules without http as rules without paths, TLS entries without hosts as
 * empty lists. Whether coxswain serves it (its class) is for the caller to ask (isServedIngress). Throws a
 * plain Error for what the manifest stage refuses (a backend without a Service, a TLS entry without
 * secretName): reaching here with one is a programming error. Pure; the input is not modified.
 */
export function toIngressSpec(ingress: Ingress): IngressSpec {
  const namespace = ingress.metadata.namespace ?? DEFAULT_NAMESPACE;
  const id = `Ingress/${namespace}/${ingress.metadata.name}`;
  const backend = (b: IngressBackend): IngressBackendSpec => {
    const s = b.service;
    const port = s?.port.number ?? s?.port.name;
    if (s === undefined || port === undefined) throw new Error(`${id}: a backend without a Service port is refused by the manifest stage`);
    return { service: s.name, port };
  };
  const spec = ingress.spec;
  return {
    namespace,
    name: ingress.metadata.name,
    ...(spec.defaultBackend !== undefined ? { defaultBackend: backend(spec.defaultBackend) } : {}),
    rules: (spec.rules ?? []).map((r) => ({
      ...(r.host !== undefined ? { host: r.host } : {}),
      paths: (r.http?.paths ?? []).map((p) => ({ ...(p.path !== undefined ? { path: p.path } : {}), pathType: p.pathType, backend: backend(p.backend) })),
    })),
    tls: (spec.tls ?? []).map((t) => {
      if (t.secretName === undefined || t.secretName === "") throw new Error(`${id}: a TLS entry without secretName is refused by the manifest stage`);
      return { hosts: [...(t.hosts ?? [])], secretName: t.secretName };
    }),
  };
}

/**
 * A Rollout's pod labels and Service fields as traffic reads them (traffic/rollouts.ts): canaryService,
 * stableService and trafficRouting of a canary, activeService and previewService of a blue/green Rollout,
 * each only when given. Pure; the input is not modified.
 */
export function toRolloutServices(rollout: Rollout): RolloutServices {
  const { canary, blueGreen } = rollout.spec.strategy;
  const base = { namespace: rollout.metadata.namespace ?? DEFAULT_NAMESPACE, name: rollout.metadata.name, labels: { ...(rollout.spec.template.metadata.labels ?? {}) } };
  if (canary === undefined && blueGreen !== undefined) {
    return {
      ...base,
      strategy: "blueGreen",
      ...(blueGreen.activeService !== undefined ? { activeService: blueGreen.activeService } : {}),
      ...(blueGreen.previewService !== undefined ? { previewService: blueGreen.previewService } : {}),
    };
  }
  return {
    ...base,
    strategy: "canary",
    ...(canary?.canaryService !== undefined ? { canaryService: canary.canaryService } : {}),
    ...(canary?.stableService !== undefined ? { stableService: canary.stableService } : {}),
    ...(canary?.trafficRouting !== undefined ? { trafficRouting: true } : {}),
  };
}
