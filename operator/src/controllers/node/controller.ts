/**
 * The Node controller: keeps the fleet's membership equal to the Node objects of the applied commit, or
 * to the one default local node when the repository declares none. Every "Node/…" key routes here and
 * recomputes the whole set (idempotent), so the order in which Node changes arrive does not matter.
 *
 * A node removed from Git leaves gracefully (rollout/node-removal.ts decides): while it answers it stays in
 * the fleet, leaving — cordoned and drained, so the workload, StatefulSet and Job controllers move its pods
 * as they do for `drain: true`, under the PodDisruptionBudgets — and leaves on the reconcile that finds no
 * pod a drain moves left on it (the operator queues NODES_KEY on every pod change while a node is leaving).
 */
import type { Logger } from "../../api/log.js";
import type { Node } from "../../api/objects.js";
import { makeKey } from "../../api/objects.js";
import { parseCpu, parseMemory } from "../../api/quantity.js";
import { secretValue } from "../../manifest/index.js";
import type { ReconcileResult } from "../../engine/queue.js";
import type { DesiredGraph } from "../../graph/index.js";
import type { Fleet, NodeConfig } from "../../runtime/fleet.js";
import { DEFAULT_PROXY_IMAGE } from "../../runtime/proxy/index.js";
import { DEFAULT_SERVICE_NETWORK } from "../../traffic/addresses.js";
import { LEAVING_MESSAGE, removedNodeStep } from "../../rollout/node-removal.js";
import type { DesiredView } from "../types.js";

/** The key that makes the Node controller recompute the fleet (any "Node/…" key does the same). */
export const NODES_KEY = "Node/*";

/**
 * Turns a Node object into the fleet's configuration of it (defaults are applied by the manifest stage).
 * TLS client credentials come from the Secret the Node names, looked up in the same graph.
 */
export function nodeConfigOf(node: Node, graph?: DesiredGraph): NodeConfig {
  const [from, to] = (node.spec.portRange ?? "30000-32767").split("-").map(Number) as [number, number];
  const cfg: NodeConfig = {
    name: node.metadata.name,
    endpoint: node.spec.endpoint,
    network: node.spec.network ?? "host",
    address: node.spec.address ?? "127.0.0.1",
    portRange: { from, to },
    serviceNetwork: node.spec.serviceNetwork ?? DEFAULT_SERVICE_NETWORK,
    proxyImage: node.spec.proxyImage ?? DEFAULT_PROXY_IMAGE,
    unschedulable: node.spec.unschedulable ?? false,
    labels: { "kubernetes.io/hostname": node.metadata.name, ...(node.metadata.labels ?? {}) },
    drain: node.spec.drain ?? false,
  };
  if (node.spec.taints?.length) cfg.taints = node.spec.taints.map((t) => ({ key: t.key, ...(t.value !== undefined ? { value: t.value } : {}), effect: t.effect }));
  const cap = node.spec.capacity;
  if (cap) {
    cfg.capacity = {
      ...(cap.cpu !== undefined ? { cpuMillis: parseCpu(cap.cpu) } : {}),
      ...(cap.memory !== undefined ? { memoryBytes: parseMemory(cap.memory) } : {}),
      ...(cap.pods !== undefined ? { pods: cap.pods } : {}),
    };
    // Names with a domain are the extended resources the node offers (example.com/dongle: 2).
    const extended = Object.entries(cap).filter(([name, q]) => name.includes("/") && typeof q === "number") as [string, number][];
    if (extended.length > 0) cfg.capacity.extended = Object.fromEntries(extended.sort(([a], [b]) => (a < b ? -1 : 1)));
  }
  const reserved = node.spec.reserved;
  cfg.reserved = {
    cpuMillis: reserved?.cpu !== undefined ? parseCpu(reserved.cpu) : 0,
    memoryBytes: reserved?.memory !== undefined ? parseMemory(reserved.memory) : 0,
  };
  const ref = node.spec.tls?.secretRef;
  if (ref && graph) {
    const secret = graph.get(makeKey("Secret", ref.name, ref.namespace ?? "default"))?.object;
    if (secret?.kind === "Secret") {
      const read = (k: string) => secretValue(secret, k)?.toString("utf8");
      const ca = read("ca.crt");
      const cert = read("tls.crt");
      const key = read("tls.key");
      if (ca) cfg.tls = { ca, ...(cert ? { cert } : {}), ...(key ? { key } : {}) };
    }
  }
  return cfg;
}

/** The fleet a graph describes: its Node objects sorted by name, or the default node when there are none. */
export function nodeConfigsOf(graph: DesiredGraph | undefined, defaultNode: NodeConfig): NodeConfig[] {
  const nodes = graph ? graph.ofKind("Node").map((m) => nodeConfigOf(m.object as Node, graph)) : [];
  return nodes.length > 0 ? nodes.sort((a, b) => (a.name < b.name ? -1 : 1)) : [defaultNode];
}

/** Options of the Node controller. */
export interface NodeControllerOptions {
  desired: DesiredView;
  fleet: Fleet;
  defaultNode: NodeConfig;
  /** Called with the names of nodes that left the fleet (their pods must be moved). */
  onNodesRemoved?: (names: string[]) => void;
  log?: Logger;
}

/** Reconciles the fleet's membership. */
export class NodeController {
  private last = "";
  /** Nodes that were leaving when the operator stopped, to join (draining) on the next reconcile. */
  private restoring: NodeConfig[] = [];

  constructor(private readonly opts: NodeControllerOptions) {}

  /**
   * Any Node key: make the fleet match the applied graph. Serialized: the sync loop also calls this
   * directly (and waits) before it lets Deployments decide on a new fleet.
   */
  reconcile(_key: string): Promise<ReconcileResult | void> {
    const run = this.running.then(() => this.apply());
    this.running = run.catch(() => undefined);
    return run;
  }

  private running: Promise<unknown> = Promise.resolve();

  /**
   * Nodes that were leaving when the operator stopped (their configs from the last commit that declared
   * them): the next reconcile connects them, cordoned and draining, and they carry on leaving as
   * rollout/node-removal.ts decides — so a restart neither forgets a drain nor leaves its pods running
   * unmanaged on an engine no one watches. Call before the first reconcile.
   */
  restoreLeaving(configs: readonly NodeConfig[]): void {
    this.restoring = configs.map((c) => ({ ...c, drain: true }));
  }

  private async apply(): Promise<void> {
    const configs = nodeConfigsOf(this.opts.desired.graph(), this.opts.defaultNode);
    const inGit = new Set(configs.map((c) => c.name));
    const leaving: string[] = [];
    const fleet = this.opts.fleet;
    const back = this.restoring.filter((c) => !inGit.has(c.name) && !fleet.nodeConfig(c.name));
    this.restoring = [];
    if (back.length > 0) {
      // Joined with the fleet of Git (after their first listing, as every new node): whether they answer
      // decides below, as for a node removed just now.
      await fleet.setNodes(
        [...configs, ...back],
        fleet
          .listNodes()
          .filter((n) => n.leaving)
          .map((n) => n.config.name),
      );
      this.opts.log?.info(`restored ${back.length} node(s) that were leaving when the operator stopped: ${back.map((c) => c.name).join(", ")}`);
    }
    const gone = fleet.listNodes().filter((n) => !inGit.has(n.config.name));
    const pods = gone.length > 0 ? fleet.pods() : [];
    for (const n of gone) {
      const name = n.config.name;
      const step = removedNodeStep(
        { name, leaving: n.leaving, answers: n.ready && !n.evicted, notReady: n.condition === "NotReady" || n.evicted },
        pods.filter((p) => p.node === name),
      );
      if (step.leave) this.opts.log?.info(step.reason, { node: name });
      else {
        leaving.push(name);
        if (!n.leaving) this.opts.log?.info(`node ${name} removed from Git: draining it before it leaves the fleet (${step.holding.length} pod(s) to move)`, { node: name });
      }
    }
    const removed = await fleet.setNodes(configs, leaving);
    const line = [
      ...configs.map((c) => `${c.name} (${c.endpoint}${c.drain ? ", draining" : c.unschedulable ? ", cordoned" : ""})`),
      ...leaving.map((name) => `${name} (${fleet.nodeConfig(name)?.endpoint ?? "?"}, ${LEAVING_MESSAGE})`),
    ].join(", ");
    if (line !== this.last) {
      this.last = line;
      this.opts.log?.info(`fleet: ${line}`);
    }
    if (removed.length > 0) this.opts.onNodesRemoved?.(removed);
  }
}
