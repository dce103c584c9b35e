/**
 * The kubelet's share of coxswain: per container, the health state machine (runtime/health.ts) fed with
 * what the runtime reports and with probe results, and the effects it asks for — run probes (readiness,
 * liveness, startup; httpGet, tcpSocket, grpc, exec), stop a container whose liveness or startup probe failed,
 * restart exited containers in place with the crash-loop back-off, as the pod's restartPolicy allows.
 *
 * Guarantees:
 * - Everything it needs is on the container: the probes are in its labels (resolved to host ports at
 *   create), the restart count comes from the runtime. After an operator restart the same decisions are
 *   rebuilt from a listing (health.ts observeContainer).
 * - One action at a time per container; a probe kind is never run twice at once for one container.
 * - It never touches a container of a pod that is being created or stopped (the fleet says which).
 * - Init containers (LABELS.init) run one at a time, in order: the kubelet starts one (podLaunches created
 *   the others without starting them) only when every init container before it has exited 0, and the
 *   pod's containers only when all have (or one of them has run before: the pod is initialized). How many there
 *   are is the pod's LABELS.initCount, not how many a listing shows: a view of the pod that lacks an init
 *   container waits for it (starts neither a later one nor the pod's containers). A failed
 *   init container is restarted with the crash-loop back-off; one that exited 0 is never started again,
 *   also after an operator restart, since its exit is on the engine (as the kubelet keeps the container).
 * - restartPolicy (LABELS.restartPolicy; absent: Always): Always restarts every exited container, OnFailure
 *   only one that exited non-zero (a container that exited 0 is done for good), Never none. A container
 *   created but never started is started whatever the policy (that is its first start, not a restart).
 * - postStart hooks run once per run that this process started (willStart): right after the start, before
 *   any probe, the container not ready meanwhile; a failed hook gets the container stopped, then restarted
 *   with the back-off. A run found already running (after an operator restart) is taken to have had its
 *   hook: the operator that started it ran it, as a restarted kubelet does not run it again either.
 */
import { backoffDelay, type Backoff } from "../api/backoff.js";
import { toCoxError } from "../api/errors.js";
import type { Logger } from "../api/log.js";
import {
  applyHealthEvent,
  awaitsListing,
  healthStatus,
  newHealthState,
  nextEvaluationAt,
  observeContainer,
  type HealthProbeParams,
  type HealthSpec,
  type HealthState,
  type HealthStatus,
  type ProbeKind,
} from "./health.js";
import { runHook, type HookLabel } from "./hooks.js";
import { LABELS } from "./labels.js";
import type { ProbeHttpHeader, ProbeOutcome, ProbeTarget } from "./probe.js";
import type { NodeRuntime, ObservedContainer } from "./types.js";

/** A probe as stored in a container's labels: the handler with its port resolved to the host port, and the thresholds. */
export interface ProbeLabel {
  type: "http" | "tcp" | "grpc" | "exec";
  /** Host port (http, tcp, grpc). */
  port?: number;
  /** grpc.service: the service asked about; absent asks about the whole server (""). */
  service?: string;
  path?: string;
  /** httpGet.host: address to connect to instead of the node's. */
  host?: string;
  scheme?: "HTTP" | "HTTPS";
  headers?: ProbeHttpHeader[];
  /** exec.command. */
  command?: string[];
  initialDelaySeconds: number;
  periodSeconds: number;
  timeoutSeconds: number;
  successThreshold: number;
  failureThreshold: number;
}

/** The liveness and startup probes label (LABELS.probes), with the pod's grace period for stops. */
export interface ProbesLabel {
  liveness?: ProbeLabel;
  startup?: ProbeLabel;
  /** terminationGracePeriodSeconds of the pod. */
  grace?: number;
}

/** Kubernetes' default terminationGracePeriodSeconds: what a pod gets when its spec sets none, or when its containers do not say. */
export const DEFAULT_GRACE_SECONDS = 30;

/**
 * A pod's own terminationGracePeriodSeconds, as its containers record it (LABELS.probes' grace): what stopping
 * the pod waits between SIGTERM and SIGKILL, as Kubernetes deletes a pod with its own grace period whoever
 * asks (a removed workload, a preemption, an old revision's pod). `fallback` when no container records a valid
 * one: pods made by versions that wrote the label only with probes.
 */
export function podGraceSeconds(pod: { containers: readonly { labels: Readonly<Record<string, string>> }[] }, fallback = DEFAULT_GRACE_SECONDS): number {
  let grace: number | undefined;
  for (const c of pod.containers) {
    const g = parse<ProbesLabel>(c.labels[LABELS.probes])?.grace;
    if (typeof g === "number" && Number.isInteger(g) && g >= 0) grace = Math.max(grace ?? 0, g);
  }
  return grace ?? fallback;
}

/** A pod's restartPolicy, as Kubernetes spells it. */
export type RestartPolicy = "Always" | "OnFailure" | "Never";

/** The restartPolicy a container's labels record (Always when absent or unknown). */
export function restartPolicyOf(labels: Readonly<Record<string, string>>): RestartPolicy {
  const v = labels[LABELS.restartPolicy];
  return v === "Never" || v === "OnFailure" ? v : "Always";
}

/** What the kubelet knows of one pod's health, summed over its containers. */
export interface PodHealth {
  ready: boolean;
  readySince?: number;
  /** First time this process saw the pod ready (for the pod start deadline). */
  firstReadyAt?: number;
  restartCount: number;
  /** Some container is waiting in crash-loop back-off. */
  crashLooping: boolean;
  /** Kubernetes-style reason of the least healthy container ("Running" when all are ready). */
  reason: string;
  message: string;
}

/** How the kubelet reaches the rest of the fleet. */
export interface KubeletHost {
  runtimeOf(node: string): NodeRuntime | undefined;
  /** The node's address, where http/tcp probes connect. */
  addressOf(node: string): string | undefined;
  /** True while a pod is being created or stopped by the fleet: hands off. */
  busy(pod: string): boolean;
  /** The node answers now (no action is tried on a node that does not). */
  nodeReady(node: string): boolean;
  /** The pod's owner changed health: reconcile it. */
  changed(owner: string): void;
  /** The container was started or stopped: re-list its node. */
  relist(node: string): void;
  prober(target: ProbeTarget, timeoutMs: number): Promise<ProbeOutcome>;
  now(): number;
  log?: Logger;
}

interface Tracked {
  node: string;
  pod: string;
  /** An init container's place in the pod's initContainers (LABELS.init). */
  init?: number;
  /** How many init containers the pod has (LABELS.initCount; absent on pods made before the label). */
  initCount?: number;
  owner: string;
  /** The pod's restartPolicy (LABELS.restartPolicy). */
  policy: RestartPolicy;
  container: ObservedContainer;
  state: HealthState;
  labels: { readiness?: ProbeLabel; liveness?: ProbeLabel; startup?: ProbeLabel; postStart?: HookLabel; grace: number };
  probing: Set<ProbeKind>;
  /** startedAt of the run whose postStart hook was taken care of (run, or taken as done). */
  hookHandled?: number;
  acting: boolean;
  /** No action before this time: after an action (let the listing catch up) or a failed one (backoff). */
  holdUntil: number;
  actionFailures: number;
  firstReadyAt?: number;
  lastSignature: string;
  /** The confirming listing (HealthStatus.listAt) already asked for, so that it is asked for once. */
  listAsked?: number;
  /** The periodic evaluate() looks at this container again from this time on (health.ts nextEvaluationAt). */
  evaluateAt: number;
  /** The observe() call that last saw the container listed (Kubelet.observations). */
  seenIn: number;
  /** The last decision worked out (healthStatus) and the state it was worked out from: see statusOf. */
  status?: HealthStatus;
  statusFrom?: HealthState;
}

/** What the kubelet reads of a listing: each pod's owner and containers. */
type PodListing = ReadonlyMap<string, { owner: string; containers: readonly ObservedContainer[] }>;

function parse<T>(text: string | undefined): T | undefined {
  if (!text) return undefined;
  try {
    return JSON.parse(text) as T;
  } catch {
    return undefined;
  }
}

function params(p: ProbeLabel | undefined): Partial<HealthProbeParams> | undefined {
  if (!p) return undefined;
  return {
    initialDelaySeconds: p.initialDelaySeconds,
    periodSeconds: p.periodSeconds,
    timeoutSeconds: p.timeoutSeconds,
    successThreshold: p.successThreshold,
    failureThreshold: p.failureThreshold,
  };
}

/**
 * How long a postStart hook may take before it counts as failed. The kubelet sets no limit (a hook that
 * never ends holds the container in ContainerCreating for good); coxswain ends the wait and restarts the
 * container, which keeps a hung hook visible in the restart count instead.
 */
const POST_START_TIMEOUT_MS = 5 * 60_000;

/** Retries of a failed stop or start of a container: 1 s doubling to 30 s, spread so nodes' retries differ. */
const ACTION_BACKOFF: Backoff = Object.freeze({ initialMs: 1_000, maxMs: 30_000, jitter: 0.2 });

/** Per-container health and its effects. */
export class Kubelet {
  private readonly tracked = new Map<string, Tracked>();
  /** Containers this process is starting: their next run gets its postStart hook. */
  private readonly startedHere = new Set<string>();
  // Indexes of `tracked` by node and by pod: a listing of one node and a pod's health touch only their own
  // containers, so creating the pods of a 10,000-replica workload one by one stays linear, not quadratic.
  private readonly byNode = new Map<string, Map<string, Tracked>>();
  private readonly byPod = new Map<string, Set<Tracked>>();
  /** Per node, the pods of its last observed listing, and its containers a listing can still change (awaitsListing). */
  private readonly lastListing = new Map<string, PodListing>();
  private readonly awaiting = new Map<string, Set<Tracked>>();
  /** observe() calls that took in a listing so far: Tracked.seenIn marks the containers each one showed. */
  private observations = 0;
  /** No container is due for the periodic evaluation before this time (the least evaluateAt, or earlier). */
  private nextDue = 0;

  constructor(private readonly host: KubeletHost) {}

  /**
   * Takes in a fresh listing of one node's pods (container lists grouped by pod): new containers are
   * tracked (their state rebuilt from what the runtime reports), gone ones forgotten. `listedAt` is when
   * the listing began (host clock); leave it out when the containers are not all from one listing (e.g.
   * a create's own answer merged in): only listings confirm a run without probes.
   */
  observe(node: string, pods: PodListing, listedAt?: number): void {
    if (this.lastListing.get(node) === pods) {
      // The very pods observed before (the fleet hands the same map over while no container changed): only
      // the "running" event of a listing can change a state now, and only of the containers awaiting it. An
      // idle operator relists every node every 2 s; going over every container of it each time was the
      // largest cost at rest (bench:idle).
      if (listedAt !== undefined) this.observeAgain(node, listedAt);
      return;
    }
    this.lastListing.set(node, pods);
    // Which tracked containers this listing shows, by a mark rather than a set of ids: while a node's pods are
    // created one by one, each create relists the node, and a set of every id per listing was garbage enough
    // to grow the heap of a 1,000-pod start-up (bench:idle).
    const mark = ++this.observations;
    const changed: Tracked[] = [];
    for (const [pod, { owner, containers }] of pods) {
      for (const c of containers) {
        let t = this.tracked.get(c.id);
        if (!t) {
          const readiness = parse<ProbeLabel>(c.labels[LABELS.readiness]);
          const probes = parse<ProbesLabel>(c.labels[LABELS.probes]) ?? {};
          const postStart = parse<HookLabel>(c.labels[LABELS.postStart]);
          if (!postStart) this.startedHere.delete(c.id);
          const spec: HealthSpec = postStart ? { postStart: true } : {};
          if (readiness) spec.readiness = params(readiness)!;
          if (probes.liveness) spec.liveness = params(probes.liveness)!;
          if (probes.startup) spec.startup = params(probes.startup)!;
          let state: HealthState;
          try {
            state = newHealthState(spec);
          } catch {
            state = newHealthState({});
          }
          const init = c.labels[LABELS.init] === undefined ? undefined : Number(c.labels[LABELS.init]);
          const initCount = c.labels[LABELS.initCount] === undefined ? undefined : Number(c.labels[LABELS.initCount]);
          t = {
            node,
            pod,
            ...(init !== undefined && Number.isInteger(init) ? { init } : {}),
            ...(initCount !== undefined && Number.isInteger(initCount) && initCount > 0 ? { initCount } : {}),
            owner,
            policy: restartPolicyOf(c.labels),
            container: c,
            state,
            labels: {
              ...(readiness ? { readiness } : {}),
              ...(probes.liveness ? { liveness: probes.liveness } : {}),
              ...(probes.startup ? { startup: probes.startup } : {}),
              ...(postStart ? { postStart } : {}),
              grace: probes.grace ?? DEFAULT_GRACE_SECONDS,
            },
            probing: new Set(),
            acting: false,
            holdUntil: 0,
            actionFailures: 0,
            lastSignature: "",
            evaluateAt: 0,
            seenIn: mark,
          };
          this.track(t);
        }
        t.seenIn = mark;
        t.container = c;
        if (this.setState(t, observeContainer(t.state, c, listedAt))) changed.push(t);
      }
    }
    const onNode = this.byNode.get(node);
    for (const t of onNode?.values() ?? []) if (t.seenIn !== mark) this.untrack(t);
    // The end of an init container lets the next container of its pod start: evaluate the whole pod.
    for (const t of [...changed]) {
      if (t.init === undefined) continue;
      for (const other of this.byPod.get(t.pod) ?? []) if (!changed.includes(other)) changed.push(other);
    }
    // Only the containers whose state this listing changed (observeContainer returns the same state
    // otherwise); the passing of time is the periodic evaluate()'s. Evaluating the whole fleet on every
    // listing made a large scale-up quadratic: each pod created re-lists its node.
    this.evaluateAll(changed);
  }

  /** A listing of the same containers as the node's last one, begun at `listedAt`: see observe. */
  private observeAgain(node: string, listedAt: number): void {
    const ts = this.awaiting.get(node);
    if (ts === undefined) return;
    const changed: Tracked[] = [];
    for (const t of [...ts]) if (this.setState(t, observeContainer(t.state, t.container, listedAt))) changed.push(t);
    this.evaluateAll(changed);
  }

  /** Sets a container's health state (keeping the index of those awaiting a listing); whether it changed. */
  private setState(t: Tracked, state: HealthState): boolean {
    if (state === t.state) return false;
    t.state = state;
    let ts = this.awaiting.get(t.node);
    if (awaitsListing(state)) {
      if (!ts) this.awaiting.set(t.node, (ts = new Set()));
      ts.add(t);
    } else if (ts?.delete(t) && ts.size === 0) this.awaiting.delete(t.node);
    return true;
  }

  /**
   * The container is being started by this process (created, or started again): the run that follows gets
   * its postStart hook. Call it before the container can be listed with that run.
   */
  willStart(containerId: string): void {
    this.startedHere.add(containerId);
  }

  /** Forgets every container of a node (it left the fleet). */
  forgetNode(node: string): void {
    for (const t of [...(this.byNode.get(node)?.values() ?? [])]) this.untrack(t);
    this.lastListing.delete(node);
  }

  /** The pod's health over its containers; undefined when none is tracked. */
  podHealth(pod: string): PodHealth | undefined {
    const now = this.host.now();
    const ofPod = this.byPod.get(pod);
    if (ofPod === undefined || ofPod.size === 0) return undefined;
    let hasInit = false;
    for (const t of ofPod) if (t.init !== undefined || t.initCount !== undefined) hasInit = true;
    // The fleet asks for every pod's health whenever a controller reads its pods: a pod without init
    // containers (most) is summed without copying its containers or working out an init phase it has not.
    let initTotal = 0;
    if (hasInit) {
      const all = [...ofPod];
      const init = initProgress(all);
      if (init.current) return initHealth(all, init.current, init.done, init.total, now);
      if (init.pending !== undefined) return unlistedInitHealth(all, init.pending, init.done, init.total);
      initTotal = init.total;
    }
    let containers = 0;
    let allReady = true;
    let readySince = 0;
    let restartCount = 0;
    let crashLooping = false;
    let worst: HealthStatus | undefined;
    let firstReadyAt: number | undefined;
    for (const t of ofPod) {
      if (t.init !== undefined) continue;
      containers++;
      const s = statusOf(t, now);
      restartCount += s.restartCount;
      if (s.reason === "CrashLoopBackOff") crashLooping = true;
      if (!s.ready) {
        allReady = false;
        worst ??= s;
      } else readySince = Math.max(readySince, s.readySince ?? now);
      if (t.firstReadyAt !== undefined) firstReadyAt = Math.max(firstReadyAt ?? 0, t.firstReadyAt);
    }
    const ready = containers > 0 && allReady;
    const health: PodHealth = {
      ready,
      restartCount,
      crashLooping,
      // The pod's containers wait to be started after the last init container: kubectl's PodInitializing.
      reason: initTotal > 0 && worst?.phase === "created" ? "PodInitializing" : (worst?.reason ?? "Running"),
      message: worst?.message ?? "",
    };
    // Set rather than spread in: one object per pod each time a controller reads the fleet's pods.
    if (ready) health.readySince = readySince;
    if (ready && firstReadyAt !== undefined) health.firstReadyAt = firstReadyAt;
    return health;
  }

  /**
   * Runs due probes and the actions the state machine asks for. Call often (the fleet does every 100 ms):
   * it looks only at the containers whose decision can have changed with the clock since they were last
   * evaluated (evaluateAt); any other change of a container is evaluated where it is observed.
   */
  evaluate(): void {
    const now = this.host.now();
    // At rest nothing is due for long stretches (ready pods without probes: never): no pass over every container then.
    if (now < this.nextDue) return;
    const due: Tracked[] = [];
    let next = Number.POSITIVE_INFINITY;
    for (const t of this.tracked.values()) {
      if (t.evaluateAt <= now) due.push(t);
      else if (t.evaluateAt < next) next = t.evaluateAt;
    }
    this.nextDue = next;
    this.evaluateAll(due); // lowers nextDue again for what it evaluates
  }

  private track(t: Tracked): void {
    this.tracked.set(t.container.id, t);
    this.nextDue = Math.min(this.nextDue, t.evaluateAt);
    let onNode = this.byNode.get(t.node);
    if (!onNode) this.byNode.set(t.node, (onNode = new Map()));
    onNode.set(t.container.id, t);
    let ofPod = this.byPod.get(t.pod);
    if (!ofPod) this.byPod.set(t.pod, (ofPod = new Set()));
    ofPod.add(t);
  }

  private untrack(t: Tracked): void {
    const id = t.container.id;
    if (this.tracked.get(id) === t) this.tracked.delete(id);
    const onNode = this.byNode.get(t.node);
    if (onNode?.get(id) === t) onNode.delete(id);
    if (onNode?.size === 0) this.byNode.delete(t.node);
    if (this.tracked.get(id) === undefined) this.startedHere.delete(id);
    const ofPod = this.byPod.get(t.pod);
    ofPod?.delete(t);
    if (ofPod?.size === 0) this.byPod.delete(t.pod);
    const waiting = this.awaiting.get(t.node);
    if (waiting?.delete(t) && waiting.size === 0) this.awaiting.delete(t.node);
  }

  private evaluateAll(ts: Iterable<Tracked>): void {
    const now = this.host.now();
    for (const t of ts) {
      const s = healthStatus(t.state, now);
      t.status = s;
      t.statusFrom = t.state;
      t.evaluateAt = nextEvaluationAt(s, now);
      if (t.evaluateAt < this.nextDue) this.nextDue = t.evaluateAt;
      const sig = `${s.ready}:${s.reason}:${s.restartCount}`;
      if (s.ready && t.firstReadyAt === undefined) t.firstReadyAt = now;
      if (sig !== t.lastSignature) {
        t.lastSignature = sig;
        this.host.changed(t.owner);
      }
      if (s.postStartDue && !this.host.busy(t.pod)) this.postStart(t);
      for (const kind of s.due) this.probe(t, kind);
      if (s.listAt !== undefined && now >= s.listAt && t.listAsked !== s.listAt) {
        // A run without probes becomes ready only through a listing begun after listAt: ask for it.
        t.listAsked = s.listAt;
        this.host.relist(t.node);
      }
      if (s.action !== "stop" && s.action !== "restart") continue;
      if (s.action === "restart" && !restartAllowed(t)) continue;
      if (t.acting || now < t.holdUntil || this.host.busy(t.pod) || !this.host.nodeReady(t.node) || !this.mayAct(t)) continue;
      if (s.action === "stop") void this.act(t, "stop", s);
      else if (s.action === "restart") void this.act(t, "restart", s);
    }
  }

  /**
   * Whether the init containers of t's pod let the kubelet start or stop t: an init container when those
   * before it succeeded and it has not (a succeeded one is never run again), a container of the pod when
   * the pod is initialized.
   */
  private mayAct(t: Tracked): boolean {
    if (t.init !== undefined && succeeded(t)) return false; // the common case, decided without the pod
    const ofPod = this.byPod.get(t.pod) ?? new Set<Tracked>();
    let hasInit = false;
    for (const x of ofPod) if (x.init !== undefined || x.initCount !== undefined) hasInit = true;
    if (!hasInit) return true;
    const progress = initProgress([...ofPod]);
    if (t.init === undefined) return progress.initialized;
    return progress.current === t;
  }

  private target(t: Tracked, label: ProbeLabel): ProbeTarget | undefined {
    if (label.type === "exec") {
      const runtime = this.host.runtimeOf(t.node);
      if (!runtime || !label.command) return undefined;
      return { type: "exec", command: label.command, runtime, containerId: t.container.id };
    }
    const host = label.host ?? this.host.addressOf(t.node);
    if (!host || label.port === undefined) return undefined;
    if (label.type === "tcp") return { type: "tcp", host, port: label.port };
    if (label.type === "grpc") return { type: "grpc", host, port: label.port, ...(label.service ? { service: label.service } : {}) };
    return {
      type: "http",
      host,
      port: label.port,
      path: label.path ?? "/",
      ...(label.scheme ? { scheme: label.scheme } : {}),
      ...(label.headers?.length ? { headers: label.headers } : {}),
    };
  }

  private probe(t: Tracked, kind: ProbeKind): void {
    if (t.probing.has(kind)) return;
    const label = t.labels[kind];
    if (!label) return;
    const target = this.target(t, label);
    if (!target) return;
    t.probing.add(kind);
    const startedAt = t.state.startedAt;
    void this.host.prober(target, label.timeoutSeconds * 1000).then((outcome) => {
      t.probing.delete(kind);
      if (this.tracked.get(t.container.id) !== t || t.state.startedAt !== startedAt) return;
      this.setState(t, applyHealthEvent(t.state, { type: "probe", probe: kind, at: this.host.now(), ok: outcome.ok, message: outcome.message }));
      this.evaluateAll([t]); // the result changed this container only
    });
  }

  /** Runs the current run's postStart hook (once), or takes it as done for a run this process did not start. */
  private postStart(t: Tracked): void {
    const startedAt = t.state.startedAt;
    const label = t.labels.postStart;
    if (startedAt === undefined || t.hookHandled === startedAt) return;
    const done = (ok: boolean, message?: string): void => {
      if (this.tracked.get(t.container.id) !== t || t.state.startedAt !== startedAt) return;
      this.setState(t, applyHealthEvent(t.state, { type: "postStart", at: this.host.now(), ok, ...(message !== undefined ? { message } : {}) }));
      this.evaluateAll([t]);
    };
    if (!label || !this.startedHere.has(t.container.id)) {
      t.hookHandled = startedAt;
      done(true);
      return;
    }
    const runtime = this.host.runtimeOf(t.node);
    const address = this.host.addressOf(t.node);
    if (!runtime || address === undefined || !this.host.nodeReady(t.node)) return; // try again at the next evaluation
    this.startedHere.delete(t.container.id);
    t.hookHandled = startedAt;
    void runHook(label, { runtime, containerId: t.container.id, address, prober: this.host.prober }, POST_START_TIMEOUT_MS).then((failed) => {
      if (failed !== undefined) this.host.log?.warn(`pod ${t.pod}: postStart hook of ${t.container.runtimeName} failed: ${failed}`, { workload: t.owner });
      done(failed === undefined, failed);
    });
  }

  private async act(t: Tracked, action: "stop" | "restart", s: HealthStatus): Promise<void> {
    const runtime = this.host.runtimeOf(t.node);
    if (!runtime) return;
    t.acting = true;
    try {
      if (action === "stop") {
        this.host.log?.warn(`pod ${t.pod}: ${s.message || s.reason}; stopping container ${t.container.runtimeName}`, { workload: t.owner });
        await runtime.stop(t.container.id, t.labels.grace);
      } else {
        this.willStart(t.container.id);
        await runtime.start(t.container.id);
      }
      t.actionFailures = 0;
      t.holdUntil = this.host.now() + 1_000;
    } catch (err) {
      t.actionFailures++;
      const delay = backoffDelay(ACTION_BACKOFF, t.actionFailures);
      t.holdUntil = this.host.now() + delay;
      this.host.log?.warn(`pod ${t.pod}: ${action} of ${t.container.runtimeName} failed (retry in ${Math.round(delay / 1000)}s): ${toCoxError(err).message}`, { workload: t.owner });
    } finally {
      t.acting = false;
      this.host.relist(t.node);
      this.host.changed(t.owner);
    }
  }
}

/**
 * t's decision at `now` as far as a pod's health reads it (readiness, reason, message, restarts): the one the
 * last evaluation worked out while the state is the same and the clock has not reached the time it can change
 * at (HealthStatus.nextCheckAt), else worked out afresh. Its due probes may be stale: only evaluateAll acts.
 */
function statusOf(t: Tracked, now: number): HealthStatus {
  const s = t.status;
  if (s !== undefined && t.statusFrom === t.state && (s.nextCheckAt === undefined || now < s.nextCheckAt)) return s;
  return healthStatus(t.state, now);
}

/** Whether the pod's restartPolicy lets the kubelet start t now: always its first start, a restart as the policy says. */
function restartAllowed(t: Tracked): boolean {
  if (t.policy === "Always" || t.state.phase !== "exited") return true;
  return t.policy === "OnFailure" && t.state.exitCode !== 0;
}

/** An init container that exited 0 (as the runtime reports it now): it succeeded and is done for good. */
function succeeded(t: Tracked): boolean {
  return (t.container.state === "exited" || t.container.state === "dead") && t.container.exitCode === 0;
}

/**
 * Where a pod's init phase is: how many init containers there are and have succeeded, whether the pod is
 * initialized — all succeeded, or one of the pod's containers has started (they start only after the init
 * phase; a restarted operator must not go back to it) —, and the init container to run now: the first that has
 * not succeeded, when it is seen. How many there are is the pod's LABELS.initCount (or, on pods made before
 * it, the init containers seen): an init container missing from the view (not listed) is not done, so neither
 * a later one nor the pod's containers run before it is seen and has succeeded.
 */
function initProgress(pod: readonly Tracked[]): { total: number; done: number; initialized: boolean; current?: Tracked; pending?: number } {
  const byIndex = new Map<number, Tracked>();
  let total = 0;
  for (const t of pod) {
    if (t.initCount !== undefined) total = Math.max(total, t.initCount);
    if (t.init === undefined) continue;
    byIndex.set(t.init, t);
    total = Math.max(total, t.init + 1);
  }
  let done = 0;
  for (const t of byIndex.values()) if (succeeded(t)) done++;
  const started = pod.some((t) => t.init === undefined && t.state.phase !== "created" && t.state.phase !== "unknown");
  if (started) return { total, done, initialized: true };
  let pending: number | undefined;
  for (let i = 0; i < total && pending === undefined; i++) {
    const t = byIndex.get(i);
    if (t === undefined || !succeeded(t)) pending = i;
  }
  if (pending === undefined) return { total, done, initialized: true };
  const current = byIndex.get(pending);
  return { total, done, initialized: false, ...(current ? { current } : { pending }) };
}

/** A pod whose next init container (place `pending`) is not seen, not listed yet: Init:N/M, never ready. */
function unlistedInitHealth(pod: readonly Tracked[], pending: number, done: number, total: number): PodHealth {
  return {
    ready: false,
    restartCount: pod.reduce((n, t) => n + t.state.restartCount, 0),
    crashLooping: false,
    reason: `Init:${done}/${total}`,
    message: `init container ${pending + 1} of ${total} is not listed`,
  };
}

/** A pod in its init phase, as kubectl shows it: Init:N/M, Init:Error, Init:CrashLoopBackOff; never ready. */
function initHealth(pod: readonly Tracked[], current: Tracked, done: number, total: number, now: number): PodHealth {
  const s = healthStatus(current.state, now);
  const name = current.container.labels[LABELS.container] ?? current.container.runtimeName;
  const reason = s.reason === "CrashLoopBackOff" ? "Init:CrashLoopBackOff" : s.phase === "exited" ? "Init:Error" : `Init:${done}/${total}`;
  const message = s.phase === "running" ? `init container ${name} is running` : `init container ${name}: ${s.message}`;
  return {
    ready: false,
    restartCount: pod.reduce((n, t) => n + t.state.restartCount, 0),
    crashLooping: s.reason === "CrashLoopBackOff",
    reason,
    message,
  };
}
