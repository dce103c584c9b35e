/**
 * A look at a running fleet from the command line, for `coxswain plan`'s placements: the nodes a commit
 * declares (or the default local node) are listed through the same Fleet the operator uses, so the
 * scheduler sees the same snapshot — but every runtime is wrapped read-only (no container is created,
 * started, stopped, signalled, exec'd into or removed) and nothing is probed. The operator's pods are
 * recognised by the owner label (--instance).
 */
import { CoxError } from "../api/errors.js";
import type { DesiredGraph } from "../graph/index.js";
import { nodeConfigsOf } from "../controllers/node/controller.js";
import { Fleet, type NodeConfig, type RuntimeFactory } from "../runtime/fleet.js";
import type { NodeRuntime } from "../runtime/types.js";
import type { FleetView } from "../sync/plan.js";
import { fleetView } from "../sync/operator.js";

/** A runtime that lists and reports but refuses every call that would change a node. */
function readOnlyRuntime(rt: NodeRuntime): NodeRuntime {
  const refuse = (what: string) => (): Promise<never> => Promise.reject(new CoxError("InvalidArgument", `${what} refused: this fleet is observed read-only (coxswain plan)`));
  return {
    type: rt.type,
    connect: () => rt.connect(),
    list: () => rt.list(),
    images: () => rt.images(),
    watch: () => () => undefined,
    close: () => rt.close(),
    run: refuse("run"),
    start: refuse("start"),
    stop: refuse("stop"),
    kill: refuse("kill"),
    exec: refuse("exec"),
    remove: refuse("remove"),
  };
}

/** An observed fleet: the view plans need, the nodes that did not answer, and how to let go of it. */
export interface ObservedFleet {
  view: FleetView;
  /** Nodes that are in the snapshot (they answered), sorted. */
  ready: string[];
  /** Nodes that did not answer, sorted (their capacity and pods are unknown to the plan). */
  unreachable: string[];
  close(): Promise<void>;
}

/** Lists the nodes `graph` declares (or `defaultNode` when it declares none), read-only. */
export async function observeFleet(graph: DesiredGraph | undefined, defaultNode: NodeConfig, factory: RuntimeFactory): Promise<ObservedFleet> {
  const configs = nodeConfigsOf(graph, defaultNode);
  const fleet = new Fleet({
    runtimeFactory: (node) => readOnlyRuntime(factory(node)),
    // Never start health checks on someone else's pods: every probe "passes" without being sent.
    prober: async () => ({ ok: true, message: "not probed (read-only)" }),
  });
  await fleet.setNodes(configs);
  const nodes = fleet.listNodes();
  return {
    view: fleetView(fleet),
    ready: nodes
      .filter((n) => n.ready)
      .map((n) => n.config.name)
      .sort(),
    unreachable: nodes
      .filter((n) => !n.ready)
      .map((n) => n.config.name)
      .sort(),
    close: () => fleet.close(),
  };
}
