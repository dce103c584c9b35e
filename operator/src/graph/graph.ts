/**
 * The desired-state graph of one commit: every object keyed "Kind/namespace/name" (or "Kind/name"), with
 * dependency edges (dependency → dependent), a sync wave per object (Argo CD's argocd.argoproj.io/sync-wave
 * annotation, default 0) and one deterministic order: lower waves first, dependencies before dependents, then
 * by key. Immutable once built: objects are deep-frozen copies and every list handed out is frozen, so a
 * graph can be shared between the planner, the controllers and the status writer without defensive copies.
 */
import { compareKeys, keyOf, type DesiredObject, type Kind, type ResourceKey } from "../api/objects.js";
import { syncWaveOf } from "../manifest/annotations.js";
import type { SourcePosition } from "../manifest/types.js";

/** An object to put in a graph, with where it came from when known (file:line for plans). */
export interface GraphNode {
  object: DesiredObject;
  source?: SourcePosition;
}

/** One object of a graph: its key, the (frozen) object, and where it was declared when known. */
export interface GraphEntry<T extends DesiredObject = DesiredObject> {
  readonly key: ResourceKey;
  readonly object: T;
  readonly source?: SourcePosition;
}

/** A dependency edge: `from` must exist (be applied) before `to`; `to` is deleted before `from`. */
export interface GraphEdge {
  from: ResourceKey;
  to: ResourceKey;
}

/** The keys of one sync wave, in apply order. */
export interface Wave {
  readonly wave: number;
  readonly keys: readonly ResourceKey[];
}

/** The object type of one kind, e.g. ObjectOfKind<"Deployment"> = Deployment. */
export type ObjectOfKind<K extends Kind> = Extract<DesiredObject, { kind: K }>;

const EMPTY: readonly ResourceKey[] = Object.freeze([]);

/**
 * An immutable desired-state graph. Build it from a commit's manifests with `buildGraph` (which also reports
 * broken references and cycles); the constructor is for callers that already hold checked objects and edges.
 */
export class DesiredGraph {
  /** Number of objects. */
  readonly size: number;

  readonly #entries: ReadonlyMap<ResourceKey, GraphEntry>;
  readonly #keys: readonly ResourceKey[];
  readonly #sorted: readonly DesiredObject[];
  readonly #dependencies: ReadonlyMap<ResourceKey, readonly ResourceKey[]>;
  readonly #dependents: ReadonlyMap<ResourceKey, readonly ResourceKey[]>;
  readonly #byKind = new Map<Kind, readonly GraphEntry[]>();
  readonly #order: readonly ResourceKey[];
  readonly #cycles: readonly (readonly ResourceKey[])[];
  readonly #waveOf: ReadonlyMap<ResourceKey, number>;
  readonly #waveConflicts: readonly GraphEdge[];
  #waves: readonly Wave[] | undefined;

  /**
   * Builds a graph from objects and edges. Throws (a programming error, not a user error) when two nodes have
   * the same key or an edge names a key that is not a node; duplicate edges are merged. Self-edges and
   * cycles are kept and reported by `cycles()`.
   */
  constructor(nodes: Iterable<GraphNode>, edges: Iterable<GraphEdge> = []) {
    const entries = new Map<ResourceKey, GraphEntry>();
    for (const node of nodes) {
      const key = keyOf(node.object);
      if (entries.has(key)) throw new Error(`DesiredGraph: two nodes with key ${key}`);
      const object = frozenCopy(node.object);
      const at = node.source;
      const source = at ? { source: Object.freeze({ file: at.file, line: at.line, col: at.col }) } : {};
      entries.set(key, Object.freeze({ key, object, ...source }));
    }
    const keys = [...entries.keys()].sort(compareKeys);
    const deps = new Map<ResourceKey, Set<ResourceKey>>();
    const dents = new Map<ResourceKey, Set<ResourceKey>>();
    for (const { from, to } of edges) {
      if (!entries.has(from) || !entries.has(to)) {
        throw new Error(`DesiredGraph: edge ${from} -> ${to} names an object that is not in the graph`);
      }
      addTo(deps, to, from);
      addTo(dents, from, to);
    }
    this.size = keys.length;
    this.#entries = entries;
    this.#keys = Object.freeze(keys);
    this.#sorted = Object.freeze(keys.map((k) => entries.get(k)!.object));
    this.#dependencies = freezeAdjacency(deps);
    this.#dependents = freezeAdjacency(dents);
    const waveOf = new Map<ResourceKey, number>();
    for (const k of keys) {
      const w = syncWaveOf(entries.get(k)!.object);
      if (w !== 0) waveOf.set(k, w);
    }
    this.#waveOf = waveOf;
    const wave = (k: ResourceKey): number => waveOf.get(k) ?? 0;
    const conflicts: GraphEdge[] = [];
    for (const from of keys) for (const to of this.#dependents.get(from) ?? EMPTY) if (wave(from) > wave(to)) conflicts.push(Object.freeze({ from, to }));
    this.#waveConflicts = Object.freeze(conflicts);
    const before = (a: ResourceKey, b: ResourceKey): boolean => {
      const wa = wave(a);
      const wb = wave(b);
      return wa !== wb ? wa < wb : a < b;
    };
    const components = cyclicComponents(keys, this.#dependencies);
    this.#order = Object.freeze(topologicalOrder(keys, this.#dependencies, this.#dependents, components, before));
    this.#cycles = Object.freeze(components.map((c) => Object.freeze(cycleIn(c, this.#dependencies))).sort((a, b) => compareKeys(a[0]!, b[0]!)));
  }

  /** The graph with no objects (what "before" is for the first commit ever seen). */
  static empty(): DesiredGraph {
    return (emptyGraph ??= new DesiredGraph([]));
  }

  /** The entry (key, object, source) with this key, or undefined. */
  get(key: ResourceKey): GraphEntry | undefined {
    return this.#entries.get(key);
  }

  /** True when an object with this key is in the graph. */
  has(key: ResourceKey): boolean {
    return this.#entries.has(key);
  }

  /** All keys, sorted by code unit. */
  keys(): readonly ResourceKey[] {
    return this.#keys;
  }

  /** All objects, sorted by key. */
  objects(): readonly DesiredObject[] {
    return this.#sorted;
  }

  /** The entries of one kind, sorted by key, typed by kind (ofKind("Node")[0].object is a Node). */
  ofKind<K extends Kind>(kind: K): readonly GraphEntry<ObjectOfKind<K>>[] {
    let list = this.#byKind.get(kind);
    if (!list) {
      list = Object.freeze(this.#keys.map((k) => this.#entries.get(k)!).filter((e) => e.object.kind === kind));
      this.#byKind.set(kind, list);
    }
    return list as readonly GraphEntry<ObjectOfKind<K>>[];
  }

  /** Keys the object depends on (must be applied before it), sorted; [] for unknown keys. */
  dependenciesOf(key: ResourceKey): readonly ResourceKey[] {
    return this.#dependencies.get(key) ?? EMPTY;
  }

  /** Keys that depend on the object (applied after it, deleted before it), sorted; [] for unknown keys. */
  dependentsOf(key: ResourceKey): readonly ResourceKey[] {
    return this.#dependents.get(key) ?? EMPTY;
  }

  /** Every edge, sorted by (from, to). */
  edges(): GraphEdge[] {
    const out: GraphEdge[] = [];
    for (const from of this.#keys) for (const to of this.dependentsOf(from)) out.push({ from, to });
    return out;
  }

  /**
   * All keys, dependencies before dependents; among keys whose dependencies are all placed, the one with the
   * lowest sync wave, then the smallest key, comes first, so the order is a function of the graph alone.
   * When no edge goes from a higher wave to a lower one (see `waveConflicts()`), the order is sorted by wave:
   * every key of wave n comes before every key of wave n + 1. A conflicting edge is still respected (the
   * dependency comes first). If there are cycles (reported by `cycles()`, and as errors by buildGraph) the
   * first key (by wave, then key) still waiting is placed next to break them.
   */
  order(): readonly ResourceKey[] {
    return this.#order;
  }

  /**
   * The sync wave of an object: the integer in its argocd.argoproj.io/sync-wave annotation, 0 when it has
   * none (or an invalid one, which the manifest stage reports). 0 for keys not in the graph.
   */
  waveOf(key: ResourceKey): number {
    return this.#waveOf.get(key) ?? 0;
  }

  /**
   * order() split by wave: one entry per wave that has objects, lowest wave first, each with its keys in
   * order() order. A coordinated rollout applies wave by wave, waiting for each to be healthy.
   */
  waves(): readonly Wave[] {
    if (!this.#waves) {
      const groups = new Map<number, ResourceKey[]>();
      for (const k of this.#order) {
        const w = this.waveOf(k);
        let list = groups.get(w);
        if (!list) groups.set(w, (list = []));
        list.push(k);
      }
      this.#waves = Object.freeze([...groups.entries()].sort((a, b) => a[0] - b[0]).map(([wave, keys]) => Object.freeze({ wave, keys: Object.freeze(keys) })));
    }
    return this.#waves;
  }

  /**
   * The edges whose dependency is in a later wave than its dependent, sorted by (from, to): the two orders
   * contradict each other. buildGraph reports each as a DependencyCycle error naming both waves.
   */
  waveConflicts(): readonly GraphEdge[] {
    return this.#waveConflicts;
  }

  /**
   * One cycle per strongly connected component that has one, each listed in "depends on" order starting at
   * its smallest key ([a, b] means a depends on b and b depends on a; [a] is a self-dependency); sorted by
   * first key. Empty when the graph is acyclic.
   */
  cycles(): readonly (readonly ResourceKey[])[] {
    return this.#cycles;
  }
}

let emptyGraph: DesiredGraph | undefined;

function addTo(map: Map<ResourceKey, Set<ResourceKey>>, key: ResourceKey, value: ResourceKey): void {
  let set = map.get(key);
  if (!set) map.set(key, (set = new Set()));
  set.add(value);
}

function freezeAdjacency(map: Map<ResourceKey, Set<ResourceKey>>): ReadonlyMap<ResourceKey, readonly ResourceKey[]> {
  const out = new Map<ResourceKey, readonly ResourceKey[]>();
  for (const [k, set] of map) out.set(k, Object.freeze([...set].sort(compareKeys)));
  return out;
}

/**
 * Plain data (what manifests parse to: objects, arrays, scalars) deep-frozen for the graph: the value itself
 * when it is deep-frozen already (the loader's objects are: manifest/load.ts freezes what it caches, so
 * they are shared rather than copied, ~5 % of a cold load), a deep-frozen copy otherwise, which keeps the
 * caller's objects mutable. The check walks without allocating; a hand-written copy is ~3x cheaper than
 * structuredClone for many small objects.
 */
function frozenCopy<T>(value: T): T {
  return isDeepFrozen(value) ? value : copyFrozen(value);
}

function isDeepFrozen(value: unknown): boolean {
  if (value === null || typeof value !== "object") return true;
  if (!Object.isFrozen(value)) return false;
  if (Array.isArray(value)) return value.every(isDeepFrozen);
  for (const k of Object.keys(value)) if (!isDeepFrozen((value as Record<string, unknown>)[k])) return false;
  return true;
}

function copyFrozen<T>(value: T): T {
  if (value === null || typeof value !== "object") return value;
  if (Array.isArray(value)) return Object.freeze(value.map(copyFrozen)) as T;
  const out: Record<string, unknown> = {};
  for (const k of Object.keys(value)) out[k] = copyFrozen((value as Record<string, unknown>)[k]);
  return Object.freeze(out) as T;
}

/**
 * Kahn's algorithm with a min-heap of ready keys ordered by `before` (wave, then key). When every waiting key
 * waits on a cycle, the first key (by `before`) of a cycle whose outside dependencies are all placed goes
 * next, so a cycle never drags unrelated keys (that merely depend on it) ahead of their dependencies.
 */
function topologicalOrder(
  keys: readonly ResourceKey[],
  deps: ReadonlyMap<ResourceKey, readonly ResourceKey[]>,
  dents: ReadonlyMap<ResourceKey, readonly ResourceKey[]>,
  components: readonly ReadonlySet<ResourceKey>[],
  before: (a: ResourceKey, b: ResourceKey) => boolean,
): ResourceKey[] {
  const waiting = new Map<ResourceKey, number>();
  const ready = new MinHeap(before);
  for (const k of keys) {
    const n = deps.get(k)?.length ?? 0;
    waiting.set(k, n);
    if (n === 0) ready.push(k);
  }
  const componentOf = new Map<ResourceKey, ReadonlySet<ResourceKey>>();
  for (const c of components) for (const k of c) componentOf.set(k, c);
  const placed = new Set<ResourceKey>();
  const out: ResourceKey[] = [];
  let byRank: ResourceKey[] | undefined; // keys sorted by `before`, built only when a cycle must be broken
  while (out.length < keys.length) {
    let next = ready.pop();
    if (next === undefined) next = breakCycle((byRank ??= [...keys].sort((a, b) => (before(a, b) ? -1 : before(b, a) ? 1 : 0))), deps, componentOf, placed);
    else if (placed.has(next)) continue;
    placed.add(next);
    out.push(next);
    for (const d of dents.get(next) ?? EMPTY) {
      if (placed.has(d)) continue;
      const n = waiting.get(d)! - 1;
      waiting.set(d, n);
      if (n === 0) ready.push(d);
    }
  }
  return out;
}

/**
 * The first unplaced key (in `keys` order: by wave, then key) of a cyclic component none of whose members
 * waits on anything outside it, so that whole components keep their dependency order and only edges inside
 * a cycle give way.
 */
function breakCycle(keys: readonly ResourceKey[], deps: ReadonlyMap<ResourceKey, readonly ResourceKey[]>, componentOf: ReadonlyMap<ResourceKey, ReadonlySet<ResourceKey>>, placed: ReadonlySet<ResourceKey>): ResourceKey {
  const free = new Map<ReadonlySet<ResourceKey>, boolean>();
  for (const k of keys) {
    const c = componentOf.get(k);
    if (placed.has(k) || !c) continue;
    let ok = free.get(c);
    if (ok === undefined) {
      ok = [...c].every((m) => (deps.get(m) ?? EMPTY).every((d) => placed.has(d) || c.has(d)));
      free.set(c, ok);
    }
    if (ok) return k;
  }
  // Unreachable: when nothing is ready, some cycle has all its outside dependencies placed.
  throw new Error("DesiredGraph: topological order is stuck without a cycle");
}

/**
 * Tarjan's strongly connected components (iterative: depends-on chains can be long). Returns only the
 * components that contain a cycle: two or more keys, or one key that depends on itself.
 */
function cyclicComponents(keys: readonly ResourceKey[], deps: ReadonlyMap<ResourceKey, readonly ResourceKey[]>): ReadonlySet<ResourceKey>[] {
  const index = new Map<ResourceKey, number>();
  const low = new Map<ResourceKey, number>();
  const onStack = new Set<ResourceKey>();
  const stack: ResourceKey[] = [];
  const components: Set<ResourceKey>[] = [];
  let counter = 0;
  const visit = (k: ResourceKey): void => {
    index.set(k, counter);
    low.set(k, counter++);
    stack.push(k);
    onStack.add(k);
  };
  for (const root of keys) {
    if (index.has(root)) continue;
    const frames: { key: ResourceKey; next: number }[] = [{ key: root, next: 0 }];
    visit(root);
    while (frames.length > 0) {
      const frame = frames[frames.length - 1]!;
      const out = deps.get(frame.key) ?? EMPTY;
      if (frame.next < out.length) {
        const w = out[frame.next++]!;
        if (!index.has(w)) {
          visit(w);
          frames.push({ key: w, next: 0 });
        } else if (onStack.has(w)) {
          low.set(frame.key, Math.min(low.get(frame.key)!, index.get(w)!));
        }
        continue;
      }
      frames.pop();
      const parent = frames[frames.length - 1];
      if (parent) low.set(parent.key, Math.min(low.get(parent.key)!, low.get(frame.key)!));
      if (low.get(frame.key) === index.get(frame.key)) {
        const component = new Set<ResourceKey>();
        let w: ResourceKey;
        do {
          w = stack.pop()!;
          onStack.delete(w);
          component.add(w);
        } while (w !== frame.key);
        if (component.size > 1 || (deps.get(w) ?? EMPTY).includes(w)) components.push(component);
      }
    }
  }
  return components;
}

/**
 * A shortest cycle through the smallest key of a cyclic strongly connected component, following "depends on"
 * edges in sorted order (breadth first), so the same graph always names the same cycle.
 */
function cycleIn(component: ReadonlySet<ResourceKey>, deps: ReadonlyMap<ResourceKey, readonly ResourceKey[]>): ResourceKey[] {
  const start = [...component].sort(compareKeys)[0]!;
  const parent = new Map<ResourceKey, ResourceKey>();
  const queue: ResourceKey[] = [start];
  for (let i = 0; i < queue.length; i++) {
    const k = queue[i]!;
    for (const d of deps.get(k) ?? EMPTY) {
      if (!component.has(d)) continue;
      if (d === start) {
        const path: ResourceKey[] = [];
        for (let c: ResourceKey | undefined = k; c !== undefined; c = parent.get(c)) path.push(c);
        return path.reverse();
      }
      if (!parent.has(d)) {
        parent.set(d, k);
        queue.push(d);
      }
    }
  }
  throw new Error("DesiredGraph: a cyclic component without a cycle through its smallest key");
}

/** A binary min-heap of keys ordered by `before`; enough for Kahn's ready set. */
class MinHeap {
  readonly #items: ResourceKey[] = [];
  readonly #before: (a: ResourceKey, b: ResourceKey) => boolean;

  constructor(before: (a: ResourceKey, b: ResourceKey) => boolean) {
    this.#before = before;
  }

  push(key: ResourceKey): void {
    const a = this.#items;
    a.push(key);
    let i = a.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!this.#before(a[i]!, a[p]!)) break;
      [a[p], a[i]] = [a[i]!, a[p]!];
      i = p;
    }
  }

  pop(): ResourceKey | undefined {
    const a = this.#items;
    if (a.length === 0) return undefined;
    const top = a[0]!;
    const last = a.pop()!;
    if (a.length > 0) {
      a[0] = last;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < a.length && this.#before(a[l]!, a[m]!)) m = l;
        if (r < a.length && this.#before(a[r]!, a[m]!)) m = r;
        if (m === i) break;
        [a[m], a[i]] = [a[i]!, a[m]!];
        i = m;
      }
    }
    return top;
  }
}
