/**
 * The scheduling queue for pods that wait for a node: kube-scheduler's PriorityQueue as a pure data structure
 * with an injectable clock (no timers: the caller calls flush() when nextFlushAt() comes).
 *
 * - activeQ: ready to be tried, highest priority first, then the longest waiting (the time it entered the
 *   queue or last failed), then insertion order.
 * - backoffQ: failed recently; waits 1 s doubling per attempt up to 10 s (initial/max configurable), then
 *   returns to activeQ on flush().
 * - unschedulable pool: failed and waiting for the fleet to change. moveAllToActive(event) moves the pods the
 *   event may help (by the filter plugins that rejected them) to backoffQ or activeQ; flush() moves those
 *   waiting longer than 5 min.
 *
 * A pod that fails while an event arrives during its attempt goes to backoffQ, not the pool, so the event is
 * not lost (kube-scheduler's moveRequestCycle). Items are keyed by id; the integrator keys pods by owner.
 */
import { CoxError } from "../api/errors.js";

/** Cluster changes that may make waiting pods schedulable. */
export type ClusterEvent = "NodeAdded" | "NodeChanged" | "NodeRemoved" | "PodAdded" | "PodChanged" | "PodRemoved";

/**
 * For each event, the filter plugins whose rejections it may undo (kube-scheduler's EventsToRegister);
 * "all" for any. A pod rejected by plugins outside the set stays in the pool for that event.
 */
export const EVENT_PLUGINS: Readonly<Record<ClusterEvent, "all" | ReadonlySet<string>>> = Object.freeze({
  NodeAdded: "all",
  NodeChanged: "all",
  NodeRemoved: new Set(["PodTopologySpread", "InterPodAffinity"]),
  PodAdded: new Set(["PodTopologySpread", "InterPodAffinity"]),
  PodChanged: new Set(["PodTopologySpread", "InterPodAffinity"]),
  PodRemoved: new Set(["NodePorts", "NodeResourcesFit", "PodTopologySpread", "InterPodAffinity"]),
});

/** Plugins whose rejections any event may undo (coxswain's built-in plugin names); others move on every event. */
const KNOWN_PLUGINS = new Set([
  "NodeUnschedulable",
  "NodeName",
  "TaintToleration",
  "NodeAffinity",
  "NodePorts",
  "NodeResourcesFit",
  "PodTopologySpread",
  "InterPodAffinity",
]);

/** Options of a SchedulingQueue. */
export interface SchedulingQueueOptions {
  /** The clock, ms (default Date.now). */
  now?: () => number;
  /** First backoff (default 1,000 ms: podInitialBackoffSeconds 1). */
  initialBackoffMs?: number;
  /** Backoff ceiling (default 10,000 ms: podMaxBackoffSeconds 10). */
  maxBackoffMs?: number;
  /** Longest stay in the unschedulable pool before flush() retries a pod (default 300,000 ms: 5 min). */
  maxUnschedulableMs?: number;
}

/** A queued pod. */
export interface QueuedPod<T> {
  readonly id: string;
  priority: number;
  data: T;
  /** Scheduling attempts so far (pop() counts one). */
  attempts: number;
  /** When it entered the queue, or last failed: orders pods of equal priority, and starts its backoff. */
  timestamp: number;
  /** When it was first added. */
  readonly firstSeen: number;
  /** Filter plugins that rejected it at its last attempt (empty: unknown, moved by any event). */
  plugins: readonly string[];
}

type Where = "active" | "backoff" | "unschedulable" | "inFlight";

interface Item<T> extends QueuedPod<T> {
  where: Where;
  seq: number;
  /** The scheduling cycle it was popped in. */
  cycle: number;
  heapIndex: number;
}

/** A binary min-heap with positions kept in the items (for removal by id). */
class Heap<T extends { heapIndex: number }> {
  readonly items: T[] = [];
  constructor(private readonly less: (a: T, b: T) => boolean) {}

  get size(): number {
    return this.items.length;
  }

  peek(): T | undefined {
    return this.items[0];
  }

  push(x: T): void {
    x.heapIndex = this.items.length;
    this.items.push(x);
    this.up(x.heapIndex);
  }

  pop(): T | undefined {
    const top = this.items[0];
    if (top !== undefined) this.remove(top);
    return top;
  }

  remove(x: T): void {
    const i = x.heapIndex;
    const last = this.items.pop()!;
    if (last !== x) {
      this.items[i] = last;
      last.heapIndex = i;
      this.down(i);
      this.up(last.heapIndex);
    }
    x.heapIndex = -1;
  }

  private swap(i: number, j: number): void {
    const a = this.items[i]!;
    const b = this.items[j]!;
    this.items[i] = b;
    this.items[j] = a;
    a.heapIndex = j;
    b.heapIndex = i;
  }

  private up(i: number): void {
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(this.items[i]!, this.items[parent]!)) break;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(i: number): void {
    const n = this.items.length;
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < n && this.less(this.items[l]!, this.items[m]!)) m = l;
      if (r < n && this.less(this.items[r]!, this.items[m]!)) m = r;
      if (m === i) return;
      this.swap(i, m);
      i = m;
    }
  }
}

/** The queue. T is whatever the caller keeps with a pod (its request, its owner key, …). */
export class SchedulingQueue<T = undefined> {
  private readonly now: () => number;
  private readonly initialBackoffMs: number;
  private readonly maxBackoffMs: number;
  private readonly maxUnschedulableMs: number;
  private readonly items = new Map<string, Item<T>>();
  private readonly active = new Heap<Item<T>>((a, b) =>
    a.priority !== b.priority ? a.priority > b.priority : a.timestamp !== b.timestamp ? a.timestamp < b.timestamp : a.seq < b.seq,
  );
  private readonly backoff = new Heap<Item<T>>((a, b) => {
    const ea = this.backoffExpiry(a);
    const eb = this.backoffExpiry(b);
    return ea !== eb ? ea < eb : a.seq < b.seq;
  });
  private readonly pool = new Map<string, Item<T>>();
  private seq = 0;
  private schedulingCycle = 0;
  private moveRequestCycle = -1;

  constructor(opts: SchedulingQueueOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.initialBackoffMs = opts.initialBackoffMs ?? 1_000;
    this.maxBackoffMs = opts.maxBackoffMs ?? 10_000;
    this.maxUnschedulableMs = opts.maxUnschedulableMs ?? 300_000;
    if (!(this.initialBackoffMs > 0) || !(this.maxBackoffMs >= this.initialBackoffMs) || !(this.maxUnschedulableMs > 0)) {
      throw new CoxError(
        "InvalidArgument",
        `queue backoff ${this.initialBackoffMs}..${this.maxBackoffMs} ms / unschedulable ${this.maxUnschedulableMs} ms is invalid; expected 0 < initial ≤ max and a positive unschedulable time`,
      );
    }
  }

  /** Backoff after `attempts` failed attempts: initial · 2^(attempts − 1), at most max (calculateBackoffDuration). */
  backoffDuration(attempts: number): number {
    let d = this.initialBackoffMs;
    for (let i = 1; i < attempts; i++) {
      if (d > this.maxBackoffMs - d) return this.maxBackoffMs;
      d += d;
    }
    return Math.min(d, this.maxBackoffMs);
  }

  private backoffExpiry(x: Item<T>): number {
    return x.timestamp + this.backoffDuration(x.attempts);
  }

  private isBackingOff(x: Item<T>, now: number): boolean {
    return x.attempts > 0 && this.backoffExpiry(x) > now;
  }

  private detach(x: Item<T>): void {
    if (x.where === "active") this.active.remove(x);
    else if (x.where === "backoff") this.backoff.remove(x);
    else if (x.where === "unschedulable") this.pool.delete(x.id);
  }

  private toActiveOrBackoff(x: Item<T>, now: number): void {
    this.detach(x);
    if (this.isBackingOff(x, now)) {
      x.where = "backoff";
      this.backoff.push(x);
    } else {
      x.where = "active";
      this.active.push(x);
    }
  }

  /**
   * Adds a pod, or updates one already queued (priority, data). A new pod goes to activeQ; an updated pod
   * waiting in the pool goes to backoffQ or activeQ (the update may make it fit); a pod in flight keeps its place.
   */
  add(id: string, priority: number, data: T): void {
    const now = this.now();
    const x = this.items.get(id);
    if (x === undefined) {
      const item: Item<T> = { id, priority, data, attempts: 0, timestamp: now, firstSeen: now, plugins: [], where: "active", seq: this.seq++, cycle: -1, heapIndex: -1 };
      this.items.set(id, item);
      this.active.push(item);
      return;
    }
    x.data = data;
    if (x.priority !== priority) {
      x.priority = priority;
      if (x.where === "active") {
        this.active.remove(x);
        this.active.push(x);
      }
    }
    if (x.where === "unschedulable") this.toActiveOrBackoff(x, now);
  }

  /** Takes the next pod to try (highest priority, then longest waiting), counting an attempt; undefined when none is ready. */
  pop(): QueuedPod<T> | undefined {
    const x = this.active.pop();
    if (x === undefined) return undefined;
    x.where = "inFlight";
    x.attempts++;
    x.cycle = ++this.schedulingCycle;
    return x;
  }

  /** Forgets a pod that was placed (or is no longer wanted). */
  done(id: string): void {
    this.delete(id);
  }

  /** Removes a pod from wherever it is. */
  delete(id: string): void {
    const x = this.items.get(id);
    if (x === undefined) return;
    this.detach(x);
    this.items.delete(id);
  }

  /**
   * A popped pod fits nowhere (AddUnschedulableIfNotPresent): it waits in the pool for a cluster event — or,
   * when an event arrived during its attempt, in backoffQ. `plugins` are the filters that rejected it
   * (Unschedulable.plugins), used to decide which events can help.
   */
  unschedulable(id: string, plugins: readonly string[] = []): void {
    const x = this.items.get(id);
    if (x === undefined || x.where !== "inFlight") return;
    x.timestamp = this.now();
    x.plugins = [...plugins];
    if (this.moveRequestCycle >= x.cycle) {
      x.where = "backoff";
      this.backoff.push(x);
    } else {
      x.where = "unschedulable";
      this.pool.set(x.id, x);
    }
  }

  /** A popped pod failed for another reason (an error): it retries after its backoff. */
  retry(id: string): void {
    const x = this.items.get(id);
    if (x === undefined || x.where !== "inFlight") return;
    x.timestamp = this.now();
    x.where = "backoff";
    this.backoff.push(x);
  }

  /**
   * The fleet changed (moveAllToActiveOrBackoffQueue): every pool pod the event may help goes to backoffQ (still
   * backing off) or activeQ. Pods in flight will go to backoffQ if they fail. Returns how many pods moved.
   */
  moveAllToActive(event: ClusterEvent): number {
    const now = this.now();
    const helps = EVENT_PLUGINS[event];
    let moved = 0;
    for (const x of [...this.pool.values()].sort((a, b) => a.seq - b.seq)) {
      if (helps !== "all" && x.plugins.length > 0 && x.plugins.every((p) => KNOWN_PLUGINS.has(p) && !helps.has(p))) continue;
      this.toActiveOrBackoff(x, now);
      moved++;
    }
    this.moveRequestCycle = this.schedulingCycle;
    return moved;
  }

  /**
   * Time passes: backoffQ pods whose backoff ended go to activeQ (flushBackoffQCompleted), and pool pods waiting
   * longer than maxUnschedulableMs go to backoffQ or activeQ (flushUnschedulablePodsLeftover). Returns how many moved.
   */
  flush(): number {
    const now = this.now();
    let moved = 0;
    for (let x = this.backoff.peek(); x !== undefined && this.backoffExpiry(x) <= now; x = this.backoff.peek()) {
      this.backoff.pop();
      x.where = "active";
      this.active.push(x);
      moved++;
    }
    for (const x of [...this.pool.values()].sort((a, b) => a.seq - b.seq)) {
      if (now - x.timestamp > this.maxUnschedulableMs) {
        this.toActiveOrBackoff(x, now);
        moved++;
      }
    }
    return moved;
  }

  /** When flush() will next move something (earliest backoff end or pool timeout); undefined when nothing waits. */
  nextFlushAt(): number | undefined {
    let t = Infinity;
    const b = this.backoff.peek();
    if (b !== undefined) t = this.backoffExpiry(b);
    for (const x of this.pool.values()) t = Math.min(t, x.timestamp + this.maxUnschedulableMs + 1);
    return t === Infinity ? undefined : t;
  }

  /** Where a pod is, or undefined when it is not queued. */
  state(id: string): Where | undefined {
    return this.items.get(id)?.where;
  }

  /** A queued pod's record. */
  get(id: string): Readonly<QueuedPod<T>> | undefined {
    return this.items.get(id);
  }

  /** How many pods are in each part of the queue. */
  sizes(): { active: number; backoff: number; unschedulable: number; inFlight: number } {
    let inFlight = 0;
    for (const x of this.items.values()) if (x.where === "inFlight") inFlight++;
    return { active: this.active.size, backoff: this.backoff.size, unschedulable: this.pool.size, inFlight };
  }

  /** The ids in activeQ in the order pop() would return them. */
  activeOrder(): string[] {
    return [...this.active.items].sort((a, b) => (this.activeLess(a, b) ? -1 : 1)).map((x) => x.id);
  }

  private activeLess(a: Item<T>, b: Item<T>): boolean {
    return a.priority !== b.priority ? a.priority > b.priority : a.timestamp !== b.timestamp ? a.timestamp < b.timestamp : a.seq < b.seq;
  }
}
