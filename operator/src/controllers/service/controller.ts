/**
 * The service controller: Services of the applied commit → endpoints (the ready pods of their selectors,
 * fleet-wide) → one proxy configuration per node → that node's HAProxy, and a status file per Service.
 *
 * Keys: "Service/<ns>/<name>" recomputes one Service's endpoints and status file and queues every node's
 * proxy; "Proxy/<node>" recomputes the whole configuration of one node's proxy (every node serves every
 * Service) and applies what changed — runtime-API edits for endpoint churn, a hitless reload when a
 * listener changes. Both re-read desired and observed state; neither trusts what the key was queued for.
 *
 * A pod that leaves is taken out of every proxy first: the fleet calls beforeStop() before any SIGTERM,
 * which waits until every node's proxy runs a configuration where the pod takes no new requests and its
 * in-flight ones are done (or the grace period is up).
 *
 * Ingresses (class "coxswain" or none), when the operator has ingress ports (options.ingress): every
 * node's proxy also serves one HTTP(S) frontend on its own address at those ports, routing by host and
 * path to the Services' listeners (traffic/ingress.ts), the same table on every node; TLS certificates
 * come from the Ingresses' kubernetes.io/tls Secrets and go to the proxy as files. An ingress a node
 * cannot serve (its port is a Service's nodePort there, its proxy takes no certificate files, or the
 * proxy refuses the configuration with it, e.g. the port is in use) is left out of that node's
 * configuration and reported; its Services keep being served. A status file per Ingress:
 * `ingresses/<ns>/<name>.yaml`, rewritten with the Services' files.
 *
 * Rollouts (options.traffic): the Services a Rollout names or whose pods they select carry its traffic as
 * its controller decided it (traffic/rollouts.ts: one revision's pods, or a canary's weighted split); once
 * every node's proxy runs a Rollout's decision — a node whose proxy fails is not waited for, it serves
 * nothing — that is told back (ServiceTrafficPort.setApplied), and the Service's status file says which
 * revision it serves and at which weight.
 *
 * Bridge nodes (Docker, `network: bridge`; traffic/bridge.ts says how and why): the proxy also serves a
 * bridge frontend on the bridge network's gateway at the node's bridge port, and once it does, the node's
 * Service forwarders are made to match the Services (runtime/docker/forwarders.ts), so that bridge pods find
 * every Service by name. A node whose bridge discovery cannot be set up (its network has no Service range,
 * the frontend cannot bind, a forwarder cannot be made) keeps serving everything else and reports it: in
 * each Service's status file (per node, `bridge`) and once in the log; it is tried again after a while.
 * Docker nodes in host mode lose forwarders a former bridge mode left behind.
 *
 * Canary analysis: the listeners of every Service that selects the pods of a Rollout with an analysis step
 * log their requests (traffic/analysis.ts's analyzedServices), on every node whose proxy has a request
 * log; subscribeRequests() hands the records of every node's proxy to the workload controller.
 *
 * Nothing happens before the head commit was read once (DesiredView.ready), and nothing of a commit that
 * did not validate reaches a proxy: the desired graph is the applied one.
 */
import { CoxError, toCoxError } from "../../api/errors.js";
import type { Logger } from "../../api/log.js";
import { makeKey, parseKey, type Ingress, type Rollout, type Secret, type Service } from "../../api/objects.js";
import type { ReconcileResult } from "../../engine/queue.js";
import { ingressClassOf, isServedIngress } from "../../manifest/ingress.js";
import { secretValue } from "../../manifest/secret.js";
import { LABELS } from "../../runtime/labels.js";
import type { Fleet, NodeConfig, ObservedPod } from "../../runtime/fleet.js";
import type { BridgeForwarders, ForwardersFactory } from "../../runtime/docker/forwarders.js";
import type { NodeProxy, ProxyFactory } from "../../runtime/proxy/index.js";
import { ingressPath, renderIngressRecord, type IngressBackendRecord } from "../../status/ingresses.js";
import { renderServiceRecord, servicePath, type ServiceEndpointRecord, type ServiceNodeRecord, type ServiceRecord } from "../../status/services.js";
import { allocateServiceAddresses, DEFAULT_SERVICE_NETWORK, reservedHostPorts, withNodePorts } from "../../traffic/addresses.js";
import { bridgeProxyPort, proxyBridge, serviceForwarders, type BridgeNetwork, type ServiceForwarder } from "../../traffic/bridge.js";
import { analyzedServices, withRequestLogs } from "../../traffic/analysis.js";
import { allServiceEndpoints } from "../../traffic/endpoints.js";
import { checkProxyConfig, proxyEdits, renderHaproxy, type HaproxyOptions, type ProxyEdits, type RenderedState, type RequestLogTarget } from "../../traffic/haproxy.js";
import { ingressRouting, proxyIngress, type BackendOutcome, type IngressRouting, type TlsKeyPair } from "../../traffic/ingress.js";
import { compareText } from "../../traffic/keys.js";
import { proxyConfig } from "../../traffic/proxy.js";
import { rolloutKeyOf, rolloutServiceRoles, serviceRoutes, type ServiceRoleOf } from "../../traffic/rollouts.js";
import { toIngressSpec, toRolloutServices, toServiceSpec } from "../../traffic/spec.js";
import type { ProxyBind, ProxyConfig, RequestRecord, RolloutTrafficState, ServiceEndpoints, ServiceRoute, ServiceSpec, TrafficPod } from "../../traffic/types.js";
import { stateKey } from "../traffic-board.js";
import type { DesiredView, ServiceTrafficPort } from "../types.js";

/** The key that makes the service controller look at every Service (and every proxy) again, e.g. after a new commit. */
export const SERVICES_KEY = "Service/*";

/** The key prefix of node proxies ("Proxy/<node>"). */
export const PROXY_PREFIX = "Proxy";

/**
 * The key that writes every Service's (and Ingress's) status file from the proxies' state. A proxy
 * reconcile queues it instead of writing them itself: a burst of N proxy reconciles (an endpoint change
 * reaches every node) makes one write of the S files, not N — the queue keeps one pending copy of a key.
 * ("*" is no node name: node names are DNS labels.)
 */
const STATUS_KEY = `${PROXY_PREFIX}/*`;

/** Options of the service controller. */
export interface ServiceControllerOptions {
  desired: DesiredView;
  fleet: Fleet;
  /** The proxy of a node, made on first use (an effect: it starts nothing until the first apply). */
  proxyFor: ProxyFactory;
  /** The Service forwarders of a node, made on first use (Docker nodes; undefined elsewhere). Absent: no bridge discovery. */
  forwardersFor?: ForwardersFactory;
  /** Writes (or, with undefined, removes) a status file. */
  setStatusFile(path: string, content: string | undefined): void;
  /** Paths of the status files under a prefix (read back after a restart too), to remove those of Services gone meanwhile. */
  statusFiles(prefix: string): string[];
  /** Queues a key on the operator's work queue. */
  enqueue(key: string): void;
  log?: Logger;
  /**
   * Serve Ingresses on every node's address: plain HTTP at `httpPort`, HTTPS at `httpsPort` (bound once an
   * Ingress has a certificate). Both ports are kept out of node ports and pods' host ports. Absent (or
   * neither port): Ingresses are not served, and their status files say so.
   */
  ingress?: { httpPort?: number; httpsPort?: number };
  /** Rollouts' traffic as their controller decided it, and where to say what every proxy runs; without it, Rollouts shape no Service. */
  traffic?: ServiceTrafficPort;
}

/** How one node serves Ingresses (for the status files and the log). */
interface NodeIngress {
  /** "address:port" where plain HTTP and HTTPS are bound. */
  http?: string;
  https?: string;
  /** Why the ingress (or its HTTPS port) cannot be served on this node, when it cannot. */
  problem?: string;
  /** What is worth knowing and not wrong (HTTPS waits for a certificate). */
  note?: string;
}

interface NodeState {
  proxy: NodeProxy;
  /** The node's proxyImage when the proxy was made: another one replaces the proxy. */
  image: string | undefined;
  /** The configuration the proxy runs (undefined: nothing applied yet, or a change failed midway: reload next). */
  applied?: RenderedState;
  /** The last configuration applied, for beforeStop and the status files. */
  config?: ProxyConfig;
  /** When the observed state was read that the proxy now runs (epoch ms): beforeStop waits for one after the pod left. */
  appliedAt?: number;
  error?: CoxError;
  /** The ingress of the configuration last applied (undefined: none). */
  ingress?: NodeIngress;
  /** Rollout key → the traffic (stateKey) the configuration last applied was made with. */
  traffic?: Map<string, string>;
  /** The node's Service forwarders (Docker nodes). */
  forwarders?: BridgeForwarders;
  /** A host-mode node's leftover forwarders were removed (once per operator run). */
  forwardersCleared?: boolean;
  /** How bridge discovery went the last time (bridge nodes with forwarders). */
  bridge?: NodeBridge;
  /** The forwarders last synced without a problem, and when: the same plan is synced again only after BRIDGE_RESYNC_MS. */
  bridgeSynced?: { signature: string; at: number };
  /** The line last logged because the proxy's request log could not be started. */
  requestLogError?: string;
}

/** Bridge discovery on one node as last applied. */
interface NodeBridge {
  /** Why the node has none at all (its network, the bridge frontend), "CODE: message". */
  problem?: string;
  /** Service key → its forwarder's address, for every Service the frontend routes. */
  addresses: Map<string, string>;
  /** Service key → why its forwarder is not serving, "CODE: message". */
  errors: Map<string, string>;
}

/** What a bridge node needs this time (bridgePlan), or why it cannot have it. */
type BridgePlan = { network: BridgeNetwork; forwarders: ServiceForwarder[]; bind: ProxyBind } | { problem: CoxError };

/** How soon bridge discovery is tried again after a problem: transient ones soon, the user's later. */
const BRIDGE_RETRY_MS = { transient: 5_000, stalled: 30_000 } as const;

/**
 * An unchanged set of forwarders is looked at again (one engine listing) at most this often: endpoint churn
 * reconciles a proxy many times a second, and forwarders change only with Services.
 */
const BRIDGE_RESYNC_MS = 30_000;

/** Everything one reconcile needs, computed from the desired graph and the observed fleet. */
interface Snapshot {
  services: ServiceSpec[];
  endpoints: Map<string, ServiceEndpoints>;
  nodes: NodeConfig[];
  /** Every Ingress of the graph, served or not, sorted by namespace/name. */
  ingresses: Ingress[];
  /** The routing of those coxswain serves. */
  routing: IngressRouting;
  /** "namespace/name" → what the Service is to the Rollout that shapes it. */
  roles: Map<string, ServiceRoleOf>;
  /** Rollout key → its traffic as decided, for every Rollout of the graph that has one. */
  states: Map<string, RolloutTrafficState>;
  /** "namespace/name" → the Service's route now (a Rollout with a state shapes it). */
  routes: Map<string, ServiceRoute>;
  /** "namespace/name" of the Services whose listeners log their requests (canary analysis). */
  analyzed: Set<string>;
  /**
   * Service addresses by service network, computed once per snapshot: every node's configuration and every
   * Service's status file ask, and placing all Services per ask made a status write quadratic in Services.
   */
  addressCache: Map<string, Map<string, string>>;
}

/** "namespace/name" of the Services a configuration has listeners for, worked out once per configuration. */
const served = new WeakMap<ProxyConfig, Set<string>>();
function servedServices(config: ProxyConfig): Set<string> {
  let keys = served.get(config);
  if (keys === undefined) {
    keys = new Set(config.listeners.map((l) => l.key.slice(0, l.key.lastIndexOf(":"))));
    served.set(config, keys);
  }
  return keys;
}

/** How often beforeStop looks at the proxies' counters while a leaving pod finishes its requests. */
const DRAIN_POLL_MS = 100;

/** Reconciles Services and node proxies; see the module comment. */
export class ServiceController {
  private readonly nodes = new Map<string, NodeState>();
  /** The status file last written per Service path, to write only what changed. */
  private readonly written = new Map<string, string>();
  /** Per Service path, the record last rendered (as JSON) and its YAML. */
  private readonly rendered = new Map<string, { json: string; text: string }>();
  /** Who gets the records of every node proxy's request log. */
  private readonly requestListeners = new Set<(records: readonly RequestRecord[]) => void>();

  constructor(private readonly opts: ServiceControllerOptions) {}

  /** One reconcile of "Service/<ns>/<name>", "Service/*", "Proxy/<node>" or the status key ("Proxy/*"). */
  async reconcile(key: string): Promise<ReconcileResult | void> {
    if (!this.opts.desired.graph() || this.opts.desired.ready?.() === false) return;
    if (key === STATUS_KEY) return this.statusOfAll(this.snapshot());
    if (key.startsWith(`${PROXY_PREFIX}/`)) return this.reconcileProxy(key.slice(PROXY_PREFIX.length + 1));
    if (key === SERVICES_KEY) {
      const snap = this.snapshot();
      this.statusOfAll(snap);
      for (const n of snap.nodes) this.opts.enqueue(`${PROXY_PREFIX}/${n.name}`);
      return;
    }
    const { namespace, name } = parseKey(key);
    const snap = this.snapshot();
    const spec = snap.services.find((s) => s.namespace === (namespace ?? "default") && s.name === name);
    const path = servicePath(namespace ?? "default", name);
    this.writeStatus(path, spec ? this.record(spec, snap) : undefined);
    for (const n of snap.nodes) this.opts.enqueue(`${PROXY_PREFIX}/${n.name}`);
  }

  /**
   * Pods of these owners changed: the endpoints of their namespaces' Services may have. One key for all
   * of them (Service/*: one snapshot, then every proxy), not one per Service: each Service key takes a
   * snapshot of its own, and a namespace of S Services made every pod change cost S snapshots.
   */
  podsChanged(owners: readonly string[]): void {
    const namespaces = new Set(owners.map((o) => parseKey(o).namespace ?? "default"));
    if (this.serviceObjects().some((s) => namespaces.has(s.metadata.namespace ?? "default"))) this.opts.enqueue(SERVICES_KEY);
  }

  /** The fleet's membership or a node's readiness changed: every proxy and every Service is looked at again. */
  nodesChanged(): void {
    for (const n of this.opts.fleet.listNodes()) this.opts.enqueue(`${PROXY_PREFIX}/${n.config.name}`);
    for (const s of this.serviceObjects()) this.opts.enqueue(`Service/${s.metadata.namespace ?? "default"}/${s.metadata.name}`);
  }

  /**
   * Takes a leaving pod out of every proxy before it gets SIGTERM (the fleet's beforeStop hook): queues
   * every proxy and waits until each has applied a configuration computed after the pod began to leave;
   * then, unless the pod still serves because no ready endpoint is left (Kubernetes' terminating-but-
   * serving rule: waiting would not help), until its servers have no session left. Returns at once when
   * the pod serves no Service; never waits longer than budgetMs (the fleet bounds it too). A proxy that
   * fails to apply is not waited for: it is reported, and the others keep serving.
   */
  async beforeStop(pod: ObservedPod, budgetMs: number): Promise<void> {
    const started = Date.now();
    const deadline = started + budgetMs;
    const mine = (id: string) => id.startsWith(`${pod.name}:`);
    const listed = (n: NodeState) => n.config?.listeners.some((l) => l.servers.some((s) => mine(s.id))) ?? false;
    if (![...this.nodes.values()].some(listed)) return;
    for (const n of this.opts.fleet.listNodes()) this.opts.enqueue(`${PROXY_PREFIX}/${n.config.name}`);
    const live = () => [...this.nodes.values()].filter((n) => n.applied !== undefined && n.error === undefined);
    while (Date.now() < deadline && live().some((n) => (n.appliedAt ?? 0) < started)) await sleep(DRAIN_POLL_MS);
    if (live().some((n) => n.config?.listeners.some((l) => l.servers.some((s) => mine(s.id) && s.state === "ready")))) return;
    while (Date.now() < deadline) {
      const sessions = await Promise.all(live().map((n) => this.sessionsOf(n, pod.name)));
      if (sessions.every((x) => x === 0)) return;
      await sleep(DRAIN_POLL_MS);
    }
  }

  /**
   * Calls `listener` with the request-log records of every node's proxy, those started later too, from now
   * on; returns what stops that.
   */
  subscribeRequests(listener: (records: readonly RequestRecord[]) => void): () => void {
    this.requestListeners.add(listener);
    return () => this.requestListeners.delete(listener);
  }

  /** Proxy health per node, sorted by node, for /healthz and logs. */
  health(): { node: string; running: boolean; restarts: number; error?: string }[] {
    return [...this.nodes.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([node, s]) => {
        const h = s.proxy.health();
        const error = s.error ? `${s.error.code}: ${s.error.message}` : h.lastError ? `${h.lastError.code}: ${h.lastError.message}` : undefined;
        return { node, running: h.running, restarts: h.restarts, ...(error ? { error } : {}) };
      });
  }

  /** Stops every proxy this controller started (operator shutdown). */
  async close(): Promise<void> {
    await Promise.all([...this.nodes.values()].map((n) => n.proxy.close().catch(() => undefined)));
    this.nodes.clear();
  }

  // ------------------------------------------------------------------ steps

  private async reconcileProxy(nodeName: string): Promise<ReconcileResult | void> {
    const takenAt = Date.now();
    const snap = this.snapshot();
    const node = snap.nodes.find((n) => n.name === nodeName);
    let state = this.nodes.get(nodeName);
    if (node && state && state.image !== node.proxyImage) {
      // The Node names another proxy image: a new proxy replaces this one (on Docker a new container, which
      // can bind the node's addresses only once the old one is gone — the one proxy change that is not hitless).
      this.opts.log?.info(`proxy of ${nodeName}: image ${state.image ?? "(default)"} → ${node.proxyImage ?? "(default)"}, replacing the proxy`);
      this.nodes.delete(nodeName);
      await state.proxy.close().catch((err: unknown) => this.opts.log?.warn(`proxy of ${nodeName}: ${toCoxError(err).message}`, { node: nodeName }));
      state = undefined;
    }
    if (!node) {
      // The node left the fleet: its proxy goes with it.
      if (state) {
        this.nodes.delete(nodeName);
        await state.proxy.close().catch((err: unknown) => this.opts.log?.warn(`proxy of ${nodeName}: ${toCoxError(err).message}`, { node: nodeName }));
      }
      this.publishApplied(snap);
      return;
    }
    // Nothing to serve yet: start no proxy.
    if (snap.services.every((s) => s.headless) && (!this.servesIngresses() || snap.routing.outcomes.length === 0) && !state) return;
    const s = state ?? this.newNode(node);
    this.nodes.set(nodeName, s);
    let { config, ingress } = this.nodeConfig(node, snap, s.proxy.filesDir);
    const requestLog = snap.analyzed.size > 0 ? await this.requestLogOf(nodeName, s) : undefined;
    if (requestLog !== undefined) config = withRequestLogs(config, snap.analyzed);
    const bridge = await this.bridgePlan(node, s, snap.services);
    if (bridge !== undefined && "bind" in bridge) config = { ...config, bridge: proxyBridge(bridge.forwarders, bridge.bind) };
    let bridgeProblem = bridge !== undefined && "problem" in bridge ? bridge.problem : undefined;
    try {
      let edits: ProxyEdits;
      for (;;) {
        try {
          edits = await this.apply(s, config, requestLog);
          break;
        } catch (err) {
          // An ingress or a bridge frontend the proxy cannot take (its port is in use on this node, …) must
          // not take the node's Services down with it: they are served without it, and it reports why. The
          // part the error names goes first.
          const e = toCoxError(err);
          const at = config.bridge ? `${config.bridge.bind.address}:${config.bridge.bind.port}` : undefined;
          const dropBridge = config.bridge !== undefined && (config.ingress === undefined || e.message.includes(at!));
          if (!dropBridge && config.ingress === undefined) throw err;
          delete s.applied;
          if (dropBridge) {
            const { bridge: _left, ...without } = config;
            config = without;
            bridgeProblem = e;
          } else {
            const { ingress: _left, ...without } = config;
            config = without;
            ingress = { problem: `${e.code}: ${e.message}` };
          }
        }
      }
      const before = new Set(s.config?.listeners.map((l) => l.key));
      const ingressBefore = s.ingress;
      s.applied = edits.state;
      s.config = config;
      s.appliedAt = takenAt;
      s.ingress = ingress;
      s.traffic = new Map([...snap.states].map(([k, st]) => [k, stateKey(st)]));
      // Say once where each new listener answers: that is the address a person tries first.
      for (const l of config.listeners) {
        if (before.has(l.key)) continue;
        const at = l.binds.map((b) => `${l.mode === "http" ? "http://" : ""}${b.address}:${b.port}${l.mode === "http" ? "/" : ""}`).join(" and ");
        this.opts.log?.info(`Service ${l.key} is served on node ${nodeName} at ${at}`);
      }
      if (ingress !== undefined && (ingress.http !== ingressBefore?.http || ingress.https !== ingressBefore?.https || ingress.problem !== ingressBefore?.problem)) {
        const at = [ingress.http && `http://${ingress.http}/`, ingress.https && `https://${ingress.https}/`].filter(Boolean).join(" and ");
        const why = [ingress.problem, ingress.note].filter(Boolean).join("; ");
        this.opts.log?.info(`Ingresses ${at ? `are served on node ${nodeName} at ${at}` : `are not served on node ${nodeName}`}${why ? ` (${why})` : ""}`);
      }
      if (s.error) this.opts.log?.info(`proxy of ${nodeName} serves again`, { node: nodeName });
      delete s.error;
      // The forwarders follow the proxy: the frontend they send to serves now.
      await this.syncForwarders(node, s, bridge, config.bridge !== undefined ? undefined : bridgeProblem);
    } catch (err) {
      const e = toCoxError(err);
      if (s.error?.code !== e.code || s.error.message !== e.message) this.opts.log?.warn(`proxy of ${nodeName}: ${e.code}: ${e.message}`, { node: nodeName });
      s.error = e;
      // A runtime edit may have been half applied: the next attempt reloads the whole configuration.
      delete s.applied;
      this.opts.enqueue(STATUS_KEY);
      this.publishApplied(snap);
      throw e;
    }
    this.opts.enqueue(STATUS_KEY);
    this.publishApplied(snap);
    if (s.bridge?.problem !== undefined || (s.bridge?.errors.size ?? 0) > 0) {
      const stalled = bridgeProblem?.retry === "stalled";
      return { requeueAfterMs: stalled ? BRIDGE_RETRY_MS.stalled : BRIDGE_RETRY_MS.transient };
    }
  }

  /**
   * What bridge discovery `node` needs now: its network (created when missing), the forwarders of
   * `services` in its Service range and where the proxy takes their connections; or why it cannot have it.
   * Undefined for a node that is not a Docker bridge node.
   */
  private async bridgePlan(node: NodeConfig, s: NodeState, services: readonly ServiceSpec[]): Promise<BridgePlan | undefined> {
    if (this.opts.forwardersFor === undefined) return undefined;
    s.forwarders ??= this.opts.forwardersFor(node);
    const port = bridgeProxyPort(node);
    if (s.forwarders === undefined || port === undefined) return undefined;
    try {
      const network = await s.forwarders.network();
      if (network.serviceRange === undefined) {
        throw new CoxError("BridgeNetworkUnusable", `node ${node.name}: its bridge network ${network.name} has no room for Service forwarders: ${network.problem ?? "no Service range"}`, {
          details: { node: node.name, network: network.name },
        });
      }
      let forwarders: ServiceForwarder[];
      try {
        forwarders = serviceForwarders(services, network.serviceRange);
      } catch (err) {
        throw new CoxError("BridgeNetworkUnusable", `node ${node.name}: the Service range ${network.serviceRange} of bridge network ${network.name} is too small: ${toCoxError(err).message}`, {
          cause: err,
          details: { node: node.name, network: network.name },
        });
      }
      return { network, forwarders, bind: { address: network.gateway, port } };
    } catch (err) {
      return { problem: toCoxError(err) };
    }
  }

  /**
   * Makes `node`'s forwarders match the plan (a host node: removes leftovers, once), and records and logs
   * what changed. `problem`: the proxy does not serve the bridge frontend, and why.
   */
  private async syncForwarders(node: NodeConfig, s: NodeState, plan: BridgePlan | undefined, problem: CoxError | undefined): Promise<void> {
    if (s.forwarders === undefined) return;
    if (plan === undefined) {
      if (s.forwardersCleared) return;
      await s.forwarders
        .sync([])
        .then(() => (s.forwardersCleared = true))
        .catch((err: unknown) => this.opts.log?.warn(`node ${node.name}: cannot remove leftover Service forwarders: ${toCoxError(err).message}`));
      return;
    }
    const before = s.bridge;
    const next: NodeBridge = { addresses: new Map(), errors: new Map() };
    if ("problem" in plan || problem !== undefined) {
      const e = problem ?? (plan as { problem: CoxError }).problem;
      next.problem = `${e.code}: ${e.message}`;
      delete s.bridgeSynced;
    } else {
      const signature = JSON.stringify([plan.network, plan.bind, plan.forwarders]);
      const fresh = s.bridgeSynced !== undefined && s.bridgeSynced.signature === signature && Date.now() - s.bridgeSynced.at < BRIDGE_RESYNC_MS;
      if (fresh && before !== undefined) return;
      delete s.bridgeSynced;
      try {
        const errors = await s.forwarders.sync(plan.forwarders, { network: plan.network, proxy: plan.bind });
        for (const f of plan.forwarders) next.addresses.set(f.key, f.address);
        for (const [key, e] of errors) next.errors.set(key, `${e.code}: ${e.message}`);
        if (errors.size === 0) s.bridgeSynced = { signature, at: Date.now() };
      } catch (err) {
        const e = toCoxError(err);
        next.problem = `${e.code}: ${e.message}`;
      }
    }
    s.bridge = next;
    if (next.problem !== undefined && next.problem !== before?.problem) this.opts.log?.warn(`bridge discovery on node ${node.name}: ${next.problem}`, { node: node.name });
    if (next.problem === undefined && before?.problem !== undefined) this.opts.log?.info(`bridge discovery on node ${node.name} works again`, { node: node.name });
    if ("network" in plan) {
      for (const f of plan.forwarders) {
        const error = next.errors.get(f.key);
        if (error !== undefined) {
          if (before?.errors.get(f.key) !== error) this.opts.log?.warn(`Service ${f.key} cannot be found by name on node ${node.name}: ${error}`);
        } else if (next.problem === undefined && (before?.addresses.get(f.key) !== f.address || before.errors.has(f.key) || before.problem !== undefined)) {
          this.opts.log?.info(`Service ${f.key} is found by name on node ${node.name}'s bridge network ${plan.network.name} at ${f.address} (${f.aliases.join(", ")})`);
        }
      }
    }
  }

  /**
   * Tells, per Rollout of `snap`, whether every node's proxy runs its traffic as decided now: each node of
   * the fleet has applied a configuration made with it, except nodes whose proxy fails (they serve nothing).
   */
  private publishApplied(snap: Snapshot): void {
    const port = this.opts.traffic;
    if (port === undefined) return;
    const now = port.wanted([...snap.states.keys()]);
    for (const [key, state] of now) {
      const want = stateKey(state);
      const everywhere = snap.nodes.every((n) => {
        const st = this.nodes.get(n.name);
        return st?.error !== undefined || st?.traffic?.get(key) === want;
      });
      port.setApplied(key, everywhere ? state : undefined);
    }
  }

  /** The state of a node seen for the first time: its proxy, whose request log goes to subscribeRequests' listeners. */
  private newNode(node: NodeConfig): NodeState {
    const proxy = this.opts.proxyFor(node);
    proxy.requestLog?.subscribe((records) => {
      for (const listener of this.requestListeners) listener(records);
    });
    return { proxy, image: node.proxyImage };
  }

  /**
   * Where the node's proxy sends its request log (started on first use); undefined when it has none, or
   * when it cannot be started (said once in the log): its Services are then served without a request log.
   */
  private async requestLogOf(nodeName: string, s: NodeState): Promise<RequestLogTarget | undefined> {
    if (s.proxy.requestLog === undefined) return undefined;
    try {
      const target = await s.proxy.requestLog.start();
      delete s.requestLogError;
      return target;
    } catch (err) {
      const e = toCoxError(err);
      const line = `proxy of ${nodeName}: its request log cannot be collected, canary analysis measures nothing there: ${e.code}: ${e.message}`;
      if (s.requestLogError !== line) this.opts.log?.warn(line, { node: nodeName });
      s.requestLogError = line;
      return undefined;
    }
  }

  /** Takes the node's proxy to `config`: runtime-API edits when they do, else a reload with its files. */
  private async apply(s: NodeState, config: ProxyConfig, requestLog: RequestLogTarget | undefined): Promise<ProxyEdits> {
    const haproxy: HaproxyOptions = {
      ...(s.proxy.filesDir !== undefined ? { filesDir: s.proxy.filesDir } : {}),
      ...(s.proxy.peersSocket !== undefined ? { peersSocket: s.proxy.peersSocket } : {}),
      ...(requestLog !== undefined ? { requestLog } : {}),
    };
    let edits = proxyEdits(s.applied, config, haproxy);
    if (!edits.reload && edits.commands.length > 0 && s.proxy.runtimeApi === false) {
      // This proxy takes whole configurations only: the same change as a (hitless) reload.
      edits = { reload: true, ...renderHaproxy(config, { ...haproxy, ...(s.applied ? { previous: s.applied } : {}) }) };
    }
    if (edits.reload) await s.proxy.apply({ reload: true, text: edits.text, ...(edits.files.length > 0 ? { files: edits.files } : {}) });
    else if (edits.commands.length > 0) await s.proxy.apply({ reload: false, commands: edits.commands });
    return edits;
  }

  /**
   * The configuration of `node`'s proxy (whose files go to `filesDir`, if it takes any), and how it serves
   * Ingresses. An ingress the node cannot serve is left out, so that its Services are still served.
   */
  private nodeConfig(node: NodeConfig, snap: Snapshot, filesDir: string | undefined): { config: ProxyConfig; ingress?: NodeIngress } {
    const config = proxyConfig({ name: node.name, address: node.address, serviceNetworkAddresses: this.addresses(node, snap) }, snap.services, [...snap.endpoints.values()], snap.routes);
    const ports = this.opts.ingress;
    if (!this.servesIngresses() || snap.routing.outcomes.length === 0) return { config };
    let problem: string | undefined;
    let note: string | undefined;
    if (ports?.httpsPort !== undefined) {
      if (snap.routing.certificates.length === 0) note = `HTTPS (port ${ports.httpsPort}) is bound once an Ingress has a TLS certificate`;
      else if (filesDir === undefined) problem = "HTTPS is not served: this node's proxy takes no certificate files";
    }
    const extra = { ...(problem !== undefined ? { problem } : {}), ...(note !== undefined ? { note } : {}) };
    try {
      const want = { ...(ports?.httpPort !== undefined ? { http: ports.httpPort } : {}), ...(ports?.httpsPort !== undefined ? { https: ports.httpsPort } : {}) };
      const ingress = proxyIngress(snap.routing, node.address, want, filesDir !== undefined);
      if (ingress === undefined) return { config, ingress: extra };
      const withIngress = { ...config, ingress };
      checkProxyConfig(withIngress, filesDir !== undefined ? { filesDir } : {});
      const at = (b: readonly { address: string; port: number }[]): string | undefined => (b[0] ? `${b[0].address}:${b[0].port}` : undefined);
      const http = at(ingress.http);
      const https = at(ingress.https);
      return { config: withIngress, ingress: { ...(http ? { http } : {}), ...(https ? { https } : {}), ...extra } };
    } catch (err) {
      const e = toCoxError(err);
      return { config, ingress: { problem: `${e.code}: ${e.message}` } };
    }
  }

  /** True when the operator has an ingress port. */
  private servesIngresses(): boolean {
    return this.opts.ingress?.httpPort !== undefined || this.opts.ingress?.httpsPort !== undefined;
  }

  /** The ingress ports, kept out of node ports and host ports. */
  private ingressPorts(): number[] {
    return [this.opts.ingress?.httpPort, this.opts.ingress?.httpsPort].filter((p): p is number => p !== undefined);
  }

  /** The addresses of the snapshot's Services in `node`'s service network (one placement per network and snapshot). */
  private addresses(node: NodeConfig, snap: Snapshot): Map<string, string> {
    const network = node.serviceNetwork ?? DEFAULT_SERVICE_NETWORK;
    let placed = snap.addressCache.get(network);
    if (placed === undefined) {
      placed = allocateServiceAddresses(
        network,
        snap.services.filter((s) => !s.headless).map((s) => `${s.namespace}/${s.name}`),
      );
      snap.addressCache.set(network, placed);
    }
    return placed;
  }

  /**
   * Rewrites the status file of every Service (a proxy's state changed, which every file shows) and removes
   * those of Services that are gone (deleted while the operator was down, too).
   */
  private statusOfAll(snap: Snapshot): void {
    const wanted = new Set<string>();
    for (const spec of snap.services) {
      const path = servicePath(spec.namespace, spec.name);
      wanted.add(path);
      this.writeStatus(path, this.record(spec, snap));
    }
    for (const path of this.opts.statusFiles("services/")) if (!wanted.has(path)) this.writeStatus(path, undefined);
    for (const ing of snap.ingresses) {
      const path = ingressPath(ing.metadata.namespace ?? "default", ing.metadata.name);
      wanted.add(path);
      this.writeStatus(path, this.ingressRecord(ing, snap));
    }
    for (const path of this.opts.statusFiles("ingresses/")) if (!wanted.has(path)) this.writeStatus(path, undefined);
  }

  private ingressRecord(ing: Ingress, snap: Snapshot): string {
    const namespace = ing.metadata.namespace ?? "default";
    const cls = ingressClassOf(ing);
    const base = { namespace, name: ing.metadata.name, ...(cls !== undefined ? { ingressClass: cls } : {}) };
    const record = (b: BackendOutcome): IngressBackendRecord => ({
      service: b.service,
      port: b.port,
      ...(b.backend !== undefined ? { listener: b.backend } : {}),
      ...(b.problem !== undefined ? { problem: b.problem } : {}),
    });
    const outcome = snap.routing.outcomes.find((o) => o.namespace === namespace && o.name === ing.metadata.name);
    const notServed = (reason: string): string => renderIngressRecord({ ...base, served: false, reason, paths: [], tls: [], nodes: [] });
    if (!isServedIngress(ing) || outcome === undefined) return notServed(`ingress class ${JSON.stringify(cls)} is not coxswain's: another controller's Ingress`);
    if (!this.servesIngresses()) return notServed("the operator serves no Ingresses: start it with --ingress-http-port and/or --ingress-https-port");
    const used = outcome.paths.some((p) => p.backend !== undefined) || outcome.defaultBackend?.backend !== undefined;
    return renderIngressRecord({
      ...base,
      served: used,
      ...(used ? {} : { reason: "none of its paths and no default backend of it is used" }),
      ...(outcome.defaultBackend !== undefined ? { defaultBackend: record(outcome.defaultBackend) } : {}),
      paths: outcome.paths.map((p) => ({ ...(p.host !== undefined ? { host: p.host } : {}), path: p.path, pathType: p.pathType, ...record(p) })),
      tls: outcome.tls.map((t) => ({ ...t, hosts: [...t.hosts] })),
      nodes: snap.nodes.map((n) => {
        const st = this.nodes.get(n.name);
        const ingress = st?.ingress;
        const serving = used && st !== undefined && st.error === undefined && st.config?.ingress !== undefined;
        const error = st?.error ? `${st.error.code}: ${st.error.message}` : ingress?.problem;
        return {
          node: n.name,
          ...(ingress?.http ? { http: ingress.http } : {}),
          ...(ingress?.https ? { https: ingress.https } : {}),
          serving,
          ...(error ? { error } : {}),
          ...(ingress?.note ? { note: ingress.note } : {}),
        };
      }),
    });
  }

  private record(spec: ServiceSpec, snap: Snapshot): string {
    const eps = snap.endpoints.get(`${spec.namespace}/${spec.name}`);
    const entry = (e: { pod: string; node: string; address: string; port: number }): ServiceEndpointRecord => ({ pod: e.pod, node: e.node, address: `${e.address}:${e.port}` });
    const key = `${spec.namespace}/${spec.name}`;
    const role = snap.roles.get(key);
    const route = snap.routes.get(key);
    const rec: ServiceRecord = {
      namespace: spec.namespace,
      name: spec.name,
      type: spec.headless ? `${spec.type} (headless)` : spec.type,
      ...(role !== undefined
        ? {
            rollout: {
              name: parseKey(role.rollout).name,
              role: role.role,
              ...(route === undefined ? {} : route.role === "split" ? { stable: route.stable, canary: route.canary, weight: route.weight } : { revision: route.revision }),
            },
          }
        : {}),
      ports: spec.ports.map((p) => {
        const list = eps?.ports.find((x) => x.port === p.port)?.endpoints ?? [];
        return {
          ...(p.name !== undefined ? { name: p.name } : {}),
          port: p.port,
          targetPort: p.targetPort,
          ...(p.nodePort !== undefined ? { nodePort: p.nodePort } : {}),
          ready: list.filter((e) => e.ready && !e.terminating).map(entry),
          notReady: list.filter((e) => !e.ready && !e.terminating).map(entry),
          terminating: list.filter((e) => e.terminating).map(entry),
        };
      }),
      nodes: snap.nodes.map((n) => {
        const s = this.nodes.get(n.name);
        const address = spec.headless ? undefined : this.addresses(n, snap).get(`${spec.namespace}/${spec.name}`);
        const serving = s?.config !== undefined && servedServices(s.config).has(`${spec.namespace}/${spec.name}`) && !s.error;
        const bridge = spec.headless ? undefined : this.bridgeRecord(`${spec.namespace}/${spec.name}`, s);
        return { node: n.name, ...(address ? { address } : {}), serving, ...(s?.error ? { error: `${s.error.code}: ${s.error.message}` } : {}), ...(bridge ? { bridge } : {}) };
      }),
    };
    // Every proxy reconcile rewrites every Service's file: render YAML only for a record that changed.
    const path = servicePath(spec.namespace, spec.name);
    const json = JSON.stringify(rec);
    const last = this.rendered.get(path);
    if (last?.json === json) return last.text;
    const text = renderServiceRecord(rec);
    this.rendered.set(path, { json, text });
    return text;
  }

  /** How a bridge node serves the Service `key` by name (undefined for other nodes). */
  private bridgeRecord(key: string, s: NodeState | undefined): ServiceNodeRecord["bridge"] {
    const b = s?.bridge;
    if (b === undefined) return undefined;
    const address = b.addresses.get(key);
    const error = b.problem ?? b.errors.get(key) ?? (s!.error ? `${s!.error.code}: ${s!.error.message}` : undefined);
    const routed = s!.config?.bridge?.routes.some((r) => r.address === address) === true;
    return { ...(address !== undefined ? { address } : {}), serving: error === undefined && routed, ...(error !== undefined ? { error } : {}) };
  }

  private writeStatus(path: string, content: string | undefined): void {
    const folder = path.slice(0, path.indexOf("/") + 1);
    if (this.written.get(path) === content && (content !== undefined || !this.opts.statusFiles(folder).includes(path))) return;
    if (content === undefined) {
      this.written.delete(path);
      this.rendered.delete(path);
    } else this.written.set(path, content);
    this.opts.setStatusFile(path, content);
  }

  private serviceObjects(): Service[] {
    return (this.opts.desired.graph()?.ofKind("Service") ?? []).map((m) => m.object as Service);
  }

  private snapshot(): Snapshot {
    const nodes = this.opts.fleet.listNodes().map((n) => n.config);
    const specs = this.serviceObjects().map(toServiceSpec);
    const ingressPorts = this.ingressPorts();
    const services = withNodePorts(
      specs,
      nodes.map((n) => n.portRange),
      new Set(ingressPorts),
    );
    this.opts.fleet.setReservedHostPorts(
      reservedHostPorts(
        services,
        nodes.map((n) => n.portRange),
        ingressPorts,
      ),
    );
    const pods = this.opts.fleet.pods().map((p) => trafficPod(p, this.opts.fleet.nodeConfig(p.node)?.address ?? "127.0.0.1"));
    const graph = this.opts.desired.graph();
    const rollouts = (graph?.ofKind("Rollout") ?? []).map((m) => toRolloutServices(m.object as Rollout));
    const roles = rolloutServiceRoles(rollouts, services);
    const states = this.opts.traffic?.wanted(rollouts.map(rolloutKeyOf)) ?? new Map<string, RolloutTrafficState>();
    const routes = serviceRoutes(roles, states);
    const endpoints = allServiceEndpoints(services, pods, routes);
    const ingresses = (graph?.ofKind("Ingress") ?? []).map((m) => m.object as Ingress);
    ingresses.sort((a, b) => compareText(`${a.metadata.namespace ?? "default"}/${a.metadata.name}`, `${b.metadata.namespace ?? "default"}/${b.metadata.name}`));
    const keyPair = (namespace: string, name: string): TlsKeyPair | undefined => {
      const secret = graph?.get(makeKey("Secret", name, namespace))?.object as Secret | undefined;
      const cert = secret?.type === "kubernetes.io/tls" ? secretValue(secret, "tls.crt") : undefined;
      const key = secret?.type === "kubernetes.io/tls" ? secretValue(secret, "tls.key") : undefined;
      return cert !== undefined && key !== undefined ? { cert: cert.toString("utf8"), key: key.toString("utf8") } : undefined;
    };
    const routing = ingressRouting(ingresses.filter(isServedIngress).map(toIngressSpec), services, keyPair);
    const analyzed = (graph?.ofKind("Rollout") ?? [])
      .map((m) => m.object as Rollout)
      .filter((r) => r.spec.strategy.canary?.steps?.some((step) => step.analysis !== undefined) === true)
      .map((r) => ({ namespace: r.metadata.namespace ?? "default", labels: r.spec.template.metadata.labels ?? {} }));
    return { services, endpoints, nodes, ingresses, routing, roles, states, routes, analyzed: new Set(analyzedServices(services, analyzed)), addressCache: new Map() };
  }

  private async sessionsOf(n: NodeState, pod: string): Promise<number> {
    try {
      const stats = await n.proxy.stats();
      // A listener's slot, and the same slot of its ingress backend.
      const servers = new Set(
        n.applied?.listeners.flatMap((l) =>
          l.slots.flatMap((slot, i) => (slot.server?.startsWith(`${pod}:`) ? [l.name, ...(l.ingressBackend !== undefined ? [l.ingressBackend] : [])].map((section) => `${section}/s${i + 1}`) : [])),
        ),
      );
      return stats.filter((s) => s.server !== undefined && servers.has(`${s.backend}/${s.server}`)).reduce((sum, s) => sum + s.currentSessions, 0);
    } catch {
      return 0; // a proxy that does not answer holds no request of ours we could wait for
    }
  }
}

/** The pod as traffic sees it: its template labels, its node's address and its assigned ports. */
function trafficPod(p: ObservedPod, address: string): TrafficPod {
  let labels: Record<string, string> = {};
  try {
    labels = JSON.parse(p.containers[0]?.labels[LABELS.podLabels] ?? "{}") as Record<string, string>;
  } catch {
    // a pod whose labels cannot be read selects nothing
  }
  return {
    namespace: p.namespace,
    name: p.name,
    node: p.node,
    labels,
    address,
    ports: p.ports.map((x) => ({ ...(x.name !== undefined ? { name: x.name } : {}), containerPort: x.containerPort, hostPort: x.hostPort, protocol: x.protocol })),
    ready: p.ready,
    terminating: p.phase === "Terminating",
    owner: p.owner,
    revision: p.revision,
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
