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
 * Nothing happens before the head commit was read once (DesiredView.ready), and nothing of a commit that
 * did not validate reaches a proxy: the desired graph is the applied one.
 */
import { toCoxError, type CoxError } from "../../api/errors.js";
import { parseKey, type Service } from "../../api/objects.js";
import type { ReconcileResult } from "../../engine/queue.js";
import { LABELS } from "../../runtime/labels.js";
import type { Fleet, NodeConfig, ObservedPod } from "../../runtime/fleet.js";
import type { NodeProxy, ProxyFactory } from "../../runtime/proxy/index.js";
import { renderServiceRecord, servicePath, type ServiceEndpointRecord } from "../../status/services.js";
import { allocateServiceAddresses, assignedNodePorts, DEFAULT_SERVICE_NETWORK, withNodePorts } from "../../traffic/addresses.js";
import { serviceEndpoints } from "../../traffic/endpoints.js";
import { proxyEdits, renderHaproxy, type RenderedState } from "../../traffic/haproxy.js";
import { proxyConfig } from "../../traffic/proxy.js";
import { toServiceSpec } from "../../traffic/spec.js";
import type { ProxyConfig, ServiceEndpoints, ServiceSpec, TrafficPod } from "../../traffic/types.js";
import type { DesiredView } from "../types.js";

/** The key that makes the service controller look at every Service (and every proxy) again, e.g. after a new commit. */
export const SERVICES_KEY = "Service/*";

/** The key prefix of node proxies ("Proxy/<node>"). */
export const PROXY_PREFIX = "Proxy";

/** Options of the service controller. */
export interface ServiceControllerOptions {
  desired: DesiredView;
  fleet: Fleet;
  /** The proxy of a node, made on first use (an effect: it starts nothing until the first apply). */
  proxyFor: ProxyFactory;
  /** Writes (or, with undefined, removes) a status file. */
  setStatusFile(path: string, content: string | undefined): void;
  /** Paths of the status files under a prefix (read back after a restart too), to remove those of Services gone meanwhile. */
  statusFiles(prefix: string): string[];
  /** Queues a key on the operator's work queue. */
  enqueue(key: string): void;
  log?: (line: string) => void;
}

interface NodeState {
  proxy: NodeProxy;
  /** The configuration the proxy runs (undefined: nothing applied yet, or a change failed midway: reload next). */
  applied?: RenderedState;
  /** The last configuration applied, for beforeStop and the status files. */
  config?: ProxyConfig;
  /** When the observed state was read that the proxy now runs (epoch ms): beforeStop waits for one after the pod left. */
  appliedAt?: number;
  error?: CoxError;
}

/** Everything one reconcile needs, computed from the desired graph and the observed fleet. */
interface Snapshot {
  services: ServiceSpec[];
  endpoints: Map<string, ServiceEndpoints>;
  nodes: NodeConfig[];
}

/** How often beforeStop looks at the proxies' counters while a leaving pod finishes its requests. */
const DRAIN_POLL_MS = 100;

/** Reconciles Services and node proxies; see the module comment. */
export class ServiceController {
  private readonly nodes = new Map<string, NodeState>();
  /** The status file last written per Service path, to write only what changed. */
  private readonly written = new Map<string, string>();

  constructor(private readonly opts: ServiceControllerOptions) {}

  /** One reconcile of "Service/<ns>/<name>" or "Proxy/<node>". */
  async reconcile(key: string): Promise<ReconcileResult | void> {
    if (!this.opts.desired.graph() || this.opts.desired.ready?.() === false) return;
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

  /** Pods of these owners changed: their Services' endpoints may have. */
  podsChanged(owners: readonly string[]): void {
    const namespaces = new Set(owners.map((o) => parseKey(o).namespace ?? "default"));
    for (const s of this.serviceObjects()) if (namespaces.has(s.metadata.namespace ?? "default")) this.opts.enqueue(`Service/${s.metadata.namespace ?? "default"}/${s.metadata.name}`);
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
    const state = this.nodes.get(nodeName);
    if (!node) {
      // The node left the fleet: its proxy goes with it.
      if (state) {
        this.nodes.delete(nodeName);
        await state.proxy.close().catch((err: unknown) => this.opts.log?.(`proxy of ${nodeName}: ${toCoxError(err).message}`));
      }
      return;
    }
    if (snap.services.every((s) => s.headless) && !state) return; // nothing to serve yet: start no proxy
    const s = state ?? { proxy: this.opts.proxyFor(node) };
    this.nodes.set(nodeName, s);
    const config = this.nodeConfig(node, snap);
    try {
      let edits = proxyEdits(s.applied, config, {});
      if (!edits.reload && edits.commands.length > 0 && s.proxy.runtimeApi === false) {
        // This proxy takes whole configurations only: the same change as a (hitless) reload.
        const whole = renderHaproxy(config, s.applied ? { previous: s.applied } : {});
        edits = { reload: true, ...whole };
      }
      if (edits.reload) await s.proxy.apply({ reload: true, text: edits.text });
      else if (edits.commands.length > 0) await s.proxy.apply({ reload: false, commands: edits.commands });
      const before = new Set(s.config?.listeners.map((l) => l.key));
      s.applied = edits.state;
      s.config = config;
      s.appliedAt = takenAt;
      // Say once where each new listener answers: that is the address a person tries first.
      for (const l of config.listeners) {
        if (before.has(l.key)) continue;
        const at = l.binds.map((b) => `${l.mode === "http" ? "http://" : ""}${b.address}:${b.port}${l.mode === "http" ? "/" : ""}`).join(" and ");
        this.opts.log?.(`Service ${l.key} is served on node ${nodeName} at ${at}`);
      }
      if (s.error) this.opts.log?.(`proxy of ${nodeName} serves again`);
      delete s.error;
    } catch (err) {
      const e = toCoxError(err);
      if (s.error?.code !== e.code || s.error.message !== e.message) this.opts.log?.(`proxy of ${nodeName}: ${e.code}: ${e.message}`);
      s.error = e;
      // A runtime edit may have been half applied: the next attempt reloads the whole configuration.
      delete s.applied;
      this.statusOfAll(snap);
      throw e;
    }
    this.statusOfAll(snap);
  }

  private nodeConfig(node: NodeConfig, snap: Snapshot): ProxyConfig {
    return proxyConfig(
      { name: node.name, address: node.address, serviceNetworkAddresses: this.addresses(node, snap.services) },
      snap.services,
      [...snap.endpoints.values()],
    );
  }

  private addresses(node: NodeConfig, services: readonly ServiceSpec[]): Map<string, string> {
    return allocateServiceAddresses(
      node.serviceNetwork ?? DEFAULT_SERVICE_NETWORK,
      services.filter((s) => !s.headless).map((s) => `${s.namespace}/${s.name}`),
    );
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
  }

  private record(spec: ServiceSpec, snap: Snapshot): string {
    const eps = snap.endpoints.get(`${spec.namespace}/${spec.name}`);
    const entry = (e: { pod: string; node: string; address: string; port: number }): ServiceEndpointRecord => ({ pod: e.pod, node: e.node, address: `${e.address}:${e.port}` });
    return renderServiceRecord({
      namespace: spec.namespace,
      name: spec.name,
      type: spec.headless ? `${spec.type} (headless)` : spec.type,
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
        const address = spec.headless ? undefined : this.addresses(n, snap.services).get(`${spec.namespace}/${spec.name}`);
        const serving = s?.config?.listeners.some((l) => l.key.startsWith(`${spec.namespace}/${spec.name}:`)) === true && !s.error;
        return { node: n.name, ...(address ? { address } : {}), serving, ...(s?.error ? { error: `${s.error.code}: ${s.error.message}` } : {}) };
      }),
    });
  }

  private writeStatus(path: string, content: string | undefined): void {
    if (this.written.get(path) === content && (content !== undefined || !this.opts.statusFiles("services/").includes(path))) return;
    if (content === undefined) this.written.delete(path);
    else this.written.set(path, content);
    this.opts.setStatusFile(path, content);
  }

  private serviceObjects(): Service[] {
    return (this.opts.desired.graph()?.ofKind("Service") ?? []).map((m) => m.object as Service);
  }

  private snapshot(): Snapshot {
    const nodes = this.opts.fleet.listNodes().map((n) => n.config);
    const specs = this.serviceObjects().map(toServiceSpec);
    const services = withNodePorts(specs, nodes.map((n) => n.portRange));
    this.opts.fleet.setReservedHostPorts(assignedNodePorts(services));
    const pods = this.opts.fleet.pods().map((p) => trafficPod(p, this.opts.fleet.nodeConfig(p.node)?.address ?? "127.0.0.1"));
    const endpoints = new Map(services.map((s) => [`${s.namespace}/${s.name}`, serviceEndpoints(s, pods)]));
    return { services, endpoints, nodes };
  }

  private async sessionsOf(n: NodeState, pod: string): Promise<number> {
    try {
      const stats = await n.proxy.stats();
      const servers = new Set(n.applied?.listeners.flatMap((l) => l.slots.map((slot, i) => (slot.server?.startsWith(`${pod}:`) ? `${l.name}/s${i + 1}` : ""))).filter(Boolean));
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
  };
}

function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}
