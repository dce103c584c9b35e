/**
 * The live events of GET /api/v1/events (Server-Sent Events): commit phase changes, rollout steps, pod
 * readiness and node health, each with an id one more than the last.
 *
 * Ids start at the operator's start time in milliseconds, so that the ids of a later run are above those
 * of an earlier one: a client that resumes with the Last-Event-ID of a run that ended gets a `reset`, never
 * events it did not ask for. The last RING_SIZE events are kept in memory; a Last-Event-ID older than
 * them (or from another run) gets a `reset` event — re-read the state, then follow — before the live ones.
 *
 * FleetEvents turns the fleet's observations into pod and node events: only a change of readiness, phase
 * or node condition is an event, not every relisting.
 */
import type { ObservedNode, ObservedPod } from "../../runtime/fleet.js";
import type { CommitPhase, CommitRecord, WorkloadRecord } from "../../status/types.js";

/** Events kept for Last-Event-ID resumption. */
export const RING_SIZE = 1024;

/** The kinds of events. */
export type FeedEventType = "commit" | "rollout" | "pod" | "node";

/** One event: its id, kind and JSON data. */
export interface FeedEvent {
  id: number;
  type: FeedEventType;
  data: Record<string, unknown>;
}

/** What a client resuming from a Last-Event-ID gets first. */
export type Replay = { events: FeedEvent[] } | { reset: { lastEventId: number; oldestEventId: number | null } };

/** The ring of recent events and the live subscribers. */
export class EventFeed {
  private readonly ring: FeedEvent[] = [];
  private nextId: number;
  private readonly listeners = new Set<(e: FeedEvent) => void>();

  constructor(private readonly opts: { capacity?: number; firstId?: number } = {}) {
    this.nextId = opts.firstId ?? Date.now();
  }

  /** The id of the last event published (one below the first while there is none). */
  get lastId(): number {
    return this.nextId - 1;
  }

  /** Publishes an event to the ring and every subscriber. */
  publish(type: FeedEventType, data: Record<string, unknown>): FeedEvent {
    const event = { id: this.nextId++, type, data };
    this.ring.push(event);
    if (this.ring.length > (this.opts.capacity ?? RING_SIZE)) this.ring.shift();
    for (const l of this.listeners) {
      try {
        l(event);
      } catch {
        // A subscriber's failure is its own.
      }
    }
    return event;
  }

  /**
   * What follows `lastEventId`: the events after it when the ring still holds them all (none without an
   * id: a new client starts with the live events), else a reset.
   */
  since(lastEventId: number | undefined): Replay {
    if (lastEventId === undefined || lastEventId === this.lastId) return { events: [] };
    const oldest = this.ring[0]?.id;
    const covered = oldest === undefined ? false : lastEventId >= oldest - 1 && lastEventId <= this.lastId;
    if (!covered) return { reset: { lastEventId: this.lastId, oldestEventId: oldest ?? null } };
    return { events: this.ring.filter((e) => e.id > lastEventId) };
  }

  /** Calls `listener` with every event from now on; returns the unsubscribe. */
  subscribe(listener: (e: FeedEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The data of a commit event: a commit record entered `phase` (from `previous`, null when new). */
export function commitEvent(record: CommitRecord, previous: CommitPhase | undefined): Record<string, unknown> {
  return { sha: record.commit, subject: record.subject, phase: record.phase, previous: previous ?? null, message: record.message };
}

/**
 * The data of a rollout event when a workload's record moved a step — another revision, other replica
 * counts, another canary step or weight, paused or resumed, another Progressing/Available condition —
 * else undefined (events or pod details changing are not a step). Pure.
 */
export function rolloutEvent(previous: WorkloadRecord | undefined, next: WorkloadRecord): Record<string, unknown> | undefined {
  const step = (w: WorkloadRecord | undefined) =>
    w &&
    JSON.stringify([w.revision, w.replicas, w.canary?.step, w.canary?.weight, w.paused === true, w.conditions.filter((c) => c.type === "Progressing" || c.type === "Available").map((c) => [c.type, c.status, c.reason])]);
  if (previous && step(previous) === step(next)) return undefined;
  const progressing = next.conditions.find((c) => c.type === "Progressing");
  return {
    workload: `${next.kind}/${next.namespace}/${next.name}`,
    revision: next.revision,
    commit: next.commit,
    replicas: { ...next.replicas },
    canary: next.canary ? { step: next.canary.step, steps: next.canary.steps, weight: next.canary.weight } : null,
    paused: next.paused === true,
    progressing: progressing ? { status: progressing.status, reason: progressing.reason } : null,
  };
}

/** Turns fleet observations into pod readiness and node health events. */
export class FleetEvents {
  /** What was last told of each owner's pods, by owner then pod name. */
  private readonly pods = new Map<string, Map<string, { ready: boolean; phase: string }>>();
  private readonly nodes = new Map<string, string>();

  constructor(private readonly feed: EventFeed) {}

  /**
   * The pods of `owner` now: an event for each pod that became ready or not ready, changed phase, appeared or
   * is gone. Costs the owner's pods only (a 10,000-pod workload is looked at once per burst of changes).
   */
  owner(owner: string, pods: readonly ObservedPod[]): void {
    const known = this.pods.get(owner) ?? new Map<string, { ready: boolean; phase: string }>();
    const now = new Set<string>();
    for (const p of [...pods].sort((a, b) => (a.name < b.name ? -1 : 1))) {
      now.add(p.name);
      const before = known.get(p.name);
      if (before && before.ready === p.ready && before.phase === p.phase) continue;
      known.set(p.name, { ready: p.ready, phase: p.phase });
      this.feed.publish("pod", { pod: p.name, workload: owner, node: p.node, revision: p.revision, phase: p.phase, ready: p.ready, reason: p.ready ? null : (p.reason ?? null) });
    }
    for (const name of [...known.keys()].sort()) {
      if (now.has(name)) continue;
      known.delete(name);
      this.feed.publish("pod", { pod: name, workload: owner, node: null, revision: null, phase: "Deleted", ready: false, reason: null });
    }
    if (known.size > 0) this.pods.set(owner, known);
    else this.pods.delete(owner);
  }

  /** The nodes now: an event for each node whose condition changed (or that is new). */
  nodeList(nodes: readonly ObservedNode[]): void {
    for (const n of nodes) {
      if (this.nodes.get(n.config.name) === n.condition) continue;
      this.nodes.set(n.config.name, n.condition);
      this.feed.publish("node", { node: n.config.name, condition: n.condition, ready: n.condition === "Ready", message: n.error?.message ?? null });
    }
  }
}
