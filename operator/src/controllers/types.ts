/**
 * What controllers need from the rest of the operator, as small interfaces, so that the sync loop, the
 * CLI and tests can provide them.
 */
import type { WorkloadEvent } from "../api/conditions.js";
import type { Logger } from "../api/log.js";
import type { DesiredObject } from "../api/objects.js";
import type { DesiredGraph } from "../graph/index.js";
import type { WorkloadRecord } from "../status/types.js";
import type { RolloutTrafficState } from "../traffic/types.js";

/** What one workload's controller drives toward right now. */
export interface DesiredEntry {
  /** The object as the controller must drive it now (during a coordinated rollout, maybe the previous one). */
  object: DesiredObject;
  /** The graph the object comes from (for the ConfigMaps, PriorityClasses… it refers to). */
  graph: DesiredGraph;
  /** That graph's commit. */
  commit: string;
  /** Take no step (a rollback failed; coxswain waits for a new commit). */
  paused: boolean;
}

/** The desired state currently applied. */
export interface DesiredView {
  /** The target graph; undefined until a valid commit has been applied (then nothing is created or deleted). */
  graph(): DesiredGraph | undefined;
  /** The target commit. */
  commit(): string | undefined;
  /** False while controllers must create and remove nothing (the head has not been read since start). */
  ready?(): boolean;
  /** What the workload's controller drives now; undefined = not desired (its pods go). */
  entry(key: string): DesiredEntry | undefined;
  /**
   * The object `key` had at `commit`, with that commit's graph — to rebuild the template of an older
   * revision from Git (scaling old revisions proportionally). undefined when it cannot be read.
   */
  objectAt?(commit: string, key: string): Promise<{ object: DesiredObject; graph: DesiredGraph } | undefined>;
}

/** A workload's rollout as the sync loop needs it to decide a commit's phase. */
export interface WorkloadState {
  key: string;
  /** Revision the workload wants now. */
  revision: string;
  /** Commit whose desired state this reconcile acted on. */
  commit: string;
  /** Done: all pods on the wanted revision, available, nothing old left, and healthy for the monitor window. */
  complete: boolean;
  /**
   * All pods on the wanted revision, available, nothing old left, no failure seen — the monitor window may
   * still run. A commit replaced by a newer one in this state still counts as the rollback target.
   */
  rolledOut: boolean;
  /** The rollout failed (progress deadline exceeded, a pod never started, crash loops). */
  failed: boolean;
  /** Why it failed: an error code (ProgressDeadlineExceeded, PodStartDeadlineExceeded, CrashLoopBackOff). */
  failureCode?: string;
  /** One line for logs and commit records. */
  message: string;
}

/** Where controllers report what they observe and decide. */
export interface WorkloadReporter {
  /** The workload's record for the status branch and its state for the commit's phase. */
  report(record: WorkloadRecord, state: WorkloadState): void;
  /** The workload is gone (deleted from Git and its pods removed). */
  removed(key: string): void;
  /** Previously recorded events of a workload (read back from the status branch after a restart). */
  previousEvents(key: string): WorkloadEvent[];
  /** The workload's record as last written (read back from the status branch after a restart). */
  previousRecord?(key: string): WorkloadRecord | undefined;
  /** The logger of workload `key`: its lines carry the workload and the commit its controller drives. */
  log(key: string): Logger;
}

/**
 * What the workload controller tells about Rollouts' traffic and asks back (controllers/traffic-board.ts
 * holds it between the two controllers; neither knows the other).
 */
export interface RolloutTrafficPort {
  /** The traffic the Rollout (its key) decided now; undefined: it has none (it is gone). */
  want(rollout: string, state: RolloutTrafficState | undefined): void;
  /** The traffic every node's proxy runs for the Rollout, once all run the same; undefined before. */
  applied(rollout: string): RolloutTrafficState | undefined;
}

/** What the service controller reads about Rollouts' traffic and tells back. */
export interface ServiceTrafficPort {
  /**
   * The traffic each of these Rollouts (keys) wants: as last decided, or, for one not decided since the
   * operator started, as last recorded (so that a restart does not send requests by pod counts for a
   * moment). A Rollout with neither is left out.
   */
  wanted(rollouts: readonly string[]): Map<string, RolloutTrafficState>;
  /** Every node's proxy runs `state` for the Rollout (undefined: not every one does). */
  setApplied(rollout: string, state: RolloutTrafficState | undefined): void;
}

/**
 * The replica counts autoscalers set (controllers/autoscaler implements it); the controllers of the kinds an
 * autoscaler may scale (the workload controller, the StatefulSet controller) read it in place of spec.replicas.
 */
export interface ReplicaCountPort {
  /** The count an autoscaler set for the workload (its key); undefined: spec.replicas in Git rules. */
  replicas(workload: string): number | undefined;
}
