/**
 * What coxswain records in Git. Controllers and the sync loop fill these in; status/ renders them into the
 * status branch tree and the per-commit notes. Every list is sorted; no field changes unless a fact changed
 * (no "last seen" clocks), so recomputing the same state writes no new status commit.
 */
import type { Condition, WorkloadEvent } from "../api/conditions.js";

/** Phase of a processed commit of the deploy branch. */
export type CommitPhase =
  | "Pending"
  | "Invalid"
  | "Progressing"
  | "Succeeded"
  | "Failed"
  | "RolledBack"
  | "Quarantined"
  | "Superseded";

/** An error in a commit record (a manifest diagnostic or a rollout failure). */
export interface RecordedError {
  code: string;
  message: string;
  /** For manifest diagnostics: where. */
  file?: string;
  line?: number;
  col?: number;
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
  timings: { seen: string; applied?: string; finished?: string; /** ms from seen to finished */ durationMs?: number };
}

/** A pod as recorded in a workload file. */
export interface RecordedPod {
  name: string;
  node: string;
  revision: string;
  ready: boolean;
  /** "http=127.0.0.1:30001", … sorted. */
  endpoints: string[];
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
  pods: RecordedPod[];
  conditions: Condition[];
  /** Most recent last; at most 20. */
  events: WorkloadEvent[];
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
  nodes: { name: string; ready: boolean; pods: number; message?: string }[];
}
