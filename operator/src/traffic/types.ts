/**
 * What the traffic module works on and produces: Services (defaults applied), pods as traffic sees them,
 * endpoints, and the proxy configuration of one node. Plain data, sorted deterministically, so that a
 * decision is a pure function of snapshots and a rendered configuration changes only when traffic would.
 */

/** Kubernetes' Service types coxswain serves; LoadBalancer is NodePort on every node's address. */
export type ServiceType = "ClusterIP" | "NodePort" | "LoadBalancer";

/** One port of a Service, defaults applied. */
export interface ServicePortSpec {
  /** Required (DNS label) when the Service has more than one port; lower-case. */
  name?: string;
  /** The port clients use on the Service's address. */
  port: number;
  /** A number, or the name of a container port resolved per pod (two pods may map a name to different numbers). */
  targetPort: number | string;
  protocol: "TCP";
  /** NodePort and LoadBalancer Services: the port on every node's address (given, or allocated). */
  nodePort?: number;
  /**
   * "http" when the port carries HTTP (appProtocol http, or a name that is "http" or starts with "http-"):
   * the proxy then balances per request and can finish in-flight requests of a leaving pod; "tcp" otherwise.
   */
  mode: "http" | "tcp";
}

/** A v1 Service as traffic needs it, defaults applied (type ClusterIP, sessionAffinity None, timeout 10800 s). */
export interface ServiceSpec {
  namespace: string;
  name: string;
  type: ServiceType;
  /** Pods with all these labels (in the Service's namespace) are its endpoints; undefined selects none. */
  selector?: Record<string, string>;
  /** At least one, except for a headless Service (which may have none); sorted by port, then name. */
  ports: ServicePortSpec[];
  sessionAffinity: "None" | "ClientIP";
  /** sessionAffinityConfig.clientIP.timeoutSeconds (default 10800). */
  affinityTimeoutSeconds: number;
  /** Not-ready pods are endpoints too. */
  publishNotReadyAddresses: boolean;
  /** clusterIP: None: names resolve to the pods themselves, no proxy listener. */
  headless: boolean;
}

/** One port of a pod as launched: the name and number the manifest declared, and the host port assigned. */
export interface TrafficPodPort {
  name?: string;
  containerPort: number;
  /** Where the pod answers on its node's address. */
  hostPort: number;
  protocol: "TCP" | "UDP";
}

/** A pod as traffic sees it (made by the service controller from the observed fleet). */
export interface TrafficPod {
  namespace: string;
  name: string;
  node: string;
  /** The pod template's labels. */
  labels: Record<string, string>;
  /** The node address its host ports answer on. */
  address: string;
  ports: TrafficPodPort[];
  /** Readiness as the kubelet decided it (probe passed, or running without a readiness probe). */
  ready: boolean;
  /** The pod is leaving (rolling update, scale-down, drain, deletion): taken out of every proxy first. */
  terminating: boolean;
  /** The workload that owns it ("Rollout/<ns>/<name>", …), when known: a Rollout's routes pick its pods by it. */
  owner?: string;
  /** Its pod-template hash (the revision of its workload), when known. */
  revision?: string;
}

/** One backend of one Service port. */
export interface Endpoint {
  pod: string;
  node: string;
  address: string;
  port: number;
  ready: boolean;
  /** Leaving: served only while no ready endpoint is left (Kubernetes' terminating-but-serving rule). */
  terminating: boolean;
  /** The pod's owner and revision (TrafficPod's), for the weights of a canary split. */
  owner?: string;
  revision?: string;
}

/** The endpoints of one Service port, sorted by pod name. */
export interface ServicePortEndpoints {
  /** The Service port's name, when it has one. */
  name?: string;
  port: number;
  endpoints: Endpoint[];
}

/** The endpoints of one Service, its ports in ServiceSpec order. */
export interface ServiceEndpoints {
  namespace: string;
  name: string;
  ports: ServicePortEndpoints[];
}

/** What a Service is to a Rollout that names it or whose pods it selects (traffic/rollouts.ts decides it). */
export type ServiceRole =
  /** A canary's Service that selects its pods (or its stableService with trafficRouting): the weighted split. */
  | "split"
  /** canaryService: the canary (wanted) revision's pods only. */
  | "canary"
  /** stableService without trafficRouting: the stable revision's pods only. */
  | "stable"
  /** activeService, or a blue/green Rollout's Service that selects its pods: the active revision's pods only. */
  | "active"
  /** previewService: the preview revision's pods only (the active one's when there is no preview). */
  | "preview";

/**
 * How a Rollout shapes one Service's traffic now. `revision`: only the pods of that revision of the
 * Rollout are endpoints (Argo adds the pod-template hash to the Service's selector). `split`: every
 * selected pod is an endpoint, and the canary revision's ready pods take `weight` % of new requests, the
 * stable revision's the rest, any other pod none while either has a ready pod (traffic/weights.ts).
 */
export type ServiceRoute = { rollout: string; role: Exclude<ServiceRole, "split">; revision: string } | { rollout: string; role: "split"; stable: string; canary: string; weight: number };

/** A Rollout as traffic needs it (traffic/spec.ts's toRolloutServices): its pods' labels and the Services it names. */
export interface RolloutServices {
  namespace: string;
  name: string;
  /** The pod template's labels: a Service whose selector they satisfy selects the Rollout's pods. */
  labels: Record<string, string>;
  strategy: "canary" | "blueGreen";
  canaryService?: string;
  stableService?: string;
  /** trafficRouting: {} — coxswain's proxy splits the stableService's traffic too. */
  trafficRouting?: boolean;
  activeService?: string;
  previewService?: string;
}

/**
 * What a Rollout's controller decided its traffic is now. Canary: the stable and the canary (wanted)
 * revision, and the canary's share of requests (the same revision twice: no canary in progress). Blue/green:
 * the active revision (the wanted one before the first switch) and the preview, while there is one.
 */
export type RolloutTrafficState = { strategy: "canary"; stable: string; canary: string; weight: number } | { strategy: "blueGreen"; active: string; preview?: string };

/**
 * A backend server in a proxy listener. `id` is stable while the endpoint exists (the pod name and port),
 * so that an endpoint change is a runtime-API edit of one server, not a reload.
 */
export interface ProxyServer {
  id: string;
  address: string;
  port: number;
  /** 0–256 (HAProxy's range); canary weights are shares of it. */
  weight: number;
  /** ready: takes traffic; drain: finishes what it has, takes no new requests; maint: no traffic at all. */
  state: "ready" | "drain" | "maint";
}

/** An address and port a node's proxy listens on. */
export interface ProxyBind {
  address: string;
  port: number;
}

/** One Service port on one node's proxy. */
export interface ProxyListener {
  /** "<namespace>/<service>:<port>", unique in a ProxyConfig; listeners sort by it. */
  key: string;
  /**
   * The Service address and port, plus this node's address with the nodePort for NodePort/LoadBalancer (a
   * node can bind only its own addresses; every node's proxy binds its own). Sorted by address, then port.
   */
  binds: ProxyBind[];
  mode: "http" | "tcp";
  /** ClientIP affinity: the same client address goes to the same server for `affinityTimeoutSeconds`. */
  affinity?: { timeoutSeconds: number };
  /** Sorted by id. */
  servers: ProxyServer[];
  /**
   * Log every request (HTTP) or connection (TCP) to the proxy's request log (RequestRecord): what canary
   * analysis measures. Off unless set: a log line per request costs the proxy and the operator.
   */
  requestLog?: boolean;
}

/**
 * One request (HTTP mode) or connection (TCP mode) as a node proxy logged it when it ended: the request
 * log that traffic/haproxy.ts renders and reads back (parseRequestLine). Times are HAProxy's timers, in
 * whole milliseconds.
 */
export interface RequestRecord {
  /** When the operator received it (epoch ms, the operator's clock): just after the request ended. */
  at: number;
  mode: "http" | "tcp";
  /** The HAProxy section that served it: a listener's name, or the name of its ingress backend. */
  backend: string;
  /** The server slot that served it ("s3") and its address ("ip:port"); none when no server was chosen. */
  server?: string;
  serverAddress?: string;
  /** HTTP: the status sent to the client (HAProxy's own 502/503/504 when the server failed); TCP: none. */
  status?: number;
  /** HTTP: how long the server took to send its response headers; none when it sent none. */
  responseMs?: number;
  /** HTTP: the request's active time, from its first byte in to the last byte out (%Ta); TCP: the whole connection (%Tt). */
  totalMs: number;
  /** HAProxy's termination state, two characters: "--" is normal; a first "S" or "s" is the server's doing (refused, aborted, timed out). */
  termination: string;
  /** Connection attempts that were retried. */
  retries: number;
  /**
   * The request was moved to another server after its connection attempts failed: `server` is the one
   * that served it in the end, not the one that refused it (which the log does not name).
   */
  redispatched: boolean;
}

/** A backend of an Ingress: a Service of the Ingress's namespace and one of its ports, by number (its port) or by name. */
export interface IngressBackendSpec {
  service: string;
  port: number | string;
}

/** One path of an Ingress rule, as written (routing reads it with manifest/ingress.ts's routedPath). */
export interface IngressPathSpec {
  /** Absent only for an ImplementationSpecific path (then "/"). */
  path?: string;
  pathType: "Exact" | "Prefix" | "ImplementationSpecific";
  backend: IngressBackendSpec;
}

/** One rule of an Ingress: a host (exact, or "*." and a DNS name; absent: every host no rule names) and its paths. */
export interface IngressRuleSpec {
  host?: string;
  paths: IngressPathSpec[];
}

/** One TLS entry of an Ingress: a kubernetes.io/tls Secret of its namespace, and the hosts it is for (none: its own names). */
export interface IngressTlsSpec {
  hosts: string[];
  secretName: string;
}

/** An Ingress coxswain serves (class "coxswain" or none), as traffic needs it; rules, paths and TLS entries in manifest order. */
export interface IngressSpec {
  namespace: string;
  name: string;
  defaultBackend?: IngressBackendSpec;
  rules: IngressRuleSpec[];
  tls: IngressTlsSpec[];
}

/**
 * One route of a node's ingress: requests for `host` whose path matches go to the listener `backend`. A
 * host is exact ("a.example.com", compared without the Host header's port, ignoring case) or a wildcard
 * ("*.example.com": any single label there); undefined: any host that no route names. Exact matches the
 * path alone; Prefix matches `path` and everything below it element by element ("" matches every path).
 */
export interface IngressRoute {
  host?: string;
  match: "Exact" | "Prefix";
  /** Exact: the path as written; Prefix: without trailing "/" (manifest/ingress.ts's routedPath). */
  path: string;
  /** The key of the Service listener ("<namespace>/<service>:<port>") that takes the requests. */
  backend: string;
}

/** A certificate the ingress's HTTPS port presents. */
export interface IngressCertificate {
  /** "<namespace>/<secret>" it comes from. */
  secret: string;
  /** The server names (SNI; exact or "*." wildcard) it is presented for; empty: the names it holds. */
  hosts: string[];
  /** The certificate (chain) and then its private key, PEM: the proxy manager writes it to a file of mode 0600. */
  pem: string;
}

/** What a node's proxy serves for Ingresses: one HTTP frontend on the ingress ports, routing to Service listeners. */
export interface ProxyIngress {
  /** Where plain HTTP is served (this node's address and the ingress HTTP port); may be empty. */
  http: ProxyBind[];
  /** Where HTTPS is served; empty when there is no certificate. */
  https: ProxyBind[];
  /** In precedence order: exact hosts, then wildcard hosts, then no host; within a host, Exact paths, then the longest Prefix first. */
  routes: IngressRoute[];
  /** The listener key that takes requests no route matches; none: they get 404. */
  defaultBackend?: string;
  /** In presentation order: the first is presented when the client names no host or one no certificate is for. */
  certificates: IngressCertificate[];
}

/** One Service port as a bridge-network forwarder sends it: its forwarder's address and the port, and the listener that takes it. */
export interface BridgeRoute {
  /** The Service's address on the bridge network (its forwarder's). */
  address: string;
  port: number;
  /** The key of the Service listener ("<namespace>/<service>:<port>"). */
  backend: string;
}

/**
 * What a bridge node's proxy serves for its Service forwarders (traffic/bridge.ts): one TCP frontend on the
 * bridge network's gateway at the node's bridge port, taking the PROXY protocol, that hands each connection
 * to the Service listener of the address and port the client connected to.
 */
export interface ProxyBridge {
  bind: ProxyBind;
  /** Sorted by address, then port. */
  routes: BridgeRoute[];
}

/** Everything one node's proxy serves. */
export interface ProxyConfig {
  node: string;
  /** Sorted by key. */
  listeners: ProxyListener[];
  /** The ingress frontend, when the operator has ingress ports. */
  ingress?: ProxyIngress;
  /** The frontend of the bridge network's Service forwarders, on a bridge node whose bridge discovery is set up. */
  bridge?: ProxyBridge;
}
