/**
 * The endpoints of a Service, from the pods coxswain observes, by Kubernetes' rules (the EndpointSlice
 * controller's choice of pods, kube-proxy's choice of which of them take traffic), and one rule of
 * coxswain's own: a leaving pod is drained, not dropped, so that it can be taken out of every proxy before
 * it gets SIGTERM.
 *
 * Guarantees: pure; the result depends on the set of pods, not on their order; endpoints are sorted by pod
 * name (then node).
 */
import { compareText } from "./keys.js";
import type { Endpoint, ProxyServer, ServiceEndpoints, ServicePortSpec, ServiceRoute, ServiceSpec, TrafficPod, TrafficPodPort } from "./types.js";

/**
 * The endpoints of `service` among `pods`, one list per Service port (in the Service's port order).
 *
 * - Selected: pods in the Service's namespace whose labels contain every selector pair. A Service without a
 *   selector, or with an empty one, selects nothing (Kubernetes stores an empty selector as none; it would
 *   otherwise select every pod of the namespace).
 * - Listed: ready pods; not-ready pods too when `publishNotReadyAddresses`; terminating pods always, with
 *   `terminating: true`, so that they are drained rather than vanish.
 * - Per port: a named targetPort is the pod's TCP port of that name (pods may map it to different numbers);
 *   a numeric one is the pod's TCP port with that containerPort. The endpoint's port is that port's hostPort,
 *   where the pod answers on its node's address. A pod that declares no such port is not an endpoint of that
 *   Service port (it has no host port coxswain could send traffic to).
 * - `ready` is the pod's readiness, or true for every endpoint of a `publishNotReadyAddresses` Service (as
 *   the EndpointSlice controller sets it); `serverStates` decides what a terminating endpoint does.
 * - A `route` that names a revision (a Rollout's canaryService, activeService, …) keeps the selected pods
 *   of that Rollout and revision only, as the pod-template hash Argo adds to such a Service's selector does.
 *   Every endpoint carries its pod's owner and revision, for the weights of a split.
 */
export function serviceEndpoints(service: ServiceSpec, pods: readonly TrafficPod[], route?: ServiceRoute): ServiceEndpoints {
  const only = route !== undefined && route.role !== "split" ? route : undefined;
  const selected = pods
    .filter((pod) => selects(service, pod) && (pod.ready || pod.terminating || service.publishNotReadyAddresses))
    .filter((pod) => only === undefined || (pod.owner === only.rollout && pod.revision === only.revision))
    .sort((a, b) => compareText(a.name, b.name) || compareText(a.node, b.node));
  return {
    namespace: service.namespace,
    name: service.name,
    ports: service.ports.map((sp) => ({
      ...(sp.name === undefined ? {} : { name: sp.name }),
      port: sp.port,
      endpoints: selected.flatMap((pod): Endpoint[] => {
        const target = targetPortOf(sp, pod);
        if (target === undefined) return [];
        return [
          {
            pod: pod.name,
            node: pod.node,
            address: pod.address,
            port: target.hostPort,
            ready: pod.ready || service.publishNotReadyAddresses,
            terminating: pod.terminating,
            ...(pod.owner !== undefined ? { owner: pod.owner } : {}),
            ...(pod.revision !== undefined ? { revision: pod.revision } : {}),
          },
        ];
      }),
    })),
  };
}

/**
 * serviceEndpoints of every Service, by "namespace/name": the same result, but each Service looks only at the
 * pods that carry the rarest pair of its selector (an index by namespace and label pair), so the work grows
 * with the pods each Service selects rather than with Services × pods.
 */
export function allServiceEndpoints(services: readonly ServiceSpec[], pods: readonly TrafficPod[], routes: ReadonlyMap<string, ServiceRoute>): Map<string, ServiceEndpoints> {
  const index = new Map<string, TrafficPod[]>();
  for (const pod of pods) {
    for (const [k, v] of Object.entries(pod.labels)) {
      const key = `${pod.namespace}\n${k}\n${v}`;
      const list = index.get(key);
      if (list === undefined) index.set(key, [pod]);
      else list.push(pod);
    }
  }
  const out = new Map<string, ServiceEndpoints>();
  for (const s of services) {
    const key = `${s.namespace}/${s.name}`;
    const lists = Object.entries(s.selector ?? {}).map(([k, v]) => index.get(`${s.namespace}\n${k}\n${v}`) ?? []);
    const candidates = lists.length === 0 ? [] : lists.reduce((a, b) => (b.length < a.length ? b : a));
    out.set(key, serviceEndpoints(s, candidates, routes.get(key)));
  }
  return out;
}

/**
 * Whether the Service's selector picks the pod: same namespace, every selector pair among its labels (none
 * for a Service without a selector, or an empty one). Also what gives a pod its own names under a headless
 * Service (pod-names.ts).
 */
export function selects(service: ServiceSpec, pod: Pick<TrafficPod, "namespace" | "labels">): boolean {
  const selector = service.selector;
  if (selector === undefined || pod.namespace !== service.namespace) return false;
  const pairs = Object.entries(selector);
  return pairs.length > 0 && pairs.every(([k, v]) => Object.hasOwn(pod.labels, k) && pod.labels[k] === v);
}

/** The pod's port a Service port sends to; the first declared one when several match, as Kubernetes does. */
function targetPortOf(sp: ServicePortSpec, pod: TrafficPod): TrafficPodPort | undefined {
  const target = sp.targetPort;
  return pod.ports.find((p) => p.protocol === sp.protocol && (typeof target === "string" ? p.name === target : p.containerPort === target));
}

/**
 * What a proxy does with each endpoint of one Service port, in the order given:
 * - "ready" (takes new requests): ready endpoints that are not terminating; when there is none, the
 *   terminating ones that are still ready (Kubernetes' terminating-but-serving fallback, so that a Service
 *   whose every pod is leaving keeps answering until the last one stops);
 * - "drain" (finishes what it has, takes nothing new): every other terminating endpoint;
 * - "maint" (no traffic): an endpoint that is neither ready nor terminating (serviceEndpoints lists none).
 *
 * Unlike kube-proxy, a terminating endpoint of a `publishNotReadyAddresses` Service drains too: coxswain
 * takes a leaving pod out of every proxy before it stops it, whatever the Service publishes.
 */
export function serverStates(endpoints: readonly Endpoint[]): ProxyServer["state"][] {
  const anyReady = endpoints.some((e) => e.ready && !e.terminating);
  return endpoints.map((e) => {
    if (!e.terminating) return e.ready ? "ready" : "maint";
    return e.ready && !anyReady ? "ready" : "drain";
  });
}
