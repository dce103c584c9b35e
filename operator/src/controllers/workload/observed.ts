/**
 * What every controller that makes pods derives the same way from the observed pods: the pods of a status
 * record, the events a reconcile adds to a record, and when this process first saw each pod (failure
 * detection judges an adopted pod only by what happened since). Pure.
 */
import type { WorkloadEvent } from "../../api/conditions.js";
import type { ObservedPod } from "../../runtime/fleet.js";
import type { HealthPod } from "../../rollout/types.js";
import type { RecordedPod } from "../../status/types.js";

/** Events kept per workload record. */
const MAX_EVENTS = 20;

/** The pods of a status record: node, revision, readiness, endpoints ("port=address:hostPort", sorted), restarts, state when not ready. */
export function recordedPods(live: readonly ObservedPod[], nodeAddress: (node: string) => string | undefined): RecordedPod[] {
  return live.map((p) => ({
    name: p.name,
    node: p.node,
    revision: p.revision,
    ready: p.ready,
    endpoints: p.ports.map((port) => `${port.name ?? String(port.containerPort)}=${nodeAddress(p.node) ?? "?"}:${port.hostPort}`).sort(),
    ...(p.restartCount > 0 ? { restarts: p.restartCount } : {}),
    ...(p.phase === "Succeeded" || p.phase === "Failed" ? { state: p.phase } : !p.ready && p.reason ? { state: p.reason } : {}),
  }));
}

/**
 * Appends a reconcile's events at `now`, in place, and keeps the last MAX_EVENTS. The same event again (a
 * condition that persists across reconciles) is not news: the first is kept.
 */
export function appendEvents(events: WorkloadEvent[], added: readonly Omit<WorkloadEvent, "time">[], now: Date): void {
  for (const e of added) {
    const last = events[events.length - 1];
    if (last && last.reason === e.reason && last.message === e.message) continue;
    events.push({ time: now.toISOString(), ...e });
  }
  if (events.length > MAX_EVENTS) events.splice(0, events.length - MAX_EVENTS);
}

/**
 * Records, in place, the pods seen for the first time and forgets pods that are gone: a pod created by this
 * process (after `startedAt`) is judged from its creation; one found running, from `now` with the restarts
 * it had, so adopting pods after a restart never fails a rollout.
 */
export function notePodsSeen(seen: Map<string, { at: number; restarts: number }>, pods: readonly ObservedPod[], startedAt: number, now: number): void {
  const names = new Set(pods.map((p) => p.name));
  for (const name of seen.keys()) if (!names.has(name)) seen.delete(name);
  for (const p of pods) {
    if (seen.has(p.name)) continue;
    seen.set(p.name, p.createdAt >= startedAt ? { at: p.createdAt, restarts: 0 } : { at: now, restarts: p.restartCount });
  }
}

/**
 * The pods as the rollout health judge sees them: created at the later of their creation and when this
 * process first saw them, restarts counted from then (see notePodsSeen, which must have recorded each pod).
 */
export function healthPodsOf(pods: readonly ObservedPod[], seen: ReadonlyMap<string, { at: number; restarts: number }>): HealthPod[] {
  return pods.map((p) => {
    const since = seen.get(p.name)!;
    return {
      name: p.name,
      createdAt: Math.max(p.createdAt, since.at),
      ready: p.ready,
      ...(p.readySince !== undefined ? { readySince: p.readySince } : {}),
      ...(p.firstReadyAt !== undefined ? { firstReadyAt: p.firstReadyAt } : {}),
      restartCount: Math.max(0, p.restartCount - since.restarts),
      crashLooping: p.crashLooping,
    };
  });
}
