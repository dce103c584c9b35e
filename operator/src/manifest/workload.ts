/**
 * Rules and defaults of the workload kinds, DaemonSet, Deployment, ReplicaSet, ReplicationController and
 * StatefulSet (Kubernetes' validation), Rollout (Argo Rollouts' validation) and the bare Pod, beyond their
 * schemas. The pod template's own rules are in pod.ts; a StatefulSet's claim templates in statefulset.ts.
 */
import type { PodTemplateSpec } from "../api/generated/index.js";
import type { CanaryAnalysis } from "../api/generated/rollout.js";
import { podView, type DaemonSet, type Deployment, type Pod, type ReplicaSet, type ReplicationController, type Rollout, type StatefulSet } from "../api/objects.js";
import type { LabelSelector } from "../api/generated/index.js";
import { fieldError, showValue, type Issue } from "./issue.js";
import type { PathSegment } from "./paths.js";
import { dropIgnoredPodFields, podTemplateIssues } from "./pod.js";
import { isEmptySelector, selectorIssues, unmetRequirements } from "./selector.js";
import { statefulSetFieldIssues, withClaimVolumes } from "./statefulset.js";

/** Kubernetes' (and Argo's) default for maxSurge and maxUnavailable. */
const DEFAULT_ROLLING_PERCENT = "25%";

type Path = readonly PathSegment[];

/** The workloads that keep replicas running (a Job's rules are in job.ts). */
type Replicated = DaemonSet | Deployment | ReplicaSet | ReplicationController | Rollout | StatefulSet;

/**
 * The most pods one workload may ask for (replicas, an autoscaler's maxReplicas). Kubernetes allows any
 * int32 and creates missing pods in slow-start batches; coxswain plans them in one pass, is measured up to
 * 10,000 pods (test/integration/operator/pod-names.test.ts), and a Deployment of 2,000,000 replicas held
 * the operator's event loop for minutes (no /healthz, no other commit).
 */
export const MAX_REPLICAS = 10_000;

/** Rules shared by the workloads that keep replicas running: selector, template, deadlines, the replica bound. */
function workloadIssues(w: Replicated): Issue[] {
  const issues: Issue[] = [];
  const spec = w.spec;
  const noun = `a ${w.kind}`;

  const replicas = "replicas" in spec ? spec.replicas : undefined;
  if (replicas !== undefined && replicas > MAX_REPLICAS) {
    issues.push(
      fieldError(
        "InvalidField",
        ["spec", "replicas"],
        `must be at most ${MAX_REPLICAS.toLocaleString("en-US")}: coxswain plans a workload's pods in one pass and runs at most that many of one workload — split it into several (got ${replicas})`,
      ),
    );
  }

  const selectorPath = ["spec", "selector"];
  const selector = selectorOf(w);
  if (selector === undefined) {
    // A ReplicationController without a selector gets its template's labels (applyWorkloadDefaults).
    if (isEmptyMap(spec.template.metadata.labels)) {
      issues.push(fieldError("InvalidField", ["spec", "template", "metadata", "labels"], `must not be empty when spec.selector is omitted: ${noun} selects its pods by these labels (as in Kubernetes)`));
    }
  } else if (isEmptySelector(selector)) {
    issues.push(fieldError("InvalidField", selectorPath, `empty selector is invalid for ${noun} (as in Kubernetes): give matchLabels or matchExpressions that select the template's labels`));
  } else {
    const bad = selectorIssues(selector, selectorPath);
    issues.push(...bad);
    // Kubernetes: "`selector` does not match template `labels`". Only meaningful for a valid selector.
    const unmet = bad.length === 0 ? unmetRequirements(selector, spec.template.metadata.labels) : [];
    if (unmet.length > 0) {
      issues.push(
        fieldError(
          "InvalidField",
          ["spec", "template", "metadata", "labels"],
          `selector does not match template labels: every requirement of spec.selector must hold for spec.template.metadata.labels; unmet: ${unmet.join(", ")}`,
        ),
      );
    }
  }

  const deadline = "progressDeadlineSeconds" in spec ? spec.progressDeadlineSeconds : undefined;
  const minReady = spec.minReadySeconds ?? 0;
  if (deadline !== undefined && deadline <= minReady) {
    issues.push(fieldError("InvalidField", ["spec", "progressDeadlineSeconds"], `must be greater than minReadySeconds (${minReady}), as in Kubernetes (got ${deadline})`));
  }
  const policy = spec.template.spec.restartPolicy;
  if (policy !== undefined && policy !== "Always") {
    issues.push(fieldError("InvalidField", ["spec", "template", "spec", "restartPolicy"], `must be Always for ${noun} (as in Kubernetes; OnFailure and Never are for Jobs) (got ${showValue(policy)})`));
  }
  // A StatefulSet's volumeMounts may name its claim templates: they are volumes of each of its pods.
  issues.push(...podTemplateIssues(w.kind === "StatefulSet" ? withClaimVolumes(w, 0) : spec.template, ["spec", "template"]));
  return issues;
}

/** A workload's selector as a LabelSelector (a ReplicationController's plain map as matchLabels); undefined: to be defaulted. */
function selectorOf(w: Replicated): LabelSelector | undefined {
  if (w.kind !== "ReplicationController") return w.spec.selector;
  return isEmptyMap(w.spec.selector) ? undefined : { matchLabels: w.spec.selector! };
}

function isEmptyMap(m: Readonly<Record<string, string>> | undefined): boolean {
  return m === undefined || Object.keys(m).length === 0;
}

/** Rules for a ReplicaSet or a ReplicationController beyond its schema (selector, template). */
export function replicaSetIssues(w: ReplicaSet | ReplicationController): Issue[] {
  return workloadIssues(w);
}

/** Rules for a StatefulSet beyond its schema. */
export function statefulSetIssues(s: StatefulSet): Issue[] {
  return [...workloadIssues(s), ...statefulSetFieldIssues(s)];
}

/** Rules for a Deployment beyond its schema. */
export function deploymentIssues(d: Deployment): Issue[] {
  const issues = workloadIssues(d);
  const strategy = d.spec.strategy;
  if (strategy?.type === "Recreate" && strategy.rollingUpdate !== undefined) {
    issues.push(fieldError("InvalidField", ["spec", "strategy", "rollingUpdate"], "may not be specified when strategy `type` is 'Recreate' (as in Kubernetes)"));
  } else if (strategy?.rollingUpdate) {
    issues.push(...surgeIssues(strategy.rollingUpdate, ["spec", "strategy", "rollingUpdate"]));
  }
  return issues;
}

/** Rules for a DaemonSet beyond its schema: rollingUpdate only with RollingUpdate, maxSurge and maxUnavailable as Kubernetes checks them. */
export function daemonSetIssues(d: DaemonSet): Issue[] {
  const issues = workloadIssues(d);
  const strategy = d.spec.updateStrategy;
  if (strategy?.type === "OnDelete" && strategy.rollingUpdate !== undefined) {
    issues.push(fieldError("InvalidField", ["spec", "updateStrategy", "rollingUpdate"], "may not be specified when updateStrategy `type` is 'OnDelete' (as in Kubernetes)"));
  } else if (strategy?.rollingUpdate) {
    issues.push(...surgeIssues(strategy.rollingUpdate, ["spec", "updateStrategy", "rollingUpdate"]));
  }
  return issues;
}

/** Rules for a Rollout beyond its schema (Argo Rollouts' validation, for the fields coxswain supports). */
export function rolloutIssues(r: Rollout): Issue[] {
  const issues = workloadIssues(r);
  const strategy = r.spec.strategy;
  const path = ["spec", "strategy"];
  if (strategy.canary === undefined && strategy.blueGreen === undefined) {
    issues.push(fieldError("InvalidField", path, "must have exactly one of canary or blueGreen (got neither)"));
  } else if (strategy.canary !== undefined && strategy.blueGreen !== undefined) {
    issues.push(fieldError("InvalidField", path, "must have exactly one of canary or blueGreen (got both; Argo: Multiple Strategies can not be listed)"));
  } else if (strategy.canary) {
    const canary = strategy.canary;
    issues.push(...surgeIssues(canary, [...path, "canary"]));
    let weight = 0;
    (canary.steps ?? []).forEach((step, i) => {
      const stepPath = [...path, "canary", "steps", i];
      const kinds = (["setWeight", "pause", "analysis"] as const).filter((k) => step[k] !== undefined);
      if (kinds.length !== 1) {
        issues.push(fieldError("InvalidField", stepPath, `a step must have exactly one of setWeight, pause or analysis (got ${kinds.length === 0 ? "none" : kinds.join(" and ")})`));
      }
      if (step.setWeight !== undefined) weight = step.setWeight;
      if (step.analysis !== undefined) issues.push(...analysisIssues(step.analysis, [...stepPath, "analysis"], weight));
      const duration = step.pause?.duration;
      if (duration !== undefined && pauseDurationSeconds(duration) === undefined) {
        issues.push(fieldError("InvalidField", [...stepPath, "pause", "duration"], `must be a non-negative number of seconds, or a duration like "30s", "5m", "1h" or "1h30m" (got ${showValue(duration)})`));
      }
    });
  } else if (strategy.blueGreen) {
    const bg = strategy.blueGreen;
    if (bg.autoPromotionEnabled === false && bg.autoPromotionSeconds !== undefined) {
      issues.push({
        code: "InvalidField",
        severity: "warning",
        path: [...path, "blueGreen", "autoPromotionSeconds"],
        at: "value",
        message: "is ignored because autoPromotionEnabled is false (as in Argo Rollouts): promotion waits for the coxswain.io/promote annotation",
      });
    }
  }
  return issues;
}

/**
 * A canary analysis step: an interval of at least a second, a latency check with a limit; a warning when
 * the weight in effect is 0 (no pod of the new revision takes requests, so every window is inconclusive).
 */
function analysisIssues(a: CanaryAnalysis, path: Path, weight: number): Issue[] {
  const issues: Issue[] = [];
  const interval = a.interval === undefined ? undefined : pauseDurationSeconds(a.interval);
  if (a.interval !== undefined && (interval === undefined || interval < 1)) {
    issues.push(fieldError("InvalidField", [...path, "interval"], `must be at least 1 second: seconds as an integer, or a duration like "30s", "1m" or "1m30s" (got ${showValue(a.interval)})`));
  }
  if (a.latencyP95 !== undefined && a.latencyP95.maxMs === undefined && a.latencyP95.maxRatio === undefined) {
    issues.push(fieldError("InvalidField", [...path, "latencyP95"], "must have maxMs, maxRatio or both: the highest p95 in milliseconds, or the highest ratio to the stable revision's p95"));
  }
  if (weight === 0) {
    issues.push({
      code: "InvalidField",
      severity: "warning",
      path: [...path],
      at: "key",
      message: "measures nothing: the weight in effect here is 0 (no setWeight above 0 before it), so no pod of the new revision takes requests and every window is inconclusive",
    });
  }
  return issues;
}

/** maxSurge / maxUnavailable: form, maxUnavailable ≤ 100%, not both 0. */
function surgeIssues(ru: { maxSurge?: number | string; maxUnavailable?: number | string }, path: Path): Issue[] {
  const issues: Issue[] = [];
  const surge = checkIntOrPercent(ru.maxSurge, [...path, "maxSurge"], false, issues);
  const unavailable = checkIntOrPercent(ru.maxUnavailable, [...path, "maxUnavailable"], true, issues);
  if (surge === 0 && unavailable === 0) {
    issues.push(fieldError("InvalidField", [...path, "maxUnavailable"], "may not be 0 when maxSurge is 0: a rollout could never replace a pod (as in Kubernetes)"));
  }
  return issues;
}

/** Returns the absolute value when it is a plain integer (or the percentage), and checks the form. */
function checkIntOrPercent(v: number | string | undefined, path: Path, capAt100: boolean, issues: Issue[]): number | undefined {
  if (v === undefined) return undefined;
  if (typeof v === "number") {
    if (!Number.isInteger(v) || v < 0) {
      issues.push(fieldError("InvalidField", path, `must be a non-negative integer or a percentage like "25%" (got ${showValue(v)})`));
      return undefined;
    }
    return v;
  }
  const pct = Number(v.slice(0, -1));
  if (v.endsWith("%")) {
    if (capAt100 && pct > 100) issues.push(fieldError("InvalidField", path, `must not be greater than 100% (got ${showValue(v)})`));
    return pct;
  }
  // A bare digit string ("1") is a percentage-less string: Kubernetes rejects it, it must be a number or "N%".
  issues.push(fieldError("InvalidField", path, `a string must be a percentage like "25%"; write a number without quotes (got ${showValue(v)})`));
  return undefined;
}

const GO_DURATION_UNITS: Readonly<Record<string, number>> = { ns: 1e-9, us: 1e-6, µs: 1e-6, ms: 1e-3, s: 1, m: 60, h: 3600 };

/**
 * A canary pause's duration in whole seconds, as Argo Rollouts reads it (RolloutPause.DurationSeconds): an
 * integer is seconds; a string is an integer ("30") or a Go duration ("30s", "5m", "1h30m", "1.5h"),
 * truncated to seconds. Undefined for anything else, negative values, or more than 2^31 − 1 seconds. (Go also
 * takes a leading "+" and a Greek mu in "μs"; coxswain does not, so that rollout/params.ts reads every
 * duration this accepts.)
 */
export function pauseDurationSeconds(duration: number | string): number | undefined {
  let seconds: number;
  if (typeof duration === "number") seconds = duration;
  else if (/^[0-9]+$/.test(duration)) seconds = Number(duration);
  else {
    const s = duration;
    const part = /([0-9]*(?:\.[0-9]*)?)(ns|us|µs|ms|s|m|h)/y;
    let total = 0;
    let i = 0;
    while (i < s.length) {
      part.lastIndex = i;
      const m = part.exec(s);
      if (!m || m[1] === "" || m[1] === ".") return undefined;
      total += Number(m[1]) * GO_DURATION_UNITS[m[2]!]!;
      i = part.lastIndex;
    }
    if (s.length === 0) return undefined;
    seconds = Math.trunc(total + 1e-9);
  }
  return Number.isInteger(seconds) && seconds >= 0 && seconds <= 2147483647 ? seconds : undefined;
}

/**
 * Defaults a JSON schema cannot express for workloads, in place: Deployment strategy RollingUpdate with 25%/25%
 * (also when strategy is omitted), DaemonSet updateStrategy RollingUpdate with maxUnavailable 1 and maxSurge 0, StatefulSet updateStrategy RollingUpdate with partition 0, a canary's maxSurge/maxUnavailable 25%/25%, a ReplicationController's
 * omitted selector (its template's labels), and, in the pod template, a
 * resource limit without a request makes the request equal to the limit (Kubernetes does this when it creates
 * the pods; coxswain has no pod objects, so it happens in the template, where the scheduler reads requests).
 * The template's ignored fields (serviceAccountName, dnsPolicy, …: pod.ts) are dropped.
 */
export function applyWorkloadDefaults(w: Replicated): void {
  dropIgnoredPodFields(w.spec.template);
  if (w.kind === "Deployment") {
    const strategy = (w.spec.strategy ??= {});
    strategy.type ??= "RollingUpdate";
    if (strategy.type === "RollingUpdate") {
      const ru = (strategy.rollingUpdate ??= {});
      ru.maxSurge ??= DEFAULT_ROLLING_PERCENT;
      ru.maxUnavailable ??= DEFAULT_ROLLING_PERCENT;
    }
  } else if (w.kind === "DaemonSet") {
    const strategy = (w.spec.updateStrategy ??= {});
    strategy.type ??= "RollingUpdate";
    if (strategy.type === "RollingUpdate") {
      const ru = (strategy.rollingUpdate ??= {});
      ru.maxUnavailable ??= 1;
      ru.maxSurge ??= 0;
    }
  } else if (w.kind === "StatefulSet") {
    // Kubernetes' defaults: RollingUpdate with partition 0.
    const strategy = (w.spec.updateStrategy ??= {});
    strategy.type ??= "RollingUpdate";
    if (strategy.type === "RollingUpdate") (strategy.rollingUpdate ??= {}).partition ??= 0;
  } else if (w.kind === "ReplicationController") {
    // Kubernetes: an omitted (or empty) selector is the template's labels.
    if (isEmptyMap(w.spec.selector)) w.spec.selector = { ...w.spec.template.metadata.labels };
  } else if (w.kind === "Rollout" && w.spec.strategy.canary) {
    const canary = w.spec.strategy.canary;
    canary.maxSurge ??= DEFAULT_ROLLING_PERCENT;
    canary.maxUnavailable ??= DEFAULT_ROLLING_PERCENT;
  }
  defaultRequestsFromLimits(w.spec.template);
}

/** A container's limit without a request makes the request equal to the limit, in place (see applyWorkloadDefaults). */
export function defaultRequestsFromLimits(template: PodTemplateSpec): void {
  for (const c of [...(template.spec.initContainers ?? []), ...template.spec.containers]) {
    const limits = c.resources?.limits;
    if (!limits || !c.resources) continue;
    const requests = (c.resources.requests ??= {});
    // Every resource, as Kubernetes does: cpu, memory, ephemeral-storage and extended resources.
    for (const [name, q] of Object.entries(limits)) if (q !== undefined) requests[name] ??= q;
  }
}

/**
 * Rules for a bare Pod beyond its schema: the pod template's rules of pod.ts on its view (manifest paths
 * metadata.… and spec.…, not spec.template.…).
 */
export function podIssues(pod: Pod): Issue[] {
  return podTemplateIssues(podView(pod).spec.template, []);
}

/**
 * A bare Pod's defaults, in place: the pod template's (the view shares the Pod's spec) — but a restartPolicy
 * OnFailure or Never kept, which decides what the kubelet does with its containers and whether the Pod ends
 * (Succeeded or Failed); Always, the default, is dropped so that writing it out makes no new revision.
 */
export function applyPodDefaults(pod: Pod): void {
  const template = podView(pod).spec.template;
  const policy = template.spec.restartPolicy;
  dropIgnoredPodFields(template);
  if (policy === "OnFailure" || policy === "Never") template.spec.restartPolicy = policy;
  defaultRequestsFromLimits(template);
}
