/**
 * Coordinated rollout along the graph. Pure.
 *
 * When a commit changes several workloads, they do not all roll at once: a workload is released (its
 * controller sees the new desired object) only when every changed workload it depends on — through
 * `coxswain.io/depends-on`, or by being in an earlier sync wave (`argocd.argoproj.io/sync-wave`) — has
 * completed healthy. Until then it keeps its previous desired object. A rollback runs the same walk in
 * reverse: a workload goes back only after the changed workloads that depend on it went back.
 *
 * Deleted workloads are released after the changed workloads that depended on them (dependents are
 * removed first, as Argo CD prunes in reverse wave order).
 */
import { POD_OWNER_KINDS } from "../api/objects.js";
import type { DesiredGraph } from "../graph/index.js";

/** True when the key names a kind that makes pods (api/objects.ts POD_OWNER_KINDS: the workloads and the bare Pod): those roll out and are gated; everything else applies at once. */
export function isWorkloadKey(key: string): boolean {
  return (POD_OWNER_KINDS as readonly string[]).includes(key.split("/", 1)[0]!);
}

/** What the gate needs to know of each workload's progress toward the commit it was released for. */
export interface GateWorkloadState {
  /** Reached the target: complete (or, for a deleted workload, gone). */
  done: boolean;
  failed: boolean;
}

/** Input of the gate. */
export interface GateInput {
  /** What ran before this rollout (undefined: nothing did). */
  from: DesiredGraph | undefined;
  /** What this rollout goes to. */
  to: DesiredGraph;
  /** Workloads whose desired object differs between from and to (created, changed or deleted), sorted. */
  changed: readonly string[];
  /** "forward": to's dependency order; "reverse": the opposite order (rollbacks). */
  direction: "forward" | "reverse";
  /** Progress of released workloads, by key. */
  states: ReadonlyMap<string, GateWorkloadState>;
}

/** Output of the gate. */
export interface GateDecision {
  /** Changed workloads released now (their controllers use `to`'s object), sorted. */
  released: string[];
  /** Changed workloads still held at `from`'s object, sorted. */
  held: string[];
  /** Every changed workload reached its target. */
  done: boolean;
  /** A released workload failed: first such key. */
  failed?: string;
}

/** Wave of a key in a graph (0 when the graph does not know waves or the key). */
function waveOf(graph: DesiredGraph | undefined, key: string): number {
  const g = graph as unknown as { waveOf?: (k: string) => number } | undefined;
  return g?.waveOf && graph?.has(key) ? g.waveOf(key) : 0;
}

/** Changed workloads that `key` waits for, in forward direction: its changed workload dependencies and earlier waves. */
function forwardPrerequisites(key: string, input: GateInput): string[] {
  const graph = input.to.has(key) ? input.to : input.from!;
  const deps = new Set<string>();
  const stack = [...graph.dependenciesOf(key)];
  const seen = new Set<string>();
  while (stack.length) {
    const k = stack.pop()!;
    if (seen.has(k)) continue;
    seen.add(k);
    if (isWorkloadKey(k)) deps.add(k);
    stack.push(...graph.dependenciesOf(k));
  }
  const wave = waveOf(graph, key);
  const out: string[] = [];
  for (const other of input.changed) {
    if (other === key) continue;
    if (deps.has(other) || waveOf(input.to.has(other) ? input.to : input.from, other) < wave) out.push(other);
  }
  return out;
}

/** Decides which changed workloads are released. */
export function gate(input: GateInput): GateDecision {
  const changed = [...input.changed].sort();
  const prerequisites = new Map<string, string[]>();
  for (const key of changed) prerequisites.set(key, []);
  for (const key of changed) {
    const deleted = !input.to.has(key);
    for (const pre of forwardPrerequisites(key, input)) {
      // A deletion reverses the edge: the dependent goes first.
      const preDeleted = !input.to.has(pre);
      const reverse = (input.direction === "reverse") !== (deleted && preDeleted);
      if (reverse) prerequisites.get(pre)!.push(key);
      else prerequisites.get(key)!.push(pre);
    }
  }
  const ready = new Set(changed.filter((key) => prerequisites.get(key)!.every((p) => input.states.get(p)?.done === true)));
  // Contradicting edges (possible only with deletions mixed into waves) must not hold everything forever:
  // release the first workload in key order and let the rest follow.
  if (ready.size === 0 && changed.length > 0) ready.add(changed[0]!);
  const released: string[] = [];
  const held: string[] = [];
  let failed: string | undefined;
  let done = true;
  for (const key of changed) {
    const isReady = ready.has(key);
    if (isReady) released.push(key);
    else held.push(key);
    const st = input.states.get(key);
    if (!isReady || !st?.done) done = false;
    if (isReady && st?.failed && failed === undefined) failed = key;
  }
  return { released, held, done, ...(failed ? { failed } : {}) };
}
