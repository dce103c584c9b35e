/**
 * Pod creation, shared by every controller that makes pods: one scheduling pass for a batch of named pods,
 * the reservations made right after it, the launches, a claim bound to the node of its first pod,
 * Kubernetes' DefaultPreemption when a pod fits nowhere, and kube-scheduler's backoff for pods that cannot
 * be placed. One placer serves the whole operator, as one kube-scheduler serves a cluster: its round-robin
 * start over the nodes is shared by every owner.
 *
 * Guarantee: everything from the fleet snapshot to the last reservation runs without an await, so the next
 * decision of any controller sees these placements, and names a caller chose just before calling place()
 * (checked against fleet.podNames()) are reserved before anyone else can choose them.
 */
import { backoffDelay, type Backoff } from "../../api/backoff.js";
import type { WorkloadEvent } from "../../api/conditions.js";
import { toCoxError, type CoxError } from "../../api/errors.js";
import type { Secret, Service } from "../../api/objects.js";
import type { Fleet } from "../../runtime/fleet.js";
import { podGraceSeconds } from "../../runtime/kubelet.js";
import { schedule, type ClaimRequest, type PodRequest, type SchedulerSettings } from "../../scheduler/index.js";
import { DEFAULT_SERVICE_NETWORK, reservedHostPorts } from "../../traffic/addresses.js";
import { bridgeDiscoveryFor, discoveryFor, type Discovery } from "../../traffic/discovery.js";
import { podDnsNames } from "../../traffic/pod-names.js";
import { toServiceSpec } from "../../traffic/spec.js";
import type { ServiceSpec } from "../../traffic/types.js";
import type { DesiredView } from "../types.js";
import { disruptionStates, type WorkloadRecords } from "../disruption/budgets.js";
import { podLaunches, podRequest, pullConfigsOf, type TemplatePlan } from "./template.js";

/** kube-scheduler's back-off of an unschedulable pod: 1 s doubling to 10 s (podInitialBackoff, podMaxBackoff). */
const SCHEDULING_BACKOFF: Backoff = Object.freeze({ initialMs: 1_000, maxMs: 10_000 });

/** Options of the placer. */
export interface PlacerOptions {
  fleet: Fleet;
  /** The target graph: its Services (discovery, node ports kept from pods). */
  desired: Pick<DesiredView, "graph">;
  /** Operator instance: the io.coxswain.owner label value. */
  instance: string;
  /** Scoring profile and percentageOfNodesToScore (default: kube-scheduler's default profile, adaptive). */
  scheduler?: SchedulerSettings;
  /** Seed for the scheduler's tie-breaking (tests). */
  seed?: number;
  /** The operator's ingress ports (`--ingress-http-port`, `--ingress-https-port`): never a pod's host port. */
  ingressPorts?: readonly number[];
  /** Called after every scheduling pass with how long it took and how many pods it placed and could not place (metrics). */
  onScheduled?: (ms: number, placed: number, unschedulable: number) => void;
  /** Workloads' status records: DaemonSets' desired pod counts for the budgets preemption reads. */
  records?: WorkloadRecords;
}

/** One pod to create: its name (chosen by the caller, unique in the fleet) and the plan of its revision. */
export interface PodToPlace {
  name: string;
  plan: TemplatePlan;
  /** Only this node is feasible (spec.nodeName; a DaemonSet's pod for one node). */
  nodeName?: string;
  /**
   * Kubernetes' spec.subdomain (a StatefulSet's serviceName): on a bridge node the pod answers to
   * `<name>.<subdomain>.<namespace>.svc.cluster.local` and shorter when that headless Service selects it
   * (traffic/pod-names.ts).
   */
  subdomain?: string;
}

/** One batch of pods of one owner. */
export interface PlaceRequest {
  /** Owner key ("Deployment/ns/name"): reservations, nominations and backoff are kept per owner. */
  owner: string;
  namespace: string;
  /** The deploy-branch commit the pods are created for (their commit label). */
  commit: string;
  /** The pods, all of one priority (the first one's plan says which). */
  pods: readonly PodToPlace[];
  /** The current commit's Secret by key: registry credentials for the pods' imagePullSecrets. */
  secret: (key: string) => Secret | undefined;
}

/** What a batch came to. Creations that failed are in errors and in events; nothing is thrown. */
export interface PlaceOutcome {
  /** Created, FailedCreate, FailedScheduling and Preempting events, in the order they happened. */
  events: Omit<WorkloadEvent, "time">[];
  /** Why pods could not be created (launch or engine errors), one per pod. */
  errors: CoxError[];
  /** kube-scheduler's "0/N nodes are available" message of the first pod that fits nowhere. */
  unschedulable?: string;
  /** Look again after this long: the preemption victims are stopping, or the unschedulable backoff. */
  requeueAfterMs?: number;
}

/** Creates pods on the fleet for every controller (see the file comment). */
export class PodPlacer {
  private nextStartIndex = 0;
  /** Per owner: the node its preemption nominated, tried first by its next pod. */
  private readonly nominated = new Map<string, string>();
  /** Per owner: scheduling passes in a row that could not place its first pod (kube-scheduler's queue backoff). */
  private readonly attempts = new Map<string, number>();

  constructor(private readonly opts: PlacerOptions) {}

  /** Schedules, reserves and creates the pods of one owner; resolves when every creation ended. */
  async place(req: PlaceRequest): Promise<PlaceOutcome> {
    const out: PlaceOutcome = { events: [], errors: [] };
    const first = req.pods[0];
    if (first === undefined) return out;
    const fleet = this.opts.fleet;
    const nominated = this.nominated.get(req.owner);
    const requests: PodRequest[] = req.pods.map((p, i) => {
      const r = podRequest(p.plan, p.name, (claim) => fleet.claimNode(claim));
      if (p.nodeName !== undefined) r.nodeName = p.nodeName;
      if (i === 0 && nominated !== undefined) r.nominatedNodeName = nominated;
      return r;
    });
    const byName = new Map(req.pods.map((p) => [p.name, p]));
    const services = (this.opts.desired.graph()?.ofKind("Service") ?? []).map((m) => toServiceSpec(m.object as Service));
    // The Services' node ports and the ingress ports are where every node's proxy listens: never a pod's
    // host port. (Node ports that cannot be assigned are the service controller's to report; pods are placed anyway.)
    const ingressPorts = this.opts.ingressPorts ?? [];
    if (services.length > 0 || ingressPorts.length > 0)
      fleet.setReservedHostPorts(
        reservedHostPorts(
          services,
          fleet.listNodes().map((n) => n.config.portRange),
          ingressPorts,
        ),
      );
    // schedule → reserve runs without an await in between: the next decision sees these placements.
    const snapshot = fleet.schedulerSnapshot(first.plan.priority.value, req.owner);
    // Preemption prefers victims whose removal keeps every PodDisruptionBudget (their status now).
    const graph = this.opts.desired.graph();
    const budgets = graph
      ? disruptionStates(graph, fleet.pods(), this.opts.records).map((b) => ({ namespace: b.budget.namespace, ...(b.budget.selector ? { selector: b.budget.selector } : {}), disruptionsAllowed: b.disruptionsAllowed }))
      : [];
    const scheduling = performance.now();
    const result = schedule(snapshot, requests, {
      ...this.opts.scheduler,
      ...(this.opts.seed !== undefined ? { seed: this.opts.seed } : {}),
      startIndex: this.nextStartIndex,
      ...(budgets.length > 0 ? { disruptionBudgets: budgets } : {}),
    });
    this.opts.onScheduled?.(performance.now() - scheduling, result.placements.length, result.unschedulable.length);
    this.nextStartIndex = result.nextStartIndex;
    const creates: Promise<void>[] = [];
    for (const placement of result.placements) {
      const pod = byName.get(placement.id)!;
      const plan = pod.plan;
      const node = fleet.nodeConfig(placement.node)!;
      const allocatable = snapshot.find((n) => n.name === placement.node)?.allocatable;
      if (placement.node === this.nominated.get(req.owner)) {
        this.nominated.delete(req.owner);
        fleet.clearNomination(req.owner);
      }
      // The first pod of a claim binds it to its node (ReadWriteOnce): the claim's later pods go there too.
      for (const c of requests.find((r) => r.id === placement.id)?.claims ?? []) fleet.bindClaim(c.name, placement.node);
      const hostPorts = fleet.reserve({
        pod: placement.id,
        node: placement.node,
        owner: req.owner,
        requests: plan.requests,
        requestsForScoring: plan.requestsForScoring,
        portCount: plan.portCount,
        fixedPorts: plan.fixedHostPorts.map((p) => p.port),
      });
      // Registry credentials from the current commit's Secrets, also for an older revision's pods (template.ts).
      const pullConfigs = pullConfigsOf(plan, req.secret);
      // Services are reached on the node's own loopback addresses (host network) or, on a bridge network,
      // through their forwarders there (traffic/bridge.ts), whose addresses come from the network's Service range.
      const launches = async () => {
        const discovery =
          node.network === "bridge"
            ? await this.bridgeDiscovery(placement.node, services, req.namespace)
            : services.length > 0
              ? discoveryFor(services, node.serviceNetwork ?? DEFAULT_SERVICE_NETWORK, req.namespace)
              : undefined;
        // A pod's own names exist on a bridge network only (traffic/pod-names.ts says why).
        const aliases = node.network === "bridge" && pod.subdomain !== undefined ? podDnsNames({ name: placement.id, namespace: req.namespace, labels: plan.podLabels, subdomain: pod.subdomain }, services) : [];
        return podLaunches(plan, {
          pod: placement.id,
          node,
          hostPorts,
          commit: req.commit,
          instance: this.opts.instance,
          ...(discovery ? { discovery } : {}),
          ...(aliases.length > 0 ? { aliases } : {}),
          pullConfigs,
          ...(allocatable ? { allocatable } : {}),
        });
      };
      creates.push(
        launches()
          .then(
            (l) => fleet.createPod(placement.id, placement.node, l),
            (err: unknown) => {
              fleet.release(placement.id);
              throw err;
            },
          )
          .then(
            () => void out.events.push({ type: "Normal", reason: "Created", message: `created pod ${placement.id} on ${placement.node}` }),
            (err: unknown) => {
              const e = toCoxError(err);
              out.errors.push(e);
              out.events.push({ type: "Warning", reason: "FailedCreate", message: `pod ${placement.id} on ${placement.node}: ${e.code}: ${e.message}` });
            },
          ),
      );
    }
    const stuck = result.unschedulable[0];
    if (stuck?.preemption) {
      // Kubernetes' DefaultPreemption: stop the chosen lower-priority victims, nominate the node, retry.
      for (const v of stuck.preemption.victims) {
        const victim = fleet.pods().find((p) => p.name === v.name);
        if (victim) fleet.deletePod(victim, podGraceSeconds(victim));
      }
      this.nominated.set(req.owner, stuck.preemption.node);
      fleet.nominate(req.owner, { node: stuck.preemption.node, priority: first.plan.priority.value, requests: first.plan.requests, requestsForScoring: first.plan.requestsForScoring });
      out.events.push({
        type: "Normal",
        reason: "Preempting",
        message: `stopping ${stuck.preemption.victims.map((v) => `${v.namespace}/${v.name} (priority ${v.priority})`).join(", ")} on ${stuck.preemption.node} to make room`,
      });
      out.requeueAfterMs = 500;
    } else if (stuck) {
      const claims = requests.find((r) => r.id === stuck.id)?.claims ?? [];
      out.unschedulable = stuck.plugins.includes("VolumeBinding") ? `${stuck.message} ${claimsExplained(claims, fleet)}` : stuck.message;
      out.events.push({ type: "Warning", reason: "FailedScheduling", message: out.unschedulable });
      // Unschedulable pods wait with kube-scheduler's backoff (1 s doubling to 10 s); a change of the
      // fleet (a node added, changed or back) requeues every workload at once.
      const attempts = this.attempts.get(req.owner) ?? 0;
      out.requeueAfterMs = backoffDelay(SCHEDULING_BACKOFF, attempts + 1);
      this.attempts.set(req.owner, attempts + 1);
    } else if (result.placements.length > 0) {
      this.attempts.delete(req.owner);
    }
    await Promise.all(creates);
    return out;
  }

  /** Forgets what the placer keeps for an owner that is gone (its nomination and backoff). */
  forget(owner: string): void {
    if (this.nominated.delete(owner)) this.opts.fleet.clearNomination(owner);
    this.attempts.delete(owner);
  }

  /**
   * What a pod of `namespace` on the bridge node `node` is told about `services`: their variables with
   * their forwarders' addresses when the node's network has a Service range (asked of its runtime; none
   * when it cannot say), and always the DNS search path that makes their short names resolve.
   */
  private async bridgeDiscovery(node: string, services: readonly ServiceSpec[], namespace: string): Promise<Discovery> {
    const runtime = this.opts.fleet.runtimeOf(node);
    const network = services.length > 0 && runtime?.bridgeNetwork ? await runtime.bridgeNetwork().catch(() => undefined) : undefined;
    return bridgeDiscoveryFor(services, network?.serviceRange, namespace);
  }
}

/**
 * Where the claims of an unschedulable pod are bound, and the state of those nodes: a pod waits for its
 * claim's node (its data is there) and is never started elsewhere.
 */
function claimsExplained(claims: readonly ClaimRequest[], fleet: Fleet): string {
  const nodes = new Map(fleet.listNodes().map((n) => [n.config.name, n]));
  const parts = claims.flatMap((c) => {
    if (c.node === undefined) return [];
    const n = nodes.get(c.node);
    const state =
      n === undefined
        ? "which is not in the fleet"
        : !n.ready
          ? `which is ${n.condition === "NotReady" ? "NotReady" : "not answering"}`
          : n.config.unschedulable || n.config.drain
            ? "which is cordoned"
            : "which has no room for the pod";
    return [`claim ${c.name} is bound to node ${c.node}, ${state}; its pods run there only (its data is on that node)`];
  });
  return parts.length > 0 ? `${parts.join("; ")}.` : "";
}
