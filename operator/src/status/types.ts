/**
 * What coxswain records in Git. Controllers and the sync loop fill these in; status/ renders them into the
 * status branch tree and the per-commit notes. Every list is sorted; no field changes unless a fact changed
 * (no "last seen" clocks), so recomputing the same state writes no new status commit.
 */
import type { Condition, WorkloadEvent } from "../api/conditions.js";

/** Phase of a processed commit of the deploy branch. */
export type CommitPhase = "Pending" | "Invalid" | "Progressing" | "Succeeded" | "Failed" | "RolledBack" | "Quarantined" | "Superseded";

/** An error in a commit record (a manifest diagnostic or a rollout failure). */
export interface RecordedError {
  code: string;
  message: string;
  /** For manifest diagnostics: where. */
  file?: string;
  line?: number;
  col?: number;
  /** The object it is about, e.g. "Deployment/shop/cart" (absent when the document does not say). */
  object?: string;
  field?: string;
}

/** One processed commit: commits/<oid[0:2]>/<oid>.yaml on the status branch. */
export interface CommitRecord {
  commit: string;
  branch: string;
  /** First line of the commit message. */
  subject: string;
  phase: CommitPhase;
  /** One line: why this phase, e.g. "3/3 pods of Deployment/default/web ready at revision 5d8f7c9b6". */
  message: string;
  /** What this commit changed against the previously applied one: "create Deployment/default/web", … sorted. */
  changes: string[];
  errors: RecordedError[];
  /** ISO-8601 times: seen (commit noticed), applied (desired state handed to controllers), finished. */
  timings: { seen: string; applied?: string; finished?: string /** ms from seen to finished */; durationMs?: number };
  /**
   * The newer commit that replaced this one while it was in flight: its rollout was cut short (Superseded),
   * or only its monitor window was (Succeeded: it had rolled out with every pod ready).
   */
  supersededBy?: string;
  /** True when the commit failed and must not be applied again until a newer commit supersedes it. */
  quarantined?: boolean;
  /** When the commit's rollout failed and coxswain rolled back: to which commit, and why (error code + message). */
  rollback?: { to: string; code: string; reason: string };
  /** Auto-revert of this (failed) commit: the revert commit, and whether it was committed, pushed or refused. */
  revert?: { state: "Committed" | "Pushed" | "Conflict" | "Failed"; commit?: string; message: string };
  /** The deploy branch was force-pushed: this head does not descend from the previous one. */
  historyRewritten?: boolean;
  /** For a merged proposal: the plan that was shown for it (path on the status branch, e.g. "plans/pr-12.yaml"). */
  plan?: string;
}

/** A pod as recorded in a workload file. */
export interface RecordedPod {
  name: string;
  node: string;
  revision: string;
  ready: boolean;
  /** "http=127.0.0.1:30001", … sorted. */
  endpoints: string[];
  /** Restarts of its containers (in place, by coxswain), when any. */
  restarts?: number;
  /** Why it is not ready, e.g. "CrashLoopBackOff", "StartupProbeFailing", when it is not. */
  state?: string;
}

/** One workload: workloads/<namespace>/<kind>-<name>.yaml on the status branch. */
export interface WorkloadRecord {
  kind: string;
  namespace: string;
  name: string;
  /** Revision (pod-template hash) the workload wants, and the commit that set it. */
  revision: string;
  commit: string;
  replicas: { desired: number; current: number; updated: number; ready: number; available: number };
  /**
   * A DaemonSet's counts as Kubernetes names them (DaemonSetStatus; replicas says the same in the columns
   * every workload has), and the nodes that should run its pod, sorted.
   */
  daemonSet?: {
    desiredNumberScheduled: number;
    currentNumberScheduled: number;
    numberMisscheduled: number;
    numberReady: number;
    updatedNumberScheduled: number;
    numberAvailable: number;
    numberUnavailable: number;
    nodes: string[];
  };
  pods: RecordedPod[];
  conditions: Condition[];
  /** Most recent last; at most 20. */
  events: WorkloadEvent[];
  /** "RollingUpdate" | "Recreate" | "Canary" | "BlueGreen" | "ReplicaSet" (ReplicaSet, ReplicationController) | "Pod". */
  strategy?: string;
  /** The last revision that completed healthy (the rollback target), and the commit that brought it. */
  stable?: { revision: string; commit: string };
  /** Revision history, oldest first, at most revisionHistoryLimit + 1 entries; numbers as Kubernetes' revision annotation. */
  revisions?: { number: number; revision: string; commit: string }[];
  /** The workload is paused (spec.paused, or after a rollback that itself failed). */
  paused?: boolean;
  /**
   * A bare Pod: the node its pod of this revision was scheduled to; it is never scheduled again; and, once
   * that pod ended (restartPolicy OnFailure or Never), how — it is never created again (read back after a restart).
   */
  placed?: { revision: string; node: string; ended?: "Succeeded" | "Failed" };
  /** A bare Pod: its phase (Pending, Running, Succeeded, Failed; Terminating while replaced) and its restartPolicy. */
  pod?: { phase: string; restartPolicy: string };
  /**
   * A StatefulSet's own state: its podManagementPolicy, the RollingUpdate partition, the revision every pod
   * had when it was last complete (what ordinals below the partition keep; read back after a restart), its
   * serviceName, and the claims of its ordinals below replicas (<template>-<set>-<ordinal>, sorted).
   */
  statefulSet?: { podManagementPolicy: string; partition?: number; currentRevision?: string; serviceName?: string; claims: string[] };
  /**
   * Canary progress: current step index, number of steps, current weight (percent of replicas), when the
   * current pause (or analysis) started, what it waits for, the coxswain.io/promote value seen when this
   * revision started (only a change of the annotation promotes), and the last analysis with its figures.
   */
  canary?: { revision?: string; step: number; steps: number; weight: number; pauseStartedAt?: string; waiting?: string; promoteBaseline?: string; analysis?: RecordedAnalysis };
  /**
   * Blue/green: the active and the preview revision, when the preview was promoted, when replaced sets go,
   * and the promote baseline (as for canary).
   */
  blueGreen?: { active?: string; preview?: string; promotedAt?: string; pauseStartedAt?: string; scaleDownAt?: Record<string, string>; waiting?: string; promoteBaseline?: string };
  /**
   * A Rollout's traffic as its Services carry it: canary — the stable and the canary revision and the share
   * of requests the canary's pods get (weight); blue/green — the active and the preview revision. Whether
   * every node's proxy runs it (applied), and which Services carry it: each with its role (split, canary,
   * stable, active, preview) and the revision it serves (none for a split: both). Read back after a restart,
   * so that the proxies keep it until the Rollout is decided again.
   */
  /**
   * A Job's run as `coxswain status` shows it (the details, failed pods' exit codes and logs included, are in
   * jobs/<namespace>/<name>.yaml): Running, Complete or Failed; completions as "succeeded/wanted"; ISO-8601 times.
   */
  job?: { phase: string; completions: string; active: number; failed: number; startTime: string; completionTime?: string };
  traffic?: {
    strategy: "canary" | "blueGreen";
    stable?: string;
    canary?: string;
    weight?: number;
    active?: string;
    preview?: string;
    applied: boolean;
    services: { service: string; role: string; revision?: string }[];
  };
}

/** What the node proxies measured of one revision in one window of a canary analysis. */
export interface RecordedFigures {
  requests: number;
  failed: number;
  /** Percent; absent without requests. */
  successRate?: number;
  /** HTTP requests, which the latency is measured over. */
  latencyRequests: number;
  /** Milliseconds; absent without HTTP requests. */
  latencyP95Ms?: number;
}

/**
 * The last canary analysis of a workload: the revision and step it measured, when it started, where it
 * stands (Running, Successful, Failed, Inconclusive) and why, and every window it measured with the new
 * (canary) and the stable revision's figures and how the window came out.
 */
export interface RecordedAnalysis {
  revision: string;
  step: number;
  startedAt: string;
  phase: string;
  message: string;
  windows: { from: string; to: string; phase: string; reason?: string; canary: RecordedFigures; stable: RecordedFigures }[];
}

/** summary.yaml: the one-glance view. */
export interface SummaryRecord {
  repository: string;
  branch: string;
  path: string;
  /** Last commit of the deploy branch that was processed and its phase. */
  head?: { commit: string; phase: CommitPhase };
  /** Last commit that was applied (valid) — what should be running. */
  applied?: string;
  workloads: { total: number; ready: number; progressing: number; failed: number };
  /** leaving: removed from Git, draining before it leaves the fleet (rollout/node-removal.ts). */
  nodes: { name: string; ready: boolean; pods: number; message?: string; cordoned?: boolean; draining?: boolean; leaving?: boolean }[];
  /** The last commit whose rollout succeeded: what an automatic rollback goes back to. */
  stable?: string;
  /** Commits that failed and are not applied again until a newer commit supersedes them, sorted. */
  quarantined?: string[];
  /** Faults of the deploy branch now (a fetch that fails, a branch or object that cannot be read), sorted by where. */
  faults?: SourceFault[];
}

/** A fault of the deploy branch: where ("fetch", "read"), its error code and message, and since when (ISO-8601). */
export interface SourceFault {
  where: string;
  code: string;
  message: string;
  since: string;
}

/** A proposal's plan: plans/<name>.yaml on the status branch (name: the branch with "/" → "-", or "pr-<n>"). */
export interface PlanRecord {
  /** The proposal ref, e.g. "refs/heads/pr/login" or "refs/pull/12/head". */
  ref: string;
  /** Its head commit, and the deploy-branch commit it was planned against. */
  commit: string;
  base?: string;
  valid: boolean;
  errors: RecordedError[];
  /** Per object, sorted in apply order. */
  changes: {
    action: "create" | "update" | "delete";
    key: string;
    fields: string[];
    /** For updates: what changed, for people ("replicas 2 → 4"); a Secret's values are never shown. */
    details?: string[];
    /** For workloads that would roll: the new revision and where each new pod would go. */
    rollsTo?: { revision: string; replicas: number };
    placements?: { pod: string; node?: string; fits: boolean; message?: string }[];
  }[];
  /** The preview environment of the proposal, when one runs. */
  preview?: { namespace: string; state: string; expiresAt?: string };
}
