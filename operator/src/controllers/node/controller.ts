/**
 * The Node controller: keeps the fleet's membership equal to the Node objects of the applied commit, or
 * to the one default local node when the repository declares none. Every "Node/…" key routes here and
 * recomputes the whole set (idempotent), so the order in which Node changes arrive does not matter.
 */
import type { Node } from "../../api/objects.js";
import type { ReconcileResult } from "../../engine/queue.js";
import type { DesiredGraph } from "../../graph/index.js";
import type { Fleet, NodeConfig } from "../../runtime/fleet.js";
import type { DesiredView } from "../types.js";

/** The key that makes the Node controller recompute the fleet (any "Node/…" key does the same). */
export const NODES_KEY = "Node/*";

/** Turns a Node object into the fleet's configuration of it (defaults are applied by the manifest stage). */
export function nodeConfigOf(node: Node): NodeConfig {
  const [from, to] = (node.spec.portRange ?? "30000-32767").split("-").map(Number) as [number, number];
  return {
    name: node.metadata.name,
    endpoint: node.spec.endpoint,
    network: node.spec.network ?? "host",
    address: node.spec.address ?? "127.0.0.1",
    portRange: { from, to },
    unschedulable: node.spec.unschedulable ?? false,
    labels: { ...(node.metadata.labels ?? {}), "kubernetes.io/hostname": node.metadata.name },
  };
}

/** The fleet a graph describes: its Node objects sorted by name, or the default node when there are none. */
export function nodeConfigsOf(graph: DesiredGraph | undefined, defaultNode: NodeConfig): NodeConfig[] {
  const nodes = graph ? graph.ofKind("Node").map((m) => nodeConfigOf(m.object as Node)) : [];
  return nodes.length > 0 ? nodes.sort((a, b) => (a.name < b.name ? -1 : 1)) : [defaultNode];
}

/** Options of the Node controller. */
export interface NodeControllerOptions {
  desired: DesiredView;
  fleet: Fleet;
  defaultNode: NodeConfig;
  /** Called with the names of nodes that left the fleet (their pods must be moved). */
  onNodesRemoved?: (names: string[]) => void;
  progress?: (line: string) => void;
}

/** Reconciles the fleet's membership. */
export class NodeController {
  private last = "";

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

  private async apply(): Promise<void> {
    const configs = nodeConfigsOf(this.opts.desired.graph(), this.opts.defaultNode);
    const removed = await this.opts.fleet.setNodes(configs);
    const line = configs.map((c) => `${c.name} (${c.endpoint}${c.unschedulable ? ", cordoned" : ""})`).join(", ");
    if (line !== this.last) {
      this.last = line;
      this.opts.progress?.(`fleet: ${line}`);
    }
    if (removed.length > 0) this.opts.onNodesRemoved?.(removed);
  }
}
