/**
 * What one reconcile of the workload controller (controller.ts) knows and what it remembers between
 * reconciles: the context its ordered steps fill in, and the memory restored from the status record.
 */
import type { Condition, WorkloadEvent } from "../../api/conditions.js";
import type { CoxError } from "../../api/errors.js";
import type { TemplateOwner } from "../../api/objects.js";
import type { DesiredGraph } from "../../graph/index.js";
import type { BlueGreenParams, BlueGreenStatus, CanaryStatus, CanaryStepSpec, PlannedStep, RevisionRecord, RevisionSizes, RolloutFailure, RolloutHealth, RolloutParams, Waiting } from "../../rollout/types.js";
import type { PodEnd, PodStep } from "../../rollout/index.js";
import type { ObservedPod } from "../../runtime/fleet.js";
import type { RolloutTrafficState, ServiceRole } from "../../traffic/types.js";
import type { AnalysisState } from "./analysis.js";
import type { TemplatePlan } from "./template.js";

/** The rollout strategy of a workload, as the controller drives it. */
type Strategy = "RollingUpdate" | "Recreate" | "Canary" | "BlueGreen" | "ReplicaSet" | "Pod";

/** What the controller remembers per workload between reconciles (restored from the status record). */
export interface Memory {
  revision: string;
  commit: string;
  lastProgressAt: number;
  sizes?: RevisionSizes;
  conditions: Condition[];
  events: WorkloadEvent[];
  history: RevisionRecord[];
  stable?: { revision: string; commit: string };
  /**
   * The revision whose rollout was complete, with no failure seen, at the last reconcile (not yet stable: its
   * monitor window runs). When a newer revision replaces it before the window ends, it becomes the stable
   * revision all the same: it completed and its pods were ready when it was replaced.
   */
  rolledOut?: string;
  canary?: CanaryStatus & { promoteBaseline?: string };
  /** The canary's last analysis step (measuring, or how it ended), with its windows. */
  analysis?: AnalysisState;
  blueGreen?: { active?: string; status?: BlueGreenStatus; promotedAt?: number; promoteBaseline?: string };
  waiting?: Waiting;
  weight?: number;
  /** The Rollout's traffic as last decided (told to the service controller). */
  traffic?: RolloutTrafficState;
  /** The failure the revision was first reported with, while it keeps failing. */
  failure?: { revision: string; failure: RolloutFailure };
  /** Some pod of the workload was stopping at the last reconcile. */
  sawStopping?: boolean;
  /**
   * When this process first saw each pod, and its restart count then. Failure detection judges a pod by
   * what happened since: a pod adopted after a restart (readiness not probed yet, restarts of unknown age)
   * gets a fresh start deadline and only its new crashes count, so adopting never fails a rollout.
   */
  seen: Map<string, { at: number; restarts: number }>;
  lastLine?: string;
  /** A bare Pod: where its pod of which revision was placed (it is never placed again), and how it ended. */
  placed?: { revision: string; node: string; ended?: PodEnd };
  /** A ReplicaSet: the revision whose "running pods keep their template" event was given. */
  templateNoted?: string;
}

/** Everything one reconcile knows; the steps fill it in order. */
export interface Ctx {
  key: string;
  kind: TemplateOwner["kind"];
  now: number;
  namespace: string;
  name: string;
  workload?: TemplateOwner;
  graph?: DesiredGraph;
  commit: string;
  paused: boolean;
  plan?: TemplatePlan;
  strategy?: Strategy;
  params?: RolloutParams;
  steps?: CanaryStepSpec[];
  blueGreen?: BlueGreenParams;
  /** A canary with trafficRouting: {} (coxswain's proxy as the router: Argo's traffic-routed counts). */
  trafficRouting?: boolean;
  /** A Rollout's Services (names in its namespace) and what each is to it, by name. */
  services?: { service: string; role: ServiceRole }[];
  pods: ObservedPod[];
  mem?: Memory;
  step?: PlannedStep & { waiting?: Waiting } & Pick<PodStep, "lost" | "ended">;
  health?: RolloutHealth;
  draining: string[];
  /** Drain moves a PodDisruptionBudget holds now: "drain of node a waits: PodDisruptionBudget …", by node. */
  drainBlocked?: Map<string, string>;
  requeueAfterMs?: number;
  unschedulable?: string;
  createErrors: CoxError[];
  events: Omit<WorkloadEvent, "time">[];
  done: boolean;
  /** A bare Pod's pod is created on this node only (it was placed there before). */
  nodeName?: string;
}

/** Asks for another reconcile after `ms` (at least 50 ms); the earliest of a reconcile's asks wins. */
export function requeue(ctx: Ctx, ms: number): void {
  const v = Math.max(50, Math.ceil(ms));
  ctx.requeueAfterMs = ctx.requeueAfterMs === undefined ? v : Math.min(ctx.requeueAfterMs, v);
}
