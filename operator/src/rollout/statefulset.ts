/**
 * A StatefulSet's step, as Kubernetes' StatefulSet controller decides it (pkg/controller/statefulset:
 * stateful_set_control.go updateStatefulSet), pure: pods by ordinal + spec + revisions → the ordinals to
 * create and the pods to delete now.
 *
 * One step per call, in Kubernetes' order:
 *  1. Pods whose name is not "<set>-<ordinal>", or a second pod of an ordinal, are deleted (never ours to keep).
 *  2. Ordinals 0..replicas-1, ascending: a missing one is created — with the update revision, or, below the
 *     RollingUpdate partition, with the current revision. OrderedReady creates one and waits; it also waits
 *     while an ordinal is terminating or not Running and Ready. Parallel creates every missing one at once.
 *     One difference from Kubernetes: with RollingUpdate, a pod that is not ready and is of another revision
 *     than the one its ordinal should have (the update revision, or below the partition the current one) is
 *     deleted rather than waited for (Kubernetes waits, and a StatefulSet stuck on a
 *     crash-looping pod needs the pod deleted by hand; here the rollback of a failed revision needs it gone).
 *  3. Ordinals ≥ replicas (condemned), descending: deleted. OrderedReady deletes one at a time, and only
 *     while every other pod is Running and Ready; Parallel deletes them all.
 *  4. Rolling update (type RollingUpdate): from the highest ordinal down to the partition, the first pod not
 *     on the update revision is deleted (step 2 recreates it with the update revision next time); the step
 *     waits while any of those pods is not available (Ready for minReadySeconds) or is terminating. OnDelete
 *     deletes nothing: a pod takes the update revision when it is gone (deleted by hand, lost with its node).
 *
 *  5. Drain: when nothing else moves and every pod is ready, the highest ordinal on a draining node is deleted
 *     (one at a time); step 2 creates it again elsewhere, unless its claims keep it on that node. It is the
 *     step's `evict`: a voluntary eviction, which the controller lets go only while the PodDisruptionBudgets
 *     over it allow (deletions of steps 1–4 are the set's own and, as in Kubernetes, not limited by budgets).
 *
 * A pod that still exists in any phase holds its ordinal: a replacement is made only once it is gone (at most
 * one pod per ordinal: a pod of a lost node leaves the observed pods at the fleet's eviction timeout).
 */

/** A pod of the set as observed. */
export interface StatefulPod {
  name: string;
  revision: string;
  /** Being stopped. */
  terminating: boolean;
  /** Running and Ready. */
  ready: boolean;
  /** Epoch ms since when the pod has been ready continuously. */
  readySince?: number;
}

/** What statefulSetStep reads. */
export interface StatefulSetInput {
  /** The set's name: its pods are "<name>-<ordinal>". */
  name: string;
  replicas: number;
  podManagementPolicy: "OrderedReady" | "Parallel";
  updateStrategy: "RollingUpdate" | "OnDelete";
  /** RollingUpdate only: ordinals below it keep (and are recreated with) the current revision. */
  partition: number;
  /** The revision of the template in Git. */
  updateRevision: string;
  /** The revision the set ran before (undefined: none yet, the update revision is used). */
  currentRevision?: string;
  minReadySeconds: number;
  /** Epoch ms. */
  now: number;
  /** Every observed pod of the set, terminating ones too. */
  pods: readonly StatefulPod[];
  /** Pods on a node being drained (by name): moved one at a time, as `kubectl drain` evicts them. */
  draining?: readonly string[];
}

/** Counts reported in status, as StatefulSet.status does. */
export interface StatefulSetCounts {
  /** Pods that are not terminating. */
  replicas: number;
  ready: number;
  /** Ready for minReadySeconds. */
  available: number;
  /** On the update revision. */
  updated: number;
}

/** The step: what to do now and where the set stands. */
export interface StatefulSetStep {
  /** Ordinals to create now, ascending, with the revision each gets. */
  create: { ordinal: number; name: string; revision: string }[];
  /** Pods to delete now, by name. */
  delete: string[];
  /** The one of `delete` that is a drain's move (a voluntary eviction, which PodDisruptionBudgets may hold). */
  evict?: string;
  counts: StatefulSetCounts;
  /** Every ordinal below replicas exists and is available, none above, each at the revision it should have. */
  complete: boolean;
  /** Something moved (a pod created or deleted): the progress clock restarts. */
  progressed: boolean;
  /** What the set waits for, when it waits. */
  reason?: string;
  /** Look again then (a pod's minReadySeconds ends). */
  requeueAfterMs?: number;
}

/** The ordinal of a pod name of set `name` ("web-2" → 2), or undefined when it is not one. */
export function ordinalOf(name: string, pod: string): number | undefined {
  if (!pod.startsWith(`${name}-`)) return undefined;
  const rest = pod.slice(name.length + 1);
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : undefined;
}

/** The pod name of an ordinal: "<set>-<ordinal>". */
export function statefulPodName(name: string, ordinal: number): string {
  return `${name}-${ordinal}`;
}

/** The next step of a StatefulSet (see the file comment). */
export function statefulSetStep(input: StatefulSetInput): StatefulSetStep {
  const { name, replicas, now } = input;
  const ordered = input.podManagementPolicy === "OrderedReady";
  const minReadyMs = input.minReadySeconds * 1000;
  const create: StatefulSetStep["create"] = [];
  const del: string[] = [];
  let reason: string | undefined;
  let requeueAfterMs: number | undefined;
  const soonest = (ms: number) => {
    if (requeueAfterMs === undefined || ms < requeueAfterMs) requeueAfterMs = Math.max(1, ms);
  };
  const available = (p: StatefulPod): boolean => {
    if (!p.ready || p.terminating) return false;
    if (minReadyMs === 0) return true;
    const since = p.readySince ?? now;
    if (since + minReadyMs <= now) return true;
    soonest(since + minReadyMs - now);
    return false;
  };
  const wait = (why: string) => {
    reason ??= why;
  };

  // 1. One pod per ordinal; anything else goes.
  const byOrdinal = new Map<number, StatefulPod>();
  for (const p of [...input.pods].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0))) {
    const o = ordinalOf(name, p.name);
    if (o === undefined || byOrdinal.has(o)) {
      if (!p.terminating) del.push(p.name);
      continue;
    }
    byOrdinal.set(o, p);
  }
  const live = [...byOrdinal.values()].filter((p) => !p.terminating);
  const counts: StatefulSetCounts = {
    replicas: live.length,
    ready: live.filter((p) => p.ready).length,
    available: live.filter(available).length,
    updated: live.filter((p) => p.revision === input.updateRevision).length,
  };
  const rolling = input.updateStrategy === "RollingUpdate";
  const partition = rolling ? Math.min(input.partition, replicas) : 0;
  const revisionFor = (ordinal: number): string => (rolling && ordinal < partition && input.currentRevision !== undefined ? input.currentRevision : input.updateRevision);

  // 2. Ordinals below replicas, ascending.
  let blocked = false;
  for (let o = 0; o < replicas; o++) {
    const p = byOrdinal.get(o);
    if (p === undefined) {
      if (blocked) break;
      create.push({ ordinal: o, name: statefulPodName(name, o), revision: revisionFor(o) });
      if (ordered) {
        wait(`waiting for ${statefulPodName(name, o)} to be Running and Ready before the next ordinal`);
        blocked = true;
      }
      continue;
    }
    if (!blocked && !p.terminating && !p.ready && rolling && p.revision !== revisionFor(o)) {
      // Waiting for a pod of another revision to become ready is waiting for nothing: it is replaced now. This
      // is what lets a rollback (the revision before, in Git again) replace a pod that crash-loops.
      del.push(p.name);
      wait(`replacing ${p.name}, which is not ready, with revision ${revisionFor(o)}`);
      if (ordered) blocked = true;
      continue;
    }
    if (ordered && !blocked && (p.terminating || !p.ready)) {
      wait(p.terminating ? `waiting for ${p.name} to stop before it is created again` : `waiting for ${p.name} to be Running and Ready before the next ordinal`);
      blocked = true;
    }
  }

  // 3. Condemned ordinals, descending.
  const condemned = [...byOrdinal.entries()].filter(([o]) => o >= replicas).sort(([a], [b]) => b - a);
  if (!blocked) {
    for (const [, p] of condemned) {
      if (p.terminating) {
        if (ordered) {
          wait(`waiting for ${p.name} to stop before scaling down further`);
          blocked = true;
          break;
        }
        continue;
      }
      if (ordered) {
        const unready = live.find((q) => q !== p && !q.ready);
        if (unready) {
          wait(`waiting for ${unready.name} to be Running and Ready before removing ${p.name}`);
          blocked = true;
          break;
        }
      }
      del.push(p.name);
      if (ordered) {
        blocked = true;
        break;
      }
    }
  }

  // 4. Rolling update from the highest ordinal down to the partition, one pod at a time.
  let outdated = false;
  for (let o = replicas - 1; o >= partition; o--) {
    const p = byOrdinal.get(o);
    if (p !== undefined && !p.terminating && p.revision !== input.updateRevision) outdated = true;
  }
  if (rolling && !blocked && create.length === 0 && condemned.length === 0) {
    for (let o = replicas - 1; o >= partition; o--) {
      const p = byOrdinal.get(o);
      if (p === undefined) break;
      if (del.includes(p.name)) break;
      if (p.revision !== input.updateRevision && !p.terminating) {
        del.push(p.name);
        wait(`updating ${p.name} to revision ${input.updateRevision}`);
        break;
      }
      if (p.terminating || !available(p)) {
        wait(`waiting for ${p.name} to be available before updating the next ordinal`);
        break;
      }
    }
  }

  // 5. Drain: when nothing else moves and every pod is ready, the highest ordinal on a draining node goes;
  // step 2 creates it again (on another node, unless its claims hold it on that one).
  const draining = new Set(input.draining ?? []);
  const moving = [...byOrdinal.entries()].filter(([, p]) => draining.has(p.name) && !p.terminating).sort(([a], [b]) => b - a)[0];
  let evict: string | undefined;
  if (moving !== undefined && del.length === 0 && create.length === 0 && !blocked && live.every((p) => p.ready) && live.length === [...byOrdinal.values()].length) {
    evict = moving[1].name;
    del.push(evict);
    wait(`moving ${evict} off a draining node`);
  }

  let complete = condemned.length === 0 && del.length === 0 && create.length === 0 && moving === undefined;
  for (let o = 0; o < replicas && complete; o++) {
    const p = byOrdinal.get(o);
    if (p === undefined || p.terminating || !available(p)) complete = false;
  }
  if (rolling && outdated) complete = false;
  if (!complete && reason === undefined && requeueAfterMs !== undefined) reason = `waiting for pods to be ready for minReadySeconds (${input.minReadySeconds}s)`;
  return {
    create,
    delete: del,
    ...(evict !== undefined ? { evict } : {}),
    counts,
    complete,
    progressed: create.length > 0 || del.length > 0,
    ...(reason !== undefined && !complete ? { reason } : {}),
    ...(requeueAfterMs !== undefined ? { requeueAfterMs } : {}),
  };
}
