/**
 * The fleet: every node's runtime and the observed state of all coxswain containers on them, grouped into
 * pods. This is coxswain's informer cache: it is filled by listing each runtime (at start, on the
 * runtime's change events and on a poll) and written through by our own creates and deletes, so that a
 * reconcile reads a consistent picture without calling every engine.
 *
 * Guarantees:
 * - Observed state is derived only from the runtimes (container labels) plus in-flight facts of this
 *   process (pods being created or stopped, probe results). Nothing is persisted; after a restart the
 *   same picture is rebuilt by listing.
 * - Reservations ("assume"): `reserve` records a placement synchronously, so that the next scheduling
 *   decision counts it even though the container does not exist yet.
 * - Listeners get the owner keys (e.g. "Deployment/default/web") whose pods changed, never raw events.
 */
import { toCoxError } from "../api/errors.js";
import type { Logger } from "../api/log.js";
import type { NodeSnapshot, Resources } from "../scheduler/types.js";
import { LABELS } from "./labels.js";
import { Kubelet, type PodHealth } from "./kubelet.js";
import { runProbe, type ProbeOutcome, type ProbeTarget } from "./probe.js";
import type { ContainerLaunch, NodeRuntime, ObservedContainer } from "./types.js";
import { ClaimBindings } from "./fleet/claims.js";
import { checkHeartbeats, type HeartbeatFleet, observedNodes, returned, unlistedNodes } from "./fleet/heartbeats.js";
import { keepUnchanged, sameElements } from "./fleet/listing.js";
import { applyNodeConfigs, type MembershipFleet } from "./fleet/membership.js";
import { byRuntimeName, signature, toPod } from "./fleet/pods.js";
import { Reservations } from "./fleet/reservations.js";
import { schedulerSnapshot } from "./fleet/scheduler-snapshot.js";
import { stopPod, type StopFleet } from "./fleet/stopping.js";
import { DEFAULT_FLEET_POLL_MS, type NodeConfig, type NodeEntry, type ObservedNode, type ObservedPod, type Reservation, type RuntimeFactory } from "./fleet/types.js";

export { podResources } from "./fleet/pods.js";
export { DEFAULT_FLEET_POLL_MS, type NodeConfig, type ObservedNode, type ObservedPod, type RuntimeFactory } from "./fleet/types.js";

/** Options of the fleet. */
export interface FleetOptions {
  runtimeFactory: RuntimeFactory;
  /** Re-list every node this often (ms). The source of truth when events are missed; also the heartbeat. */
  pollMs?: number;
  /** A node that has not answered for this long is NotReady (default 10 s; Kubernetes: 40 s). */
  nodeGraceMs?: number;
  /** Pods of a node NotReady for this long more are replaced elsewhere (default 30 s; Kubernetes: 300 s). */
  evictionTimeoutMs?: number;
  /** Probe executor (real sockets by default). */
  prober?: (target: ProbeTarget, timeoutMs: number) => Promise<ProbeOutcome>;
  /** Clock, for tests. */
  now?: () => number;
  /** Called with the owner keys whose pods changed, and with node names whose readiness changed. */
  onChange?: (change: { owners: string[]; nodes: string[] }) => void;
  /** Diagnostics (never secrets). */
  log?: Logger;
  /**
   * Runs when a pod starts terminating, before any of its containers gets SIGTERM: the traffic manager
   * takes the pod out of every proxy and lets its in-flight requests finish (then a preStop hook would
   * run). It counts against the pod's grace period, as a preStop hook does in Kubernetes: at most
   * `budgetMs` is waited for it, and what it leaves of the grace period goes to stop().
   */
  beforeStop?: (pod: ObservedPod, budgetMs: number) => Promise<void>;
}

/** The observed state of every node, with scheduling reservations and readiness probing. */
export class Fleet {
  private readonly nodes = new Map<string, NodeEntry>();
  private readonly reservations = new Reservations();
  private readonly claims: ClaimBindings;
  private readonly terminating = new Set<string>();
  /** Failed deletions in a row per pod (deletePod's back-off), and the timers that end each wait. */
  private readonly deleteFailures = new Map<string, number>();
  private readonly deleteRetries = new Set<NodeJS.Timeout>();
  private readonly kubelet: Kubelet;
  /** Each observed pod's last decorated copy and what it was decorated with (see decorate); dropped with the pod. */
  private readonly decorated = new WeakMap<ObservedPod, { terminating: boolean; health: PodHealth | undefined; pod: ObservedPod }>();
  /** What the fleet's parts (fleet/heartbeats.ts, fleet/membership.ts, fleet/stopping.ts) take of it. */
  private readonly parts: HeartbeatFleet & MembershipFleet & StopFleet;
  private readonly opts: Required<Omit<FleetOptions, "onChange" | "log" | "beforeStop">> & Pick<FleetOptions, "onChange" | "log" | "beforeStop">;
  private pollTimer?: NodeJS.Timeout;
  private healthTimer?: NodeJS.Timeout;
  private closed = false;

  constructor(opts: FleetOptions) {
    this.opts = {
      pollMs: DEFAULT_FLEET_POLL_MS,
      nodeGraceMs: 10_000,
      evictionTimeoutMs: 30_000,
      prober: runProbe,
      now: Date.now,
      ...opts,
    };
    this.kubelet = new Kubelet({
      runtimeOf: (node) => this.nodes.get(node)?.runtime,
      addressOf: (node) => this.nodes.get(node)?.config.address,
      busy: (pod) => this.terminating.has(pod) || this.reservations.byPod.has(pod),
      nodeReady: (node) => this.nodes.get(node)?.ready === true,
      changed: (owner) => this.emit([owner], []),
      relist: (node) => {
        const e = this.nodes.get(node);
        if (e) this.scheduleRelist(e);
      },
      prober: (target, timeoutMs) => this.opts.prober(target, timeoutMs),
      now: () => this.opts.now(),
      ...(this.opts.log ? { log: this.opts.log } : {}),
    });
    this.claims = new ClaimBindings(this.nodes);
    this.parts = {
      nodes: this.nodes,
      claimBindings: this.claims.claimBindings,
      terminating: this.terminating,
      deleteFailures: this.deleteFailures,
      deleteRetries: this.deleteRetries,
      rebuildPods: (e) => this.rebuildPods(e),
      opts: this.opts,
      emit: (owners, nodes) => this.emit(owners, nodes),
      ownersOn: (entries) => this.ownersOn(entries),
      deletePod: (pod, graceSeconds) => this.deletePod(pod, graceSeconds),
      decorate: (p) => this.decorate(p),
      refreshEntry: (e) => this.refreshEntry(e),
      scheduleRelist: (e) => this.scheduleRelist(e),
    };
  }

  /** Starts polling and probing. Call setNodes first. */
  start(): void {
    this.pollTimer = setInterval(() => {
      void this.refreshAll();
      this.checkHealth();
    }, this.opts.pollMs);
    this.healthTimer = setInterval(() => {
      if (!this.closed) this.kubelet.evaluate();
    }, 100);
    this.pollTimer.unref?.();
    this.healthTimer.unref?.();
  }

  /** Stops timers and closes runtimes. Containers keep running. */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.pollTimer);
    clearInterval(this.healthTimer);
    for (const t of this.deleteRetries) clearTimeout(t);
    this.deleteRetries.clear();
    for (const n of this.nodes.values()) {
      clearTimeout(n.debounce);
      n.unwatch?.();
      await n.runtime.close().catch(() => undefined);
    }
  }

  /**
   * Makes the fleet's nodes be exactly `configs`, plus the `leaving` ones: new nodes are connected and
   * listed, changed ones are updated in place (a changed endpoint reconnects), removed ones are closed.
   * A node of the fleet named in `leaving` and not in `configs` stays, cordoned and draining (its config
   * with `drain: true`, ObservedNode.leaving) until a later call leaves it out; one back in `configs`
   * stops leaving. Returns the names of removed nodes, whose pods the caller must move.
   */
  setNodes(configs: readonly NodeConfig[], leaving: readonly string[] = []): Promise<string[]> {
    return applyNodeConfigs(this.parts, configs, leaving);
  }

  /** Re-lists every node now. */
  async refreshAll(): Promise<void> {
    if (this.closed) return;
    await Promise.all([...this.nodes.values()].map((e) => this.refreshEntry(e)));
  }

  /** Re-lists one node now. */
  async refresh(node: string): Promise<void> {
    const e = this.nodes.get(node);
    if (e) await this.refreshEntry(e);
  }

  /**
   * The heartbeat check (fleet/heartbeats.ts): a node silent past the grace period is NotReady, past the
   * eviction timeout too its pods are left out of pods(). Runs on every poll; callable from tests.
   */
  checkHealth(): void {
    checkHeartbeats(this.parts);
  }

  /** Nodes, sorted by name. */
  listNodes(): ObservedNode[] {
    return observedNodes(this.nodes);
  }

  /**
   * Nodes whose pods are unknown: never listed since they joined (e.g. down when the operator started)
   * and not yet evicted. Decisions that create pods wait for them, or they could duplicate pods that run
   * there; after the eviction timeout they count as lost like any NotReady node. Sorted.
   */
  unknownNodes(): string[] {
    return unlistedNodes(this.nodes);
  }

  /** The node a claim ("namespace/name") is bound to, undefined while unbound (fleet/claims.ts). */
  claimNode(claim: string): string | undefined {
    return this.claims.claimNode(claim);
  }

  /** Binds an unbound claim to `node`; a bound claim keeps its node. */
  bindClaim(claim: string, node: string): void {
    this.claims.bindClaim(claim, node);
  }

  /** Records bindings known from elsewhere (the status branch, after a restart), unless the claim is bound already. */
  seedClaims(bindings: Readonly<Record<string, string>>): void {
    this.claims.seedClaims(bindings);
  }

  /** Every claim storage the nodes hold, by claim then node. */
  claimVolumes(): { claim: string; node: string; volume: string }[] {
    return this.claims.claimVolumes();
  }

  /** Removes a claim's storage on `node` and forgets its binding there (errors: fleet/claims.ts). */
  removeClaimData(claim: string, node: string): Promise<void> {
    return this.claims.removeClaimData(claim, node);
  }

  /** The configuration of one node. */
  nodeConfig(name: string): NodeConfig | undefined {
    return this.nodes.get(name)?.config;
  }

  /** The runtime of one node (for effects the fleet does not wrap). */
  runtimeOf(name: string): NodeRuntime | undefined {
    return this.nodes.get(name)?.runtime;
  }

  /** Observed pods, optionally of one owner, sorted by name. Includes pods being stopped (phase Terminating). */
  pods(owner?: string): ObservedPod[] {
    const out: ObservedPod[] = [];
    for (const e of this.nodes.values()) {
      if (e.evicted) continue; // lost until the node answers again; then its stale pods are removed
      for (const p of e.pods.values()) if (owner === undefined || p.owner === owner) out.push(this.decorate(p));
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  /** Owner keys of every observed pod, sorted (to find workloads that are no longer desired). */
  owners(): string[] {
    const s = new Set<string>();
    for (const e of this.nodes.values()) for (const p of e.pods.values()) s.add(p.owner);
    return [...s].sort();
  }

  /**
   * Every pod name in use, of any owner: observed on any node (an evicted node's too, whose pods come back
   * to be removed by name), being stopped, or reserved and not yet created. A new pod must take a name
   * outside this set: pods, reservations and stops are keyed by name across the fleet.
   */
  podNames(): Set<string> {
    const names = new Set<string>(this.reservations.byPod.keys());
    for (const n of this.terminating) names.add(n);
    for (const e of this.nodes.values()) for (const n of e.pods.keys()) names.add(n);
    return names;
  }

  /** Pods being created right now (reserved, not yet observed) per owner. */
  pendingCreates(owner: string): number {
    let n = 0;
    for (const r of this.reservations.byPod.values()) if (r.owner === owner) n++;
    return n;
  }

  /**
   * The scheduler's view: every ready node with what is requested on it, counting reservations.
   * Nodes that did not answer their last listing are left out (a pod cannot be placed there).
   */
  schedulerSnapshot(forPriority = Number.POSITIVE_INFINITY, forOwner?: string): NodeSnapshot[] {
    return schedulerSnapshot(this.nodes, this.reservations, this.terminating, this.opts.now(), forPriority, forOwner);
  }

  /**
   * Records a placement before the pod exists and assigns its host ports (lowest free in the node's
   * range). Synchronous on purpose: schedule → reserve must not interleave with another reconcile.
   * Throws when the node is unknown or has too few free ports (the scheduler filters those, so this is
   * a bug guard).
   */
  reserve(r: Omit<Reservation, "ports"> & { portCount: number; fixedPorts?: readonly number[] }): number[] {
    return this.reservations.reserve(this.nodes.get(r.node), r);
  }

  /**
   * Holds room on `node` for a preempting workload's pod (until it is placed there, or for 60 s): lower
   * priority pods do not see that room. Replaces an earlier nomination of the owner.
   */
  nominate(owner: string, n: { node: string; priority: number; requests: Resources; requestsForScoring: Resources }): void {
    this.reservations.nominations.set(owner, { ...n, expiresAt: this.opts.now() + 60_000 });
  }

  /** Ends a nomination (the preemptor was placed). */
  clearNomination(owner: string): void {
    this.reservations.nominations.delete(owner);
  }

  /** Drops a reservation (the create failed or was abandoned). */
  release(pod: string): void {
    this.reservations.byPod.delete(pod);
  }

  /**
   * Creates and starts the containers of a reserved pod, in order. On failure the containers created so
   * far are removed and the error is thrown; the reservation is released either way. The new containers
   * are in the cache when this resolves.
   */
  async createPod(pod: string, node: string, launches: readonly ContainerLaunch[]): Promise<void> {
    const e = this.nodes.get(node);
    if (!e) {
      this.release(pod);
      throw new Error(`createPod on unknown node ${node}`);
    }
    const created: ObservedContainer[] = [];
    try {
      for (const launch of launches) {
        const c = await e.runtime.run(launch);
        this.kubelet.willStart(c.id); // its postStart hook runs once the pod is no longer being created
        created.push(c);
        e.containers = [...e.containers.filter((x) => x.id !== c.id), c];
        e.writtenDuringListing?.created.add(c.id);
      }
    } catch (err) {
      for (const c of created) await e.runtime.remove(c.id).catch(() => undefined);
      e.containers = e.containers.filter((x) => !created.some((c) => c.id === x.id));
      for (const c of created) e.writtenDuringListing?.removed.add(c.id);
      throw toCoxError(err);
    } finally {
      this.release(pod);
      this.rebuildPods(e);
    }
    // What run() returned was observed before it returned; a container that exited at once may already
    // have been listed as exited by a refresh that our assignment above just overwrote. Listing again
    // makes the engine's word the last one (otherwise a crash-looping pod could look ready until the
    // next poll, long enough to be called stable).
    await this.refreshEntry(e);
  }

  /**
   * Stops (SIGTERM, grace, SIGKILL) and removes every container of a pod, in the background. The pod is
   * Terminating at once; it leaves the cache when its containers are gone. Errors are logged and the pod
   * stays Terminating for a back-off (DELETE_BACKOFF in fleet/stopping.ts, growing with each failure of that pod) before it
   * becomes a normal pod again, which the next reconcile deletes again: a stop that fails at once (a
   * container already gone, an engine refusing) is never retried in a tight loop, and the node's next
   * listing meanwhile shows what really is there.
   */
  deletePod(pod: ObservedPod, graceSeconds: number): void {
    stopPod(this.parts, pod, graceSeconds);
  }

  /** Starts a stopped container of a pod again (restart in place) and re-lists its node. */
  async restartContainer(pod: ObservedPod, containerId: string): Promise<void> {
    const e = this.nodes.get(pod.node);
    if (!e) return;
    this.kubelet.willStart(containerId);
    await e.runtime.start(containerId);
    await this.refreshEntry(e);
  }

  /** Resolves when no pod is being stopped any more (for tests and shutdown). */
  async settled(timeoutMs = 60_000): Promise<void> {
    const deadline = this.opts.now() + timeoutMs;
    while ((this.terminating.size > 0 || this.reservations.byPod.size > 0) && this.opts.now() < deadline) {
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /**
   * Host ports kept out of pod assignment on every node: the Services' nodePorts, where each node's proxy
   * listens. Pods that already hold one keep it (the proxy then reports the bind as failed on that node).
   */
  setReservedHostPorts(ports: Iterable<number>): void {
    this.reservations.hostPorts = new Set(ports);
  }

  private scheduleRelist(e: NodeEntry): void {
    clearTimeout(e.debounce);
    e.debounce = setTimeout(() => void this.refreshEntry(e), 50);
    e.debounce.unref?.();
  }

  /**
   * Lists one node: resolves when a listing begun after this call has ended (the one under way may have
   * begun before what the caller wants listed). Calls share listings: while one runs, every call made
   * meanwhile waits for the single next one. A caller never waits for more than that — on an engine that
   * hangs, the polls keep asking for listings for as long as it hangs, and a create that waited for the
   * listings to stop waited for the engine to come back.
   */
  private refreshEntry(e: NodeEntry): Promise<void> {
    if (!e.nextListing) {
      let done!: () => void;
      const promise = new Promise<void>((resolve) => (done = resolve));
      e.nextListing = { promise, done };
    }
    const mine = e.nextListing.promise;
    if (!e.listing) e.listing = this.listLoop(e);
    return mine;
  }

  /** Runs listings while calls ask for one (refreshEntry); ends, in the same step as its last check, when none does. */
  private async listLoop(e: NodeEntry): Promise<void> {
    try {
      while (e.nextListing !== undefined && !this.closed && !e.removed) {
        const asked = e.nextListing;
        delete e.nextListing;
        try {
          await this.listOnce(e);
        } finally {
          asked.done();
        }
      }
    } finally {
      e.listing = undefined;
      // Closed or removed: nothing more is listed; nobody waits for it.
      e.nextListing?.done();
      delete e.nextListing;
    }
  }

  /** One listing of a node: the containers, images and claims, and what follows for its health. */
  private async listOnce(e: NodeEntry): Promise<void> {
    const wasReady = e.ready;
    /** When the listing began; the kubelet confirms runs without probes by it. */
    let listedAt: number | undefined;
    let claimsChanged = false;
    e.askedAt = this.opts.now();
    const written = { created: new Set<string>(), removed: new Set<string>() };
    e.writtenDuringListing = written;
    try {
      if (!e.info || !e.ready) e.info = await e.runtime.connect();
      listedAt = this.opts.now();
      const [answer, images, claims] = await Promise.all([e.runtime.list(), e.runtime.images().catch(() => e.images), e.runtime.claims ? e.runtime.claims().catch(() => e.claims) : Promise.resolve(e.claims)]);
      if (e.removed) return;
      const containers = keepUnchanged(e.containers, answer);
      e.images = [...images].sort();
      if (JSON.stringify(claims) !== JSON.stringify(e.claims)) {
        e.claims = claims;
        claimsChanged = true;
      }
      // What was created meanwhile and is still in the cache stays (a failed create took its own out); what
      // was removed meanwhile stays out.
      const listed = new Set(containers.map((c) => c.id));
      const kept = e.containers.filter((c) => written.created.has(c.id) && !listed.has(c.id));
      const current = written.removed.size > 0 ? containers.filter((c) => !written.removed.has(c.id)) : containers;
      e.containers = kept.length > 0 ? [...current, ...kept] : current;
      if (kept.length > 0 || current.length !== containers.length) listedAt = undefined; // not all of one listing
      e.ready = true;
      e.listedOnce = true;
      e.lastSeenAt = this.opts.now();
      delete e.error;
    } catch (err) {
      e.ready = false;
      e.error = toCoxError(err, "NodeUnreachable");
      listedAt = undefined; // the containers are the previous listing's
    } finally {
      delete e.askedAt;
      delete e.writtenDuringListing;
    }
    this.rebuildPods(e, listedAt);
    if (e.ready && e.evicted) returned(this.parts, e);
    else if (e.ready && e.condition === "NotReady") this.checkHealth();
    if ((wasReady !== e.ready || claimsChanged) && this.nodes.get(e.config.name) === e) this.emit([], [e.config.name]);
  }

  /**
   * Regroups a node's containers into pods and tells listeners which owners' pods changed. `listedAt`:
   * the containers are exactly a listing begun then (not merged with a create's answer).
   */
  private rebuildPods(e: NodeEntry, listedAt?: number): void {
    if (sameElements(e.containers, e.podsFrom)) {
      // The very containers the pods were built from, in the same order: the same pods (a relisting that
      // changed nothing, see keepUnchanged); the kubelet still learns when they were listed.
      if (!e.removed) this.kubelet.observe(e.config.name, e.pods, listedAt);
      return;
    }
    const before = e.pods;
    const byPod = new Map<string, ObservedContainer[]>();
    for (const c of e.containers) {
      const pod = c.labels[LABELS.pod];
      if (!pod) continue;
      const list = byPod.get(pod) ?? [];
      list.push(c);
      byPod.set(pod, list);
    }
    const after = new Map<string, ObservedPod>();
    for (const [name, containers] of byPod) {
      containers.sort(byRuntimeName);
      // A pod whose containers are the very objects it was built from is the same pod: a create or a
      // stop rebuilds one node's pods, and building every other pod again made a large scale-up quadratic.
      const prev = before.get(name);
      const same = prev !== undefined && prev.containers.length === containers.length && prev.containers.every((c, i) => c === containers[i]);
      after.set(name, same ? prev : toPod(e, name, containers));
    }
    e.pods = after;
    e.podsFrom = e.containers;
    if (!e.removed) this.kubelet.observe(e.config.name, after, listedAt);
    const changed = new Set<string>();
    for (const [name, p] of after) {
      const prev = before.get(name);
      if (!prev || (prev !== p && signature(prev) !== signature(p))) changed.add(p.owner);
    }
    for (const [name, p] of before) if (!after.has(name)) changed.add(p.owner);
    if (changed.size > 0 && this.nodes.get(e.config.name) === e) this.emit([...changed], []);
  }

  private ownersOn(entries: readonly NodeEntry[]): string[] {
    const owners = new Set<string>();
    for (const e of entries) for (const p of e.pods.values()) owners.add(p.owner);
    return [...owners];
  }

  /**
   * Adds what only this process knows: terminating, and health (readiness, restarts) from the kubelet.
   * A pod whose observed object, terminating and health are what they were at its last read is the very
   * object that read returned (frozen): controllers read every pod of an owner on each reconcile, and a
   * copy of each pod per read was most of what the operator allocated while it brought 1,000 pods up.
   */
  private decorate(p: ObservedPod): ObservedPod {
    const terminating = this.terminating.has(p.name);
    const health = terminating ? undefined : this.kubelet.podHealth(p.name);
    const last = this.decorated.get(p);
    if (last !== undefined && last.terminating === terminating && sameHealth(last.health, health)) return last.pod;
    const pod = Object.freeze(decorated(p, terminating, health));
    this.decorated.set(p, { terminating, health, pod });
    return pod;
  }

  private emit(owners: string[], nodes: string[]): void {
    if (this.closed || (owners.length === 0 && nodes.length === 0)) return;
    this.opts.onChange?.({ owners: [...new Set(owners)].sort(), nodes: [...new Set(nodes)].sort() });
  }
}

/** `p` as this process sees it: terminating, or with the kubelet's health (see Fleet.decorate). */
function decorated(p: ObservedPod, terminating: boolean, h: PodHealth | undefined): ObservedPod {
  const out: ObservedPod = { ...p };
  if (terminating) {
    out.phase = "Terminating";
    out.ready = false;
    delete out.readySince;
    return out;
  }
  if (!h) return out;
  out.restartCount = Math.max(out.restartCount, h.restartCount);
  out.crashLooping = h.crashLooping;
  out.ready = h.ready && p.phase === "Running";
  if (out.ready && h.readySince !== undefined) out.readySince = h.readySince;
  if (h.firstReadyAt !== undefined) out.firstReadyAt = h.firstReadyAt;
  if (!out.ready) {
    out.reason = h.reason;
    if (h.message) out.message = h.message;
  }
  return out;
}

/** Two healths that decorate the same pod alike: every field equal (both absent counts as equal). */
function sameHealth(a: PodHealth | undefined, b: PodHealth | undefined): boolean {
  if (a === undefined || b === undefined) return a === b;
  return (
    a.ready === b.ready && a.readySince === b.readySince && a.firstReadyAt === b.firstReadyAt && a.restartCount === b.restartCount && a.crashLooping === b.crashLooping && a.reason === b.reason && a.message === b.message
  );
}
